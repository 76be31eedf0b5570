"""``model.pt``: the trained weights, and everything needed to continue a stopped run.

    {"state_dict": the model's weights,
     "config":     the composed config it was built from, as YAML,
     "step":       steps taken,
     "training":   the loop's state (optimiser, schedule, step, frame sampler, random generators,
                   running loss sums, curves; see neuralgraph.trainer)}

It is rewritten at the run's checkpoints (``training.n_checkpoints`` evenly spaced steps, and
every ``checkpoint_every_min`` minutes of training, so that a killed long run loses minutes), when
a signal stops the run, and at the end. The ``resume`` key says where a run starts:

- ``auto`` (default): from this run directory's ``model.pt`` when it holds an unfinished run of the
  same config (stopped by a signal, a kill, a SLURM time limit), else from step 0;
- ``true``: from this run directory's ``model.pt``, which must exist and match;
- ``false``: from step 0;
- a path (a ``model.pt`` or a run directory): from that checkpoint, which must match.

"Match" means the same ``simulation``, ``model`` and ``training`` blocks: anything else (device,
plots, progress, threads, checkpoint_every_min) may change between the sessions of a run.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Mapping

import torch
import yaml

from neuralgraph.datacache import file_digests
from neuralgraph.errors import ConfigError
from neuralgraph.io import atomic_path
from neuralgraph.rundir import MODEL_PT

log = logging.getLogger(__name__)

#: The blocks two sessions of one run must share.
MATCHED_BLOCKS = ("simulation", "model", "training", "inputs")


def inputs_yaml(cfg: Any) -> str:
    """An ``inputs:`` block with the sha256 of every file the run reads (the simulation's ``*_file``
    keys, a recording's ``*path`` keys), appended to the config a checkpoint stores: a file
    overwritten between two sessions makes the run start afresh (or refuse ``resume=true``)
    instead of continuing a fit of other data."""
    digests = {f"simulation.{k}": v for k, v in file_digests(vars(cfg.simulation)).items()}
    data = getattr(cfg, "data", None)
    if data is not None and dataclasses.is_dataclass(data):
        digests.update({f"data.{k}": v for k, v in file_digests(vars(data), ("path",)).items()})
    return yaml.safe_dump({"inputs": digests}) if digests else ""


def save(path: str | Path, model: torch.nn.Module, config_yaml: str, training: Mapping[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "config": config_yaml, "step": int(training["step"]),
                    "training": dict(training)}, tmp)


def load(path: str | Path) -> dict[str, Any]:
    """A checkpoint, on the CPU (tensors only: no code runs while loading)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def differing_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested mappings."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return [] if a == b else [prefix or "<root>"]
    out: list[str] = []
    for key in sorted(set(a) | set(b), key=str):
        name = f"{prefix}.{key}" if prefix else str(key)
        if key not in a or key not in b:
            out.append(name)
        else:
            out.extend(differing_keys(a[key], b[key], name))
    return out


def mismatch(saved_yaml: str, config_yaml: str) -> list[str]:
    """Keys of the matched blocks on which a checkpoint's config and this run's differ."""
    saved, current = yaml.safe_load(saved_yaml) or {}, yaml.safe_load(config_yaml) or {}
    return [key for block in MATCHED_BLOCKS for key in differing_keys(saved.get(block), current.get(block), block)]


def _unfinished(ckpt: Mapping[str, Any]) -> bool:
    state = ckpt.get("training")
    return bool(state) and state["status"] == "ok" and int(state["step"]) < int(state["total"])


def _source(resume: str, run_dir: Path) -> tuple[Path | None, bool]:
    """``(checkpoint file or None, required)`` for a value of the ``resume`` key."""
    word = str(resume).strip().lower()
    if word in ("", "false", "no", "0"):
        return None, False
    if word in ("auto", "true", "yes", "1"):
        return run_dir / MODEL_PT, word != "auto"
    path = Path(resume).expanduser()
    return (path / MODEL_PT if path.is_dir() else path), True


def to_resume(resume: str, run_dir: str | Path, config_yaml: str) -> dict[str, Any] | None:
    """The checkpoint this run continues from (see the module docstring), or None for step 0."""
    path, required = _source(resume, Path(run_dir))
    if path is None:
        return None
    if not path.is_file():
        if required:
            raise ConfigError(f"resume={resume}: there is no checkpoint {path}")
        return None
    ckpt = load(path)
    if required and not ckpt.get("training"):
        raise ConfigError(f"resume={resume}: {path} holds weights but no training state to continue from")
    if not required and not _unfinished(ckpt):
        return None
    keys = mismatch(ckpt["config"], config_yaml)
    if keys:
        if required:
            raise ConfigError(f"resume={resume}: {path} was made with other settings: {', '.join(keys[:8])}")
        log.info("not resuming from %s: it was made with other settings (%s)", path, ", ".join(keys[:8]))
        return None
    log.info("resuming from %s at step %d", path, ckpt["step"])
    return ckpt
