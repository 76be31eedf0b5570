"""The interface a system family implements, and the registry that finds it by name.

A family ties together the four steps of a run:

1. ``simulate(sim_cfg) -> arrays`` — the ground truth, as numpy arrays (cached by config hash);
2. ``build(arrays, cfg, device) -> (model, data)`` — the GNN that mirrors the system, and the
   training tensors on the device;
3. ``regularizers``, ``param_groups`` — what the shared trainer needs beyond the data loss;
4. ``evaluate`` / ``plot`` — recovered parameters scored against the truth, and figures.

The shared trainer (:mod:`neuralgraph.trainer`) does the rest: batches of frames as one tensor,
Adam with named learning-rate groups, divergence checks, progress bar.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from omegaconf import DictConfig

from neuralgraph.errors import ConfigError


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


class Family(ABC):
    """A simulated system: its simulator, GNN, regularisers, metrics and plots."""

    #: Name used in ``simulation.family`` and in cache folders.
    name: str = ""
    #: The metric a sweeper maximises by default, and the one shown live in the progress bar.
    primary_metric: str = ""

    def validate(self, cfg: DictConfig) -> None:
        """Raise :class:`ConfigError` naming the key when values are inconsistent."""

    @abstractmethod
    def simulate(self, sim_cfg: DictConfig) -> dict[str, np.ndarray]:
        """Simulate the ground truth; every array needed later (truth included) goes in the dict."""

    @abstractmethod
    def build(
        self, arrays: Mapping[str, np.ndarray], cfg: DictConfig, device: torch.device
    ) -> tuple[torch.nn.Module, TrainData]:
        """The model to train and the training tensors."""

    @abstractmethod
    def param_groups(self, model: torch.nn.Module, train_cfg: DictConfig) -> list[dict[str, Any]]:
        """Adam parameter groups, each with a ``name`` and an ``lr``."""

    def regularizers(
        self, model: torch.nn.Module, batch: Mapping[str, torch.Tensor], pred: torch.Tensor,
        train_cfg: DictConfig, epoch: int,
    ) -> dict[str, torch.Tensor]:
        """Named regularisation terms (already multiplied by their coefficients)."""
        return {}

    def after_step(self, model: torch.nn.Module, train_cfg: DictConfig) -> None:
        """Projection applied after each optimiser step (e.g. a sign constraint)."""

    def live_metric(self, model: torch.nn.Module, arrays: Mapping[str, np.ndarray]) -> float:
        """Cheap recovery score shown in the progress bar (the primary metric, roughly)."""
        return float("nan")

    @abstractmethod
    def evaluate(
        self, model: torch.nn.Module, arrays: Mapping[str, np.ndarray], cfg: DictConfig,
        device: torch.device,
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(metrics, arrays)``: scalar metrics and the true/recovered arrays for results.npz."""

    def plot(
        self, model: torch.nn.Module, arrays: Mapping[str, np.ndarray], results: Mapping[str, np.ndarray],
        metrics: Mapping[str, Any], history: Mapping[str, list], plot_dir: Path, cfg: DictConfig,
    ) -> None:
        """Write PNG figures into ``plot_dir``."""


_FAMILIES: dict[str, Family] = {}
#: Families imported on first use, so a metabolism run never imports the flyvis code.
_MODULES = {
    "metabolism": "neuralgraph.families.metabolism",
    "signal": "neuralgraph.families.signal",
    "flyvis": "neuralgraph.families.flyvis",
}


def register_family(family: Family) -> Family:
    _FAMILIES[family.name] = family
    return family


def get_family(name: str) -> Family:
    if name not in _FAMILIES and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in _FAMILIES:
        known = ", ".join(sorted(set(_FAMILIES) | set(_MODULES)))
        raise ConfigError(f"simulation.family={name!r} is unknown; use one of: {known}")
    return _FAMILIES[name]
