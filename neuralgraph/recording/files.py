"""Reading a recording's arrays from a file, whatever its format; the checks are in :mod:`.validate`.

Names of the arrays (keys of an ``.npz`` or datasets of an ``.h5``; see docs/recordings.md):

- ``x`` (samples, N) — activity, NaN where a sample is missing (required);
- ``t`` (samples,) — sample times; without them ``data.dt`` gives a regular spacing;
- ``trial`` (samples,) — integer trial label of each sample; a trial's samples are contiguous;
- ``mask`` (N, N) — known graph as a 0/1 matrix [post, pre], or ``edges`` (E, 2) rows (post, pre);
- ``types`` (N,) — integer node types;
- ``stimulus`` (samples, N) — external input, added to du_i/dt.

An ``.npy`` file holds ``x`` alone. A ``.csv`` file has a header row: columns ``t`` and ``trial``
if present, every other column one neuron (its header is the neuron's name), empty cells for
missing samples. The known graph, the types and the stimulus can also come from files of their own
(``data.graph_path``, ``data.types_path``, ``data.stimulus_path``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neuralgraph.errors import DataError

#: The arrays a recording file may hold.
KEYS = ("x", "t", "trial", "mask", "edges", "types", "stimulus")
SUFFIXES = (".npz", ".npy", ".csv", ".h5", ".hdf5")


def read_file(path: str | Path) -> dict[str, Any]:
    """``{name: array}`` from ``path`` (``names``: the neuron names of a CSV); unknown names refused."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file (data.path)")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unknown format {suffix or '(no suffix)'}; use one of {', '.join(SUFFIXES)}")
    try:
        if suffix == ".npz":
            fields = _npz(path)
        elif suffix == ".npy":
            fields = {"x": np.load(path, allow_pickle=False)}
        elif suffix == ".csv":
            fields = _csv(path)
        else:
            fields = _h5(path)
    except DataError:
        raise
    except Exception as err:  # a truncated or foreign file: say which, in one line
        raise DataError(f"{path}: cannot be read as {suffix}: {type(err).__name__}: {err}") from err
    unknown = sorted(set(fields) - set(KEYS) - {"names"})
    if unknown:
        raise DataError(f"{path}: unknown array(s) {', '.join(unknown)}; a recording holds {', '.join(KEYS)}")
    if "x" not in fields:
        raise DataError(f"{path}: no activity array `x` (samples x neurons)")
    return fields


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: np.asarray(data[key]) for key in data.files}


def _h5(path: Path) -> dict[str, np.ndarray]:
    try:
        import h5py
    except ImportError as err:
        raise DataError(f"{path}: reading .h5 needs h5py (pip install h5py), or save the arrays as .npz") from err
    with h5py.File(path, "r") as fh:
        return {key: np.asarray(fh[key]) for key in fh.keys()}


def _csv(path: Path) -> dict[str, Any]:
    import pandas as pd

    table = pd.read_csv(path, skipinitialspace=True)
    numeric = {}
    for col in table.columns:
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna() & table[col].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{path}: column {col!r}, row {row + 2}: {table[col].iloc[row]!r} is not a number")
        numeric[str(col)] = values.to_numpy(dtype=np.float64)
    fields: dict[str, Any] = {key: numeric.pop(key) for key in ("t", "trial") if key in numeric}
    if not numeric:
        raise DataError(f"{path}: no neuron columns (every column other than t and trial is a neuron)")
    fields["names"] = list(numeric)
    fields["x"] = np.stack(list(numeric.values()), axis=1)
    return fields


def read_side_file(path: str | Path, key: str) -> np.ndarray:
    """One array from ``data.<key>_path``: an ``.npy`` file, or a ``.csv`` with a header row."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file (data.{key}_path)")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".csv":
            import pandas as pd

            return pd.read_csv(path, skipinitialspace=True).to_numpy(dtype=np.float64)
    except Exception as err:
        raise DataError(f"{path}: cannot be read as {suffix} (data.{key}_path): {type(err).__name__}: {err}") from err
    raise DataError(f"{path}: data.{key}_path must be .npy or .csv, not {suffix or '(no suffix)'}")
