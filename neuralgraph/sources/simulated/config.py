"""The ``data`` block of ``data=simulated``: how the simulated system is observed.

By default a run trains on what the simulator writes: every frame's state and its exact
derivative (``derivative: exact``, what the reference codes use). ``derivative`` set to an
estimator makes the data what an instrument gives (:mod:`.observe`): the states with measurement
noise, and derivatives estimated from them as a recording's are.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from neuralgraph.config.base import check_nonnegative
from neuralgraph.errors import ConfigError


class ObservedDerivative(str, Enum):
    """The training target: the simulator's exact derivative, or one estimated from the samples."""

    exact = "exact"  # the simulator's exact derivative at every frame (noise-free states)
    finite_difference = "finite_difference"  # central differences of the (noisy) samples
    savgol = "savgol"  # Savitzky-Golay value and slope of the samples
    spline = "spline"  # smoothing spline per node, lambda by cross-validation (or data.smoothing)


@dataclass
class SimulatedData:
    """The regime's simulator makes the data (cached by the simulation block's hash); this block
    says how they are observed (not part of the cache key: the same simulation, observed anew)."""

    _section = "data"

    derivative: ObservedDerivative = ObservedDerivative.exact  # exact | finite_difference | savgol | spline
    measurement_noise: float = 0.0  # std of the Gaussian noise on each sample, as a fraction of its node's std
    smoothing: float = 0.0  # spline: lambda of the roughness penalty (time units cubed); 0 = by cross-validation
    savgol_window: int = 7  # Savitzky-Golay window, in frames (odd)
    savgol_order: int = 3  # Savitzky-Golay polynomial order (< window)

    def __post_init__(self) -> None:
        check_nonnegative(self, "measurement_noise", "smoothing")
        if self.measurement_noise > 0 and self.derivative == ObservedDerivative.exact:
            raise ConfigError(f"data.measurement_noise={self.measurement_noise} needs an estimated derivative "
                              "(data.derivative=spline, savgol or finite_difference): the exact derivative is "
                              "that of the noise-free states")
        if self.savgol_window < 3 or self.savgol_window % 2 == 0:
            raise ConfigError(f"data.savgol_window={self.savgol_window} must be odd and >= 3")
        if not 1 <= self.savgol_order < self.savgol_window:
            raise ConfigError(f"data.savgol_order={self.savgol_order} must be in [1, savgol_window)")


SCHEMA = SimulatedData
