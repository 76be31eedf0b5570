r"""A recording that NeuralGraph did not simulate: a rate network integrated by scipy.

    du_i/dt = −u_i + g Σ_{j≠i} W_ij tanh(u_j),      W_ij ~ N(0, 1/N),  W_ii = 0

integrated with :func:`scipy.integrate.solve_ivp` (adaptive Runge–Kutta 4(5), tolerances far
below the noise) — not with :mod:`neuralgraph.integrate` — and then observed the way an experiment
would observe it:

- several trials, each from its own random state after a burn-in (not recorded);
- irregular sampling: intervals Δt·U(1 − jitter, 1 + jitter);
- measurement noise: N(0, σ²) with σ = ``noise`` × the std of the clean activity;
- missing samples: each (sample, neuron) lost with probability ``missing`` (NaN in the file);
- unobserved neurons: the last ``unobserved`` neurons take part in the dynamics but are not in
  the file; the W a fit can be compared with is the observed block of the generating W.

Used by the validation in docs/recordings.md (``benchmarks/recording_table.py``), the tests and
``notebooks/06_recording.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp


@dataclass
class DemoNetwork:
    """The generating system: ``W`` (N×N, W[post, pre], zero diagonal) and the gain ``g``."""

    W: np.ndarray
    gain: float

    def __call__(self, t: float, u: np.ndarray) -> np.ndarray:
        return -u + self.gain * (self.W @ np.tanh(u))


def random_network(n: int, gain: float, seed: int) -> DemoNetwork:
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, n)) / np.sqrt(n)
    np.fill_diagonal(W, 0.0)
    return DemoNetwork(W, float(gain))


def sample_times(duration: float, dt: float, jitter: float, rng: np.random.Generator) -> np.ndarray:
    steps = dt * rng.uniform(1.0 - jitter, 1.0 + jitter, int(np.ceil(2 * duration / dt)) + 2)
    t = np.concatenate([[0.0], np.cumsum(steps)])
    return t[t <= duration]


def clean_trials(net: DemoNetwork, n_trials: int, duration: float, dt: float, jitter: float,
                 rng: np.random.Generator, burn_in: float = 20.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(times, states (samples, N))]`` of every trial, noise-free."""
    n = net.W.shape[0]
    out = []
    for _ in range(n_trials):
        u0 = solve_ivp(net, (0.0, burn_in), 2.0 * rng.standard_normal(n), rtol=1e-8, atol=1e-10).y[:, -1]
        t = sample_times(duration, dt, jitter, rng)
        sol = solve_ivp(net, (0.0, t[-1]), u0, t_eval=t, rtol=1e-8, atol=1e-10)
        out.append((t, sol.y.T))
    return out


def observe(trials: list[tuple[np.ndarray, np.ndarray]], noise: float, missing: float, unobserved: int,
            rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The file's arrays ``x``, ``t``, ``trial`` from clean trials (see the module docstring)."""
    x = np.concatenate([states for _, states in trials])
    sigma = noise * float(np.std(x))
    x = x + sigma * rng.standard_normal(x.shape)
    x[rng.random(x.shape) < missing] = np.nan
    if unobserved:
        x = x[:, :-unobserved]
    return {
        "x": x,
        "t": np.concatenate([t for t, _ in trials]),
        "trial": np.concatenate([np.full(len(t), k) for k, (t, _) in enumerate(trials)]),
    }


def demo_recording(n: int = 100, gain: float = 3.0, n_trials: int = 10, duration: float = 50.0,
                   dt: float = 0.1, jitter: float = 0.5, noise: float = 0.0, missing: float = 0.0,
                   unobserved: int = 1, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``(arrays for an .npz file, the generating W restricted to the observed neurons)``."""
    rng = np.random.default_rng(seed)
    net = random_network(n, gain, seed)
    arrays = observe(clean_trials(net, n_trials, duration, dt, jitter, rng), noise, missing, unobserved, rng)
    keep = n - unobserved
    return arrays, net.W[:keep, :keep].copy()
