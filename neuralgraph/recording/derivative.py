r"""Smoothed states and time derivatives from noisy samples, irregular times and gaps.

A recording gives samples y_k = u(t_k) + ε_k of each neuron, with noise ε, at times that need not
be evenly spaced, some of them missing. The model trains on pairs (u, du/dt), so both are
estimated here, one neuron and one segment (a trial, or its training or held-out part) at a time:

- ``spline`` — the cubic smoothing spline of each neuron (:func:`scipy.interpolate.make_smoothing_spline`)

      f = argmin_f Σ_k (y_k − f(t_k))² + λ ∫ f''(t)² dt

  over its observed samples only (a missing sample is simply absent), evaluated with its first
  derivative on the regular grid. λ is chosen per neuron by two-fold cross-validation on a chunk
  of its samples (:func:`choose_smoothing`): fit the even-numbered samples, score the odd ones and
  the reverse, on a grid of λ in half-decades (whole decades for a neuron with missing samples
  there, which must be fitted alone). A fit to half the samples sees half the data
  term, so the λ of the whole series is twice the best half-series λ.
- ``savgol`` — Savitzky–Golay (:func:`scipy.signal.savgol_filter`): a local polynomial of order p
  over w samples, its value and slope; regular sampling without missing samples.
- ``finite_difference`` — the raw samples and their central differences (:func:`numpy.gradient`,
  second order on uneven spacing): right for noise-free data only.

Every estimator returns the smoothed value at the samples too, so the run can report how much it
removed (``residual_fraction``): for a good smoother, about the measurement noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import make_smoothing_spline
from scipy.signal import savgol_filter

#: λ candidates, as powers of ten times h³ (h the median sampling interval): a smoothing time scale
#: (λ/h)^(1/4) from about a quarter of a sample to about forty samples.
LOG_LAMBDA_GRID = np.arange(-2.5, 6.51, 0.5)
#: Samples of each neuron used to choose its λ (the middle of its longest segment).
CV_SAMPLES = 300


@dataclass
class Smoothed:
    """One segment: ``u`` and ``du`` (grid points, N) on the grid, ``fitted`` (samples, N) at the samples."""

    u: np.ndarray
    du: np.ndarray
    fitted: np.ndarray


def _fit(t: np.ndarray, y: np.ndarray, lam: float):
    """The smoothing spline of the columns of ``y`` (all finite) at one λ."""
    return make_smoothing_spline(t, y, lam=float(lam))


def cv_error(t: np.ndarray, y: np.ndarray, lams: np.ndarray) -> np.ndarray:
    """Two-fold (even / odd samples) prediction error for each λ in ``lams``: (len(lams), columns).

    ``y`` (samples, columns) must be complete: the columns are fitted together at each λ.
    """
    y = y.reshape(len(t), -1)
    errors = np.zeros((len(lams), y.shape[1]))
    for train, test in ((slice(0, None, 2), slice(1, None, 2)), (slice(1, None, 2), slice(0, None, 2))):
        for k, lam in enumerate(lams):
            pred = _fit(t[train], y[train], lam)(t[test]).reshape(-1, y.shape[1])
            errors[k] += np.sum((pred - y[test]) ** 2, axis=0)
    return errors


def choose_smoothing(t: np.ndarray, x: np.ndarray, h: float) -> np.ndarray:
    """λ per neuron (columns of ``x``, NaN = missing) by cross-validation on a chunk of samples.

    Neurons observed at every sample of the chunk are scored together on the whole λ grid; a
    neuron with missing samples is scored alone, on every other λ of the grid (a 10× step).
    """
    lams = 10.0 ** LOG_LAMBDA_GRID * h**3
    mid, half = len(t) // 2, CV_SAMPLES // 2
    chunk = slice(max(0, mid - half), mid + half)
    t, x = t[chunk], x[chunk]
    out = np.full(x.shape[1], 2 * lams[len(lams) // 2])  # too few samples to choose: mid-grid
    complete = np.flatnonzero(np.isfinite(x).all(axis=0))
    if complete.size and len(t) >= 12:
        out[complete] = 2 * lams[np.argmin(cv_error(t, x[:, complete], lams), axis=0)]
    coarse = lams[::2]
    for i in np.flatnonzero(~np.isfinite(x).all(axis=0)):
        ok = np.isfinite(x[:, i])
        if ok.sum() >= 12:
            out[i] = 2 * coarse[int(np.argmin(cv_error(t[ok], x[ok, i], coarse)[:, 0]))]
    return out


def spline(t: np.ndarray, x: np.ndarray, grid: np.ndarray, lam: np.ndarray) -> Smoothed:
    """Smoothing splines of every column of ``x`` (NaN = missing), at λ ``lam[i]`` per column.

    Columns without missing samples that share a λ are fitted in one call (scipy solves them
    together); the others one by one on their observed samples.
    """
    n = x.shape[1]
    u, du, fitted = (np.empty((len(grid), n)), np.empty((len(grid), n)), np.empty_like(x, dtype=np.float64))
    complete = np.isfinite(x).all(axis=0)
    groups = [np.flatnonzero(complete & (lam == value)) for value in np.unique(lam[complete])]
    groups += [np.array([i]) for i in np.flatnonzero(~complete)]
    for cols in groups:
        ok = np.isfinite(x[:, cols]).all(axis=1)
        fit = _fit(t[ok], x[ok][:, cols], lam[cols[0]])
        u[:, cols] = fit(grid).reshape(len(grid), -1)
        du[:, cols] = fit.derivative()(grid).reshape(len(grid), -1)
        fitted[:, cols] = fit(t).reshape(len(t), -1)
    return Smoothed(u, du, fitted)


def savgol(x: np.ndarray, h: float, window: int, order: int) -> Smoothed:
    """Savitzky–Golay value and slope at every sample (regular spacing ``h``, no missing samples,
    at least ``window`` samples)."""
    u = savgol_filter(x, window, order, axis=0, mode="interp")
    du = savgol_filter(x, window, order, deriv=1, delta=h, axis=0, mode="interp")
    return Smoothed(u, du, u)


def finite_difference(t: np.ndarray, x: np.ndarray) -> Smoothed:
    """The samples as they are and their central differences (one-sided at the ends)."""
    x = np.asarray(x, dtype=np.float64)
    return Smoothed(x, np.gradient(x, t, axis=0), x)
