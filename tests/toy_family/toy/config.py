"""Schemas of the toy family: each setting written once, with its range check beside it."""

from __future__ import annotations

from dataclasses import dataclass

from neuralgraph.config.base import TrainingBase, check_nonnegative, check_positive


@dataclass
class ToySimulation:
    """dx/dt = A·x with A = −γ·I + Ω (Ω skew-symmetric, entries ~ N(0, ω²/N)): damped rotations."""

    _section = "simulation"

    family: str = "toy"
    seed: int = 0  # draws A and the initial states
    n_nodes: int = 4
    n_runs: int = 4  # trajectories from independent initial states (so every direction is excited)
    n_frames: int = 100  # frames per trajectory
    delta_t: float = 0.05
    damping: float = 0.2  # γ
    rotation: float = 1.0  # ω

    def __post_init__(self) -> None:
        check_positive(self, "n_nodes", "n_runs", "n_frames", "delta_t")
        check_nonnegative(self, "damping", "rotation")


@dataclass
class ToyModel:
    """dx/dt = Â·x with Â learned, starting at ``init_scale``·N(0, 1/N)."""

    _section = "model"

    family: str = "toy"
    init_scale: float = 0.0

    def __post_init__(self) -> None:
        check_nonnegative(self, "init_scale")


@dataclass
class ToyTraining(TrainingBase):
    """The shared training keys plus the learning rate of Â and an L1 penalty on it."""

    batch_size: int = 16
    data_augmentation_loop: int = 50
    lr_A: float = 5e-2  # learning rate of Â (0 falls back to lr)
    coeff_A_L1: float = 0.0  # coeff · Σ|Â_ij|


SCHEMAS = {"simulation": ToySimulation, "model": ToyModel, "training": ToyTraining}
