"""The parts a run composes, and how families are found.

A run is three parts (see also :mod:`neuralgraph.sources`):

- a **data source** (:class:`neuralgraph.sources.DataSource`) yields the arrays: a family's
  simulator, or a recording file;
- a **learner** (:class:`Learner`) fits them: the GNN that mirrors the system, its parameter
  groups and its objective (``build``, ``param_groups``, ``regularizers``, ``after_step``);
- a **scorer** (:class:`Scorer`) reads the recovered parameters out and scores them: against the
  truth where the data carry one, truth-free (held-out prediction) where they do not.

A :class:`Family` is one system (metabolism, neural signal, fly visual system, …): its simulator
(``simulate``, which the simulated source calls), its learner, its scorer against the truth, and
optionally (``truth_free``) the scorer of data without a truth. :func:`scorer_for` picks the
scorer from what the data carry, so nothing above asks where the data came from. The metric a run
is judged and rewarded on is named in one place, the regime's ``reward_key``.

Families hold no state between calls: everything a call needs arrives as an argument, everything
a trained model needs to be rebuilt is in its state dict, and per-run helpers (a periodic
least-squares solve) travel in the run's :class:`TrainData`, not on the model.

This module sits below the trainer and the families (it imports neither). Families are found
without a list to edit (:mod:`neuralgraph.discovery`): every sub-package of
:mod:`neuralgraph.families`, the ``neuralgraph.families`` entry-point group, and the packages named
in ``NEURALGRAPH_FAMILIES``. A family package holds ``config.py`` with ``SCHEMAS = {"simulation":
…, "model": …, "training": …}`` and ``family.py`` with ``FAMILY``, the :class:`Family` instance.
Only ``config.py`` is imported to compose a config; ``family.py`` when a run needs it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch

from neuralgraph.discovery import PluginKind
from neuralgraph.errors import ConfigError

#: Where families are found (built in, entry points, environment variable).
FAMILIES = PluginKind(builtin="neuralgraph.families", env_var="NEURALGRAPH_FAMILIES", what="simulation.family")


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
    #: Per-run helpers called with the model after each optimiser step, after the learner's own
    #: ``after_step`` (a periodic least-squares solve of W keeps its matrices here).
    after_step: list[Callable[[torch.nn.Module], None]] = field(default_factory=list)

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
class Observed:
    """Which arrays of a family's simulated dataset an instrument records, and how trials lie in them.

    ``state`` and ``derivative`` name the sampled states and the simulator's exact derivative, of
    shape (frames, N) with trials one after another (their start frames, and the end, in the array
    ``bounds``; None: one trial), or (runs, frames, N) when ``runs_axis``. The simulated source
    replaces both with what ``data.measurement_noise`` and ``data.derivative`` make of them.
    """

    state: str
    derivative: str
    runs_axis: bool = False
    bounds: str | None = None


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


class Learner(ABC):
    """Fits a family's model to the arrays of a dataset: the model, its groups, its objective."""

    def check(self, cfg: Any) -> None:
        """Raise :class:`ConfigError` naming the keys when settings of different blocks disagree.

        A range check on one key belongs in that key's dataclass (``__post_init__``), not here.
        """

    @abstractmethod
    def build(self, arrays: Mapping[str, np.ndarray], cfg: Any, device: torch.device) -> tuple[torch.nn.Module, TrainData]:
        """The model to train and the training tensors (per-run helpers in ``TrainData.after_step``)."""

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


class Scorer(ABC):
    """Reads the recovered parameters out of a trained model and scores them."""

    #: Metrics a run scored this way may be rewarded on (``reward_key``); empty: any it returns.
    rewards: tuple[str, ...] = ()

    def check_scoring(self, cfg: Any) -> None:
        """Raise :class:`ConfigError` when ``cfg`` cannot be scored this way (by default: a
        ``reward_key`` outside :attr:`rewards`)."""
        if self.rewards and cfg.reward_key not in self.rewards:
            raise ConfigError(f"reward_key={cfg.reward_key} is not a metric of this run; use one of "
                              f"{', '.join(self.rewards)}")

    def live_metric(self, model: torch.nn.Module, arrays: Mapping[str, np.ndarray]) -> float:
        """Cheap score shown in the progress bar and the learning curves (the reward, roughly)."""
        return float("nan")

    @abstractmethod
    def evaluate(
        self, model: torch.nn.Module, arrays: Mapping[str, np.ndarray], cfg: Any, device: torch.device,
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(metrics, results)``: scalar metrics and the arrays of ``results.npz``."""

    def plot(
        self, arrays: Mapping[str, np.ndarray], results: Mapping[str, np.ndarray], metrics: Mapping[str, Any],
        history: Mapping[str, list], plot_dir: Path, cfg: Any,
    ) -> None:
        """Write PNG figures into ``plot_dir`` from the dataset and ``results.npz``."""


class Family(Learner, Scorer):
    """A simulated system: its simulator, its learner, and its scorer against the truth.

    ``evaluate`` / ``live_metric`` / ``plot`` (the :class:`Scorer` part) compare the read-out with
    the simulation's truth; :attr:`truth_free` scores data that carry none (a recording).
    """

    #: Name used in ``simulation.family`` and in cache folders (the package's last name).
    name: str = ""
    #: The scorer of data without a ground truth (a recording); None: the family cannot fit such data yet.
    truth_free: Scorer | None = None
    #: The arrays an instrument would record (``data.derivative``); None: only exact derivatives.
    observed: Observed | None = None

    @abstractmethod
    def simulate(self, sim: Any) -> dict[str, np.ndarray]:
        """Simulate the ground truth; every array needed later (truth included) goes in the dict."""


def scorer_for(family: Family, has_truth: bool) -> Scorer:
    """The family's scorer against the truth, or its truth-free scorer for data without one."""
    if has_truth:
        return family
    if family.truth_free is None:
        able = [name for name in family_packages() if get_family(name).truth_free is not None]
        raise ConfigError(f"simulation.family={family.name} cannot be scored without a ground truth (a recording) "
                          f"yet; families that can: {', '.join(sorted(able)) or 'none'}")
    return family.truth_free


# ---- discovery ---------------------------------------------------------------------------------
def family_packages() -> dict[str, str]:
    """``{family name: package}`` of every family found (the environment variable wins on a clash)."""
    return FAMILIES.packages()


def family_schemas(name: str) -> dict[str, type]:
    """``{"simulation": …, "model": …, "training": …}`` dataclasses of the family ``name``."""
    return dict(FAMILIES.module(FAMILIES.package(name), "config").SCHEMAS)


@lru_cache(maxsize=None)
def _family(package: str) -> Family:
    return FAMILIES.member(package, "family", "FAMILY", Family)


def get_family(name: str) -> Family:
    """The family called ``name`` (imported on first use, so a metabolism run never imports flyvis)."""
    return _family(FAMILIES.package(name))
