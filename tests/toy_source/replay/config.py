"""The ``data`` block of ``data=replay``."""

from __future__ import annotations

from dataclasses import dataclass

from neuralgraph.errors import ConfigError


@dataclass
class ReplayData:
    """A dataset file (``.npz``) in the family's own array names, simulated somewhere else."""

    path: str = ""  # the .npz file to replay
    has_truth: bool = True  # whether the file holds the ground truth the family scores against

    def __post_init__(self) -> None:
        if not self.path.endswith(".npz"):
            raise ConfigError(f"data.path={self.path!r}: data=replay reads a .npz file")


SCHEMA = ReplayData
