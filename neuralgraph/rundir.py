"""The run directory: the contract every reader (people, sweepers, notebooks, report) relies on.

A run directory holds

- ``analysis.log`` — one ``key: value`` line per metric (the users' historic format);
- ``metrics.json`` — the same metrics plus ``status`` and ``error``;
- ``metrics.csv`` — the learning curves, one row per record (see :mod:`neuralgraph.curves`);
- ``results.npz`` — true and recovered arrays, so any metric can be recomputed independently;
- ``plots/`` — PNG figures;
- ``model.pt`` — the model's weights, the config it was built from and the training state a
  stopped run continues from (see :mod:`neuralgraph.checkpoint`);
- ``tensorboard/`` — TensorBoard event files, with ``tensorboard=true``;
- ``train.log`` and ``.hydra/`` — Hydra's job log and its record of the config and overrides.

Every file is written through :mod:`neuralgraph.io` (temporary name, then rename), so a reader
never sees a half-written file; files get the permissions the umask allows, like any other.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from neuralgraph.io import atomic_path, write_json, write_text

ANALYSIS_LOG = "analysis.log"
METRICS_JSON = "metrics.json"
RESULTS_NPZ = "results.npz"
MODEL_PT = "model.pt"
PLOTS_DIR = "plots"
METRICS_CSV = "metrics.csv"
TENSORBOARD_DIR = "tensorboard"


def format_value(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


def write_metrics(run_dir: str | os.PathLike, metrics: Mapping[str, Any]) -> None:
    """Write ``analysis.log`` and ``metrics.json`` from one metrics mapping."""
    run_dir = Path(run_dir)
    lines = [f"{key}: {format_value(value)}" for key, value in metrics.items() if value is not None]
    write_text(run_dir / ANALYSIS_LOG, "\n".join(lines) + "\n")
    write_json(run_dir / METRICS_JSON, dict(metrics))


def write_results(run_dir: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    with atomic_path(Path(run_dir) / RESULTS_NPZ) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **{k: np.asarray(v) for k, v in arrays.items()})


def read_metrics(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Metrics of a finished run, from ``metrics.json``."""
    return json.loads((Path(run_dir) / METRICS_JSON).read_text())


def read_analysis_log(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Parse ``analysis.log`` (``key: value`` lines); numbers become floats."""
    out: dict[str, Any] = {}
    for line in (Path(run_dir) / ANALYSIS_LOG).read_text().splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.strip()
        try:
            out[key.strip()] = float(value)
        except ValueError:
            out[key.strip()] = value
    return out


def read_results(run_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    with np.load(Path(run_dir) / RESULTS_NPZ, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def read_curves(run_dir: str | os.PathLike) -> "pandas.DataFrame":  # noqa: F821 (imported on use)
    """The learning curves of a run, ``metrics.csv``, as a pandas DataFrame (one row per record)."""
    import pandas

    return pandas.read_csv(Path(run_dir) / METRICS_CSV)
