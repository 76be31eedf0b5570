r"""Simulated data as an instrument records them: sampled states with measurement noise, and
derivatives estimated from the samples.

The simulator gives the states x_i(t_k) at every frame t_k = k·Δt and their exact derivatives
ẋ_i(t_k). An experimenter has neither: each node is sampled as

    y_ik = x_i(t_k) + σ_i ε_ik,   ε_ik ~ N(0, 1),   σ_i = ``measurement_noise`` · std_k x_i(t_k)

(the noise relative to each node's own spread over the frames), and the derivative is estimated
from the samples y by the estimators of the recording path (:mod:`neuralgraph.recording.derivative`),
one trial at a time so that no estimate spans two trials:

- ``finite_difference`` — the samples as they are and their central differences;
- ``savgol`` — a Savitzky–Golay local polynomial's value and slope;
- ``spline`` — a smoothing spline per node, λ chosen by cross-validation (or ``smoothing``).

The training state and its target both become the estimates (what a recording run trains on),
so the learner and the known-law oracle see the same observations, and the oracle stays the
ceiling of what they allow. Arrays of the truth (W, k, τ, held-out test runs) are left as they are:
they enter only the final comparison.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from neuralgraph.errors import ConfigError
from neuralgraph.family import Observed
from neuralgraph.recording import derivative
from neuralgraph.sources.simulated.config import ObservedDerivative, SimulatedData

#: The measurement noise draws its own stream of the simulation seed, apart from the simulator's.
NOISE_STREAM = 0x0B5E


def segments(arrays: Mapping[str, np.ndarray], observed: Observed) -> list[tuple[int, slice]]:
    """``(run, frames)`` of every trial: each run of a leading runs axis, else each span between
    consecutive entries of the bounds array (the whole recording when there is none)."""
    state = arrays[observed.state]
    if observed.runs_axis:
        return [(r, slice(None)) for r in range(state.shape[0])]
    if observed.bounds is None:
        return [(-1, slice(0, state.shape[0]))]
    bounds = np.asarray(arrays[observed.bounds], dtype=np.int64)
    return [(-1, slice(int(a), int(b))) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def estimate(samples: np.ndarray, dt: float, data: SimulatedData) -> tuple[np.ndarray, np.ndarray]:
    """``(state, derivative)`` estimated from one trial's samples (frames, N), spacing ``dt``."""
    needed = {ObservedDerivative.finite_difference: 2, ObservedDerivative.savgol: data.savgol_window,
              ObservedDerivative.spline: 5}[data.derivative]
    if samples.shape[0] < needed:
        raise ConfigError(f"data.derivative={data.derivative.value} needs at least {needed} frames per trial; a trial "
                          f"of this simulation has {samples.shape[0]} (raise simulation.n_frames or lower "
                          "data.savgol_window)")
    t = dt * np.arange(samples.shape[0])
    if data.derivative == ObservedDerivative.finite_difference:
        out = derivative.finite_difference(t, samples)
    elif data.derivative == ObservedDerivative.savgol:
        out = derivative.savgol(samples, dt, data.savgol_window, data.savgol_order)
    else:
        lam = (np.full(samples.shape[1], data.smoothing) if data.smoothing > 0
               else derivative.choose_smoothing(t, samples, dt))
        out = derivative.spline(t, samples, t, lam)
    return out.u, out.du


def observe(arrays: Mapping[str, np.ndarray], observed: Observed, data: SimulatedData, dt: float,
            seed: int) -> dict[str, np.ndarray]:
    """A copy of ``arrays`` whose state and derivative are what the instrument of ``data`` gives."""
    out = dict(arrays)
    state = np.asarray(arrays[observed.state], dtype=np.float64)
    nodes = state.reshape(-1, state.shape[-1])
    sigma = data.measurement_noise * nodes.std(axis=0)
    samples = state + sigma * np.random.default_rng((seed, NOISE_STREAM)).standard_normal(state.shape)
    x_hat, dx_hat = np.empty_like(samples), np.empty_like(samples)
    for run, frames in segments(arrays, observed):
        index = (run, frames) if run >= 0 else (frames,)
        x_hat[index], dx_hat[index] = estimate(samples[index], dt, data)
    out[observed.state] = x_hat.astype(arrays[observed.state].dtype)
    out[observed.derivative] = dx_hat.astype(arrays[observed.derivative].dtype)
    return out
