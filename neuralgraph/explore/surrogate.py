"""A Gaussian-process model of the reward over a search space, fitted on every finished run.

Inputs. A config becomes a point of the unit cube: each dimension's position
(:meth:`~.space.Dimension.to_unit`: log-aware for a log interval, ``index / (n - 1)`` for a
choice), 0.5 for a key the config lacks.

Targets. One observation per finished run, so a replicated config is observed several times
and the fitted noise is the seed-to-seed spread. The lower tail is folded,
``y = max(r, m - (r_max - m))`` with ``m`` the median, so that one diverged run (R² = -40) does
not flatten the differences among the good ones; ``y`` is then standardised.

Model (``x`` in the unit cube, ``d`` the ARD distance)::

    k(x, x') = s² (1 + √5 d + 5 d²/3) exp(-√5 d),   d² = Σ_j (x_j - x'_j)² / ℓ_j²
    y = f(x) + ε,  ε ~ N(0, σ²)

``ℓ``, ``s²`` and ``σ²`` maximise the log marginal likelihood plus weak log-normal priors
(``log ℓ ~ N(log 0.5, 1)``, ``log σ² ~ N(log 0.05, 2)``), which keep the fit sane with fewer
runs than dimensions. The posterior of the latent ``f`` at new points::

    μ(x) = k(x, X) α,   α = (K + σ² I)⁻¹ y
    var(x) = s² - k(x, X) (K + σ² I)⁻¹ k(X, x)

Expected improvement over the best posterior mean at the observed points (the noise-aware
incumbent), in standardised units::

    EI(x) = (μ - μ* - ξ) Φ(z) + sd φ(z),   z = (μ - μ* - ξ) / sd
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize
from scipy.stats import norm

from .evidence import position
from .space import SearchSpace

_LOG_BOUNDS_LS = (math.log(0.05), math.log(10.0))
_LOG_BOUNDS_SIGNAL = (math.log(0.05), math.log(20.0))
_LOG_BOUNDS_NOISE = (math.log(1e-4), math.log(2.0))
_PRIOR_LS = (math.log(0.5), 1.0)  # mean, sd of log ℓ
_PRIOR_NOISE = (math.log(0.05), 2.0)  # mean, sd of log σ² (standardised units)
_JITTER = 1e-8


def encode(configs: Sequence[Mapping[str, str]], space: SearchSpace) -> np.ndarray:
    """Configs as rows of unit-cube coordinates, one column per dimension of ``space``."""
    dims = list(space.dims.values())
    out = np.full((len(configs), len(dims)), 0.5)
    for i, cfg in enumerate(configs):
        for j, dim in enumerate(dims):
            if dim.key in cfg:
                out[i, j] = position(dim, cfg[dim.key])
    return out


def fold_tail(rewards: Sequence[float]) -> np.ndarray:
    """The rewards with the lower tail folded at ``median - (max - median)``."""
    r = np.asarray(rewards, dtype=float)
    if r.size < 3:
        return r
    med = float(np.median(r))
    return np.maximum(r, med - (float(r.max()) - med))


def _matern52(a: np.ndarray, b: np.ndarray, ls: np.ndarray, signal: float) -> np.ndarray:
    d = np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) / ls) ** 2, 0.0).sum(-1))
    s5 = math.sqrt(5.0) * d
    return signal * (1.0 + s5 + s5 * s5 / 3.0) * np.exp(-s5)


@dataclass
class Posterior:
    """Mean and standard deviation of the latent reward, in the rewards' own units."""

    mean: np.ndarray
    sd: np.ndarray


class GaussianProcess:
    """Fitted on unit-cube points ``x`` and rewards ``y``; :meth:`predict` and :meth:`ei`."""

    def __init__(self, x: np.ndarray, y: np.ndarray, seed: int = 0,
                 params: np.ndarray | None = None) -> None:
        self.x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        self.y_mean = float(y.mean())
        spread = float(y.std())
        self.y_sd = spread if spread > 1e-12 else 1.0
        self.y = (y - self.y_mean) / self.y_sd
        self.params = self._fit(seed) if params is None else np.asarray(params, dtype=float)
        self._factor()

    # ---- the fit ---------------------------------------------------------------------------
    def _unpack(self, theta: np.ndarray) -> tuple[np.ndarray, float, float]:
        dims = self.x.shape[1]
        return np.exp(theta[:dims]), float(np.exp(theta[dims])), float(np.exp(theta[dims + 1]))

    def _objective(self, theta: np.ndarray) -> float:
        """Negative log marginal likelihood plus the negative log priors."""
        ls, signal, noise = self._unpack(theta)
        k = _matern52(self.x, self.x, ls, signal) + (noise + _JITTER) * np.eye(len(self.x))
        try:
            c, low = cho_factor(k, lower=True)
        except np.linalg.LinAlgError:
            return 1e10
        alpha = cho_solve((c, low), self.y)
        nll = 0.5 * self.y @ alpha + np.log(np.diag(c)).sum()
        dims = self.x.shape[1]
        prior = (((theta[:dims] - _PRIOR_LS[0]) / _PRIOR_LS[1]) ** 2).sum() / 2
        prior += ((theta[dims + 1] - _PRIOR_NOISE[0]) / _PRIOR_NOISE[1]) ** 2 / 2
        return float(nll + prior)

    def _fit(self, seed: int) -> np.ndarray:
        dims = self.x.shape[1]
        bounds = [_LOG_BOUNDS_LS] * dims + [_LOG_BOUNDS_SIGNAL, _LOG_BOUNDS_NOISE]
        rng = np.random.default_rng(seed)
        starts = [np.array([_PRIOR_LS[0]] * dims + [0.0, _PRIOR_NOISE[0]])]
        starts += [np.array([rng.uniform(lo, hi) for lo, hi in bounds]) for _ in range(2)]
        best_theta, best_value = starts[0], self._objective(starts[0])
        for start in starts:
            res = minimize(self._objective, start, method="L-BFGS-B", bounds=bounds,
                           options={"maxiter": 200})
            if res.fun < best_value:
                best_theta, best_value = res.x, float(res.fun)
        return best_theta

    def _factor(self) -> None:
        ls, signal, noise = self._unpack(self.params)
        k = _matern52(self.x, self.x, ls, signal) + (noise + _JITTER) * np.eye(len(self.x))
        self._chol = cho_factor(k, lower=True)
        self._alpha = cho_solve(self._chol, self.y)

    # ---- what the fit says -----------------------------------------------------------------
    @property
    def noise_sd(self) -> float:
        """The fitted observation noise σ, in reward units."""
        return math.sqrt(self._unpack(self.params)[2]) * self.y_sd

    @property
    def lengthscales(self) -> np.ndarray:
        """ℓ per dimension in unit-cube widths (short: the reward changes fast along it)."""
        return self._unpack(self.params)[0]

    def _latent(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ls, signal, _ = self._unpack(self.params)
        ks = _matern52(np.asarray(x, dtype=float), self.x, ls, signal)
        mean = ks @ self._alpha
        v = cho_solve(self._chol, ks.T)
        var = np.maximum(signal - (ks * v.T).sum(1), 1e-12)
        return mean, np.sqrt(var)

    def predict(self, x: np.ndarray) -> Posterior:
        mean, sd = self._latent(x)
        return Posterior(mean * self.y_sd + self.y_mean, sd * self.y_sd)

    def incumbent(self) -> float:
        """The best posterior mean at the observed points (standardised)."""
        return float(self._latent(self.x)[0].max())

    def ei(self, x: np.ndarray, xi: float = 0.01) -> np.ndarray:
        """Expected improvement over :meth:`incumbent`, in standardised units."""
        mean, sd = self._latent(x)
        gain = mean - self.incumbent() - xi
        z = gain / sd
        return gain * norm.cdf(z) + sd * norm.pdf(z)

    def ucb(self, x: np.ndarray, kappa: float) -> np.ndarray:
        """``μ + κ sd`` in standardised units (an optimistic score for exploring)."""
        mean, sd = self._latent(x)
        return mean + kappa * sd

    def believe(self, x: np.ndarray) -> GaussianProcess:
        """The same model with ``x`` observed at its own posterior mean (the "kriging believer"):
        a round's later slots then see the earlier ones as taken, without any result."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        mean = self.predict(x).mean
        y = np.concatenate([self.y * self.y_sd + self.y_mean, mean])
        other = GaussianProcess.__new__(GaussianProcess)
        other.x = np.vstack([self.x, x])
        other.y_mean, other.y_sd = self.y_mean, self.y_sd
        other.y = (y - self.y_mean) / self.y_sd
        other.params = self.params
        other._factor()
        return other
