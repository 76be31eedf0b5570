"""The interface a system family implements, and how families are found.

A family is one simulated system (metabolism, neural signal, fly visual system, …). It ties the
steps of a run together:

1. ``simulate(sim) -> arrays`` — the ground truth, as numpy arrays (cached by config hash);
2. ``build(arrays, cfg, device) -> (model, TrainData)`` — the GNN that mirrors the system, and the
   training tensors on the device;
3. ``param_groups``, ``regularizers``, ``after_step`` — what the shared trainer needs beyond the
   data loss;
4. ``evaluate`` — recovered parameters scored against the truth: scalar metrics and the arrays of
   ``results.npz`` (function curves included);
5. ``plot`` — figures drawn from the dataset and ``results.npz`` alone, never from the model.

Families hold no state between calls: everything a call needs arrives as an argument, and
everything a trained model needs to be rebuilt is in its state dict.

This module sits below the trainer and the families (it imports neither). Families are found
without a list to edit:

- every sub-package of :mod:`neuralgraph.families` (the built-in systems);
- the ``neuralgraph.families`` entry-point group of installed distributions
  (``toy = "mypackage.toy"`` in a ``pyproject.toml``);
- the importable packages named in the ``NEURALGRAPH_FAMILIES`` environment variable
  (comma-separated), for a family that is not installed.

A family package holds ``config.py`` with ``SCHEMAS = {"simulation": …, "model": …,
"training": …}`` (dataclasses registered in Hydra's ConfigStore under the package's last name)
and ``family.py`` with ``FAMILY``, the :class:`Family` instance. Only ``config.py`` is imported to
compose a config; ``family.py`` (torch models, simulators) is imported when a run needs it. A
family that can fit a measured recording (``data=recording``) also holds ``recording.py`` with
``RECORDING_FAMILY`` (:func:`get_recording_family`); the others refuse such a run in one line.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable, Mapping

import numpy as np
import torch

from neuralgraph.errors import ConfigError

#: Built-in families live in sub-packages of this package.
BUILTIN_PACKAGE = "neuralgraph.families"
ENTRY_POINT_GROUP = "neuralgraph.families"
ENV_VAR = "NEURALGRAPH_FAMILIES"


@dataclass
class TrainData:
    """Training tensors on the device.

    ``x`` is the observed state (frames, nodes[, features]); ``y`` the target derivative, same
    leading shape; ``extras`` holds per-frame inputs such as an external stimulus (frames, ...),
    sliced with the same frame indices as ``x``. ``target_scale`` (nodes,) divides the residual
    of each node in the data loss (1 when targets are not normalised).
    """

    x: torch.Tensor
    y: torch.Tensor
    target_scale: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.x.shape[0])

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """The frames ``idx`` as one batch: ``x`` (B, N, ...), ``y``, and the extras."""
        out = {"x": self.x[idx], "y": self.y[idx], "frame": idx}
        for key, value in self.extras.items():
            out[key] = value[idx]
        return out


@dataclass(frozen=True)
class TrainClock:
    """Where the trainer is: ``epoch`` (0-based), ``step`` (0-based over the run, the step being
    taken) and ``steps_per_epoch``. Regularisers that switch on during training read it."""

    epoch: int
    step: int
    steps_per_epoch: int


def steps_per_epoch(n_frames: int, data_augmentation_loop: int, batch_size: int) -> int:
    """The users' step count: ``int(n_frames · dal // batch_size · 0.2)``, at least 1 (here, below the
    trainer, so that a family can tell how many steps a run takes)."""
    return max(1, int(n_frames * data_augmentation_loop // batch_size * 0.2))


def adam_group(name: str, params: Iterable[torch.nn.Parameter], lr: float, fallback: float) -> dict[str, Any]:
    """A named Adam group; a learning rate of 0 means "use the fallback", as in the users' configs."""
    return {"name": name, "params": list(params), "lr": float(lr) if lr > 0 else float(fallback)}


class Family(ABC):
    """A simulated system: its simulator, GNN, regularisers, metrics and plots."""

    #: Name used in ``simulation.family`` and in cache folders (the package's last name).
    name: str = ""

    def primary_metric(self, cfg: Any) -> str:
        """The metric a sweeper maximises by default and the run's status is judged on."""
        raise NotImplementedError

    def check(self, cfg: Any) -> None:
        """Raise :class:`ConfigError` naming the keys when settings of different blocks disagree.

        A range check on one key belongs in that key's dataclass (``__post_init__``), not here.
        """

    @abstractmethod
    def simulate(self, sim: Any) -> dict[str, np.ndarray]:
        """Simulate the ground truth; every array needed later (truth included) goes in the dict."""

    @abstractmethod
    def build(self, arrays: Mapping[str, np.ndarray], cfg: Any, device: torch.device) -> tuple[torch.nn.Module, TrainData]:
        """The model to train and the training tensors."""

    @abstractmethod
    def param_groups(self, model: torch.nn.Module, training: Any) -> list[dict[str, Any]]:
        """Adam parameter groups, each with a ``name`` and an ``lr`` (see :func:`adam_group`)."""

    def regularizers(
        self, model: torch.nn.Module, batch: Mapping[str, torch.Tensor], pred: torch.Tensor,
        training: Any, clock: TrainClock,
    ) -> dict[str, torch.Tensor]:
        """Named regularisation terms (already multiplied by their coefficients).

        ``pred`` is the model's output on ``batch``, or None when the trainer back-propagates the
        batch in pieces (``training.micro_batch``).
        """
        return {}

    def after_step(self, model: torch.nn.Module, training: Any) -> None:
        """Projection applied after each optimiser step (e.g. a sign constraint)."""

    def live_metric(self, model: torch.nn.Module, arrays: Mapping[str, np.ndarray]) -> float:
        """Cheap recovery score shown in the progress bar (the primary metric, roughly)."""
        return float("nan")

    @abstractmethod
    def evaluate(
        self, model: torch.nn.Module, arrays: Mapping[str, np.ndarray], cfg: Any, device: torch.device,
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(metrics, results)``: scalar metrics and the true/recovered arrays for results.npz."""

    def plot(
        self, arrays: Mapping[str, np.ndarray], results: Mapping[str, np.ndarray], metrics: Mapping[str, Any],
        history: Mapping[str, list], plot_dir: Path, cfg: Any,
    ) -> None:
        """Write PNG figures into ``plot_dir`` from the dataset and ``results.npz``."""


# ---- discovery ---------------------------------------------------------------------------------
def _builtin_packages() -> dict[str, str]:
    base = importlib.import_module(BUILTIN_PACKAGE)
    return {info.name: f"{BUILTIN_PACKAGE}.{info.name}" for info in pkgutil.iter_modules(base.__path__) if info.ispkg}


def _entry_point_packages() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _env_packages() -> dict[str, str]:
    names = [n.strip() for n in os.environ.get(ENV_VAR, "").split(",") if n.strip()]
    return {n.rsplit(".", 1)[-1]: n for n in names}


def family_packages() -> dict[str, str]:
    """``{family name: package}`` of every family found (the environment variable wins on a clash)."""
    return {**_builtin_packages(), **_entry_point_packages(), **_env_packages()}


def _import(package: str, module: str) -> ModuleType:
    try:
        return importlib.import_module(f"{package}.{module}")
    except ModuleNotFoundError as err:
        if err.name in (package, f"{package}.{module}"):
            raise ConfigError(f"family package {package!r} has no {module}.py (or cannot be imported)") from err
        raise


def family_schemas(name: str) -> dict[str, type]:
    """``{"simulation": …, "model": …, "training": …}`` dataclasses of the family ``name``."""
    return dict(_import(_package_of(name), "config").SCHEMAS)


def _package_of(name: str) -> str:
    packages = family_packages()
    if name not in packages:
        raise ConfigError(f"simulation.family={name!r} is unknown; use one of: {', '.join(sorted(packages))}")
    return packages[name]


@lru_cache(maxsize=None)
def _family(package: str) -> Family:
    family = getattr(_import(package, "family"), "FAMILY", None)
    if not isinstance(family, Family):
        raise ConfigError(f"{package}.family must define FAMILY, an instance of neuralgraph.family.Family")
    return family


def get_family(name: str) -> Family:
    """The family called ``name`` (imported on first use, so a metabolism run never imports flyvis)."""
    return _family(_package_of(name))


#: The module of a family package that fits recordings, and the instance it defines.
RECORDING_MODULE, RECORDING_ATTRIBUTE = "recording", "RECORDING_FAMILY"


def recording_families() -> list[str]:
    """Names of the families whose package has a ``recording.py`` (they can fit a recording)."""
    return sorted(name for name, package in family_packages().items()
                  if importlib.util.find_spec(f"{package}.{RECORDING_MODULE}") is not None)


def get_recording_family(name: str) -> Family:
    """The family ``name`` fitted to a recording (``data=recording``): ``RECORDING_FAMILY`` of its
    package's ``recording.py``, a :class:`Family` that builds from the file's arrays and scores
    without a ground truth. A family without one is refused, naming those that have one."""
    package = _package_of(name)
    if importlib.util.find_spec(f"{package}.{RECORDING_MODULE}") is None:
        raise ConfigError(f"data=recording is not supported for simulation.family={name} yet (its package has no "
                          f"{RECORDING_MODULE}.py); families that fit recordings: {', '.join(recording_families())}")
    family = getattr(_import(package, RECORDING_MODULE), RECORDING_ATTRIBUTE, None)
    if not isinstance(family, Family):
        raise ConfigError(f"{package}.{RECORDING_MODULE} must define {RECORDING_ATTRIBUTE}, a neuralgraph.family.Family")
    return family
