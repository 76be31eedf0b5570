"""The ``data`` block of ``data=recording data.path=FILE``: the file and how to prepare it.

The source that reads it is :mod:`neuralgraph.sources.recording`; the default ``data=simulated``
(:mod:`neuralgraph.sources.simulated`) has no keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import List

from neuralgraph.config.base import check_nonnegative, check_positive, check_range
from neuralgraph.errors import ConfigError


class Derivative(str, Enum):
    """How du/dt is estimated from the samples (:mod:`neuralgraph.recording.derivative`)."""

    spline = "spline"  # cubic smoothing spline per neuron and segment; irregular times and gaps allowed
    savgol = "savgol"  # Savitzky-Golay filter; regular sampling without missing samples only
    finite_difference = "finite_difference"  # central differences of the raw samples (noise-free data)


@dataclass
class RecordingData:
    """A recording read from ``path``; the file format is in docs/recordings.md."""

    _section = "data"

    path: str = ""  # the activity file: .npz, .npy, .csv (or .h5 with h5py installed)
    dt: float = 0.0  # sampling interval when the file has no timestamps (.npy, or no `t`)
    graph_path: str = ""  # known graph beside the file: .npy N x N mask, or .csv edge list `post,pre`
    types_path: str = ""  # node types beside the file: .npy or one-column .csv of N integers
    stimulus_path: str = ""  # external input beside the file: .npy or .csv, (samples, N)
    derivative: Derivative = Derivative.spline  # spline | savgol | finite_difference
    # Smoothing spline: lambda of the roughness penalty, in the file's time units; 0 = chosen per
    # neuron by cross-validation (fit on every other sample, score on the others).
    smoothing: float = 0.0
    savgol_window: int = 7  # Savitzky-Golay window, in samples (odd)
    savgol_order: int = 3  # Savitzky-Golay polynomial order (< window)
    resample_dt: float = 0.0  # spacing of the regular grid the model trains on; 0 = median sampling interval
    trim: int = 2  # grid points dropped at both ends of each segment (smoothed derivatives are worst there)
    max_gap: float = 10.0  # longest time between two samples of one neuron, in median sampling intervals
    max_missing: float = 0.5  # most missing samples a neuron may have (fraction); all missing = unobserved
    holdout_fraction: float = 0.2  # the last part of every trial is held out for the prediction metrics
    holdout_trials: List[int] = field(default_factory=list)  # hold out these whole trials instead

    def __post_init__(self) -> None:
        if not self.path:
            raise ConfigError("data=recording needs data.path=FILE (.npz, .npy, .csv or .h5)")
        check_nonnegative(self, "dt", "smoothing", "resample_dt", "trim")
        check_positive(self, "max_gap")
        check_range(self, "max_missing", 0.0, 1.0)
        check_range(self, "holdout_fraction", 0.0, 0.9)
        if self.derivative == Derivative.savgol:
            if self.savgol_window < 3 or self.savgol_window % 2 == 0:
                raise ConfigError(f"data.savgol_window={self.savgol_window} must be odd and >= 3")
            if not 1 <= self.savgol_order < self.savgol_window:
                raise ConfigError(f"data.savgol_order={self.savgol_order} must be in [1, savgol_window)")
        if not self.holdout_trials and self.holdout_fraction == 0:
            raise ConfigError("data.holdout_fraction=0 and no data.holdout_trials: nothing is held out "
                              "for the prediction metrics")
