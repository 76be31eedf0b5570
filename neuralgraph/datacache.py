"""Simulated datasets cached by a hash of their simulation config.

A sweep of many training runs on one regime simulates once: the first run writes
``<cache_dir>/datasets/<family>-<hash>/data.npz`` and later runs load it. The hash covers the
simulation config (resolved, with every default filled in) and :data:`FORMAT_VERSION`, so a change
of the on-disk layout or of the simulator's meaning invalidates old entries. It also covers the
**contents** of every input file the config names (each non-empty key ending in ``_file``: a
connectivity, a connectome, a stoichiometry): overwrite the file and the next run simulates
again, rather than training against the old matrix. A corrupt entry is reported, deleted and
regenerated, never trusted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
from omegaconf import DictConfig, OmegaConf

from neuralgraph.io import atomic_path

log = logging.getLogger(__name__)

#: Bump when the arrays a simulator writes change meaning or layout.
FORMAT_VERSION = 1


def _plain(sim_cfg: Any) -> Any:
    """A simulation config (dataclass, DictConfig or mapping) as plain JSON-able containers."""
    if dataclasses.is_dataclass(sim_cfg):
        sim_cfg = OmegaConf.structured(sim_cfg)
    if isinstance(sim_cfg, DictConfig):
        sim_cfg = OmegaConf.to_container(sim_cfg, resolve=True, enum_to_str=True)
    return sim_cfg


def file_digests(sim_cfg: Mapping[str, Any], suffixes: tuple[str, ...] = ("_file",)) -> dict[str, str]:
    """``{key: sha256 of the file's bytes}`` for every non-empty key ending in one of ``suffixes``
    ("missing" if the file is absent).

    A missing file hashes as such; the simulator then says what is wrong with it.
    """
    digests = {}
    for key, value in sim_cfg.items():
        if not (key.endswith(suffixes) and isinstance(value, str) and value):
            continue
        path = Path(value).expanduser()
        if not path.is_file():
            digests[key] = "missing"
            continue
        sha = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                sha.update(block)
        digests[key] = sha.hexdigest()
    return digests


def config_hash(sim_cfg: Any) -> str:
    """Stable hash of a simulation config and the contents of its input files (key order does not matter)."""
    sim_cfg = _plain(sim_cfg)
    content: dict[str, Any] = {"format": FORMAT_VERSION, "simulation": sim_cfg}
    files = file_digests(sim_cfg)
    if files:  # configs without input files keep the hashes (and cache entries) they always had
        content["files"] = files
    blob = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def dataset_dir(cache_dir: str | Path, family: str, sim_cfg: Any) -> Path:
    return Path(cache_dir).expanduser() / "datasets" / f"{family}-{config_hash(sim_cfg)}"


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    for key, arr in arrays.items():
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ValueError(f"array {key!r} holds NaN or inf")
    return arrays


def load_or_simulate(
    cache_dir: str | Path,
    family: str,
    sim_cfg: Any,
    simulate: Callable[[Any], Mapping[str, np.ndarray]],
) -> tuple[dict[str, np.ndarray], Path, bool]:
    """Return ``(arrays, folder, from_cache)``, simulating and caching on a miss."""
    folder = dataset_dir(cache_dir, family, sim_cfg)
    data_file = folder / "data.npz"
    if data_file.exists():
        try:
            return _load(data_file), folder, True
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
            log.warning("cached dataset %s is unreadable (%s); simulating it again", data_file, err)
            data_file.unlink(missing_ok=True)
    arrays = {key: np.asarray(value) for key, value in simulate(sim_cfg).items()}
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(data_file) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    with atomic_path(folder / "simulation.yaml") as tmp:
        tmp.write_text(OmegaConf.to_yaml(_plain(sim_cfg)))
    return arrays, folder, False
