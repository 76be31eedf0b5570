"""Agreement between recovered and true values.

Two notions of R² are used and named distinctly, because they answer different questions:

- ``r2_score(true, pred)`` — coefficient of determination about the identity line,
  R² = 1 − Σ(pred − true)² / Σ(true − mean(true))². Scale or offset errors lower it.
- ``linear_fit(true, pred).r2`` — the squared Pearson correlation of the least-squares line
  pred ≈ a·true + b (the reference code's "R²"). Blind to scale and offset; the slope a says the scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def r2_score(true: np.ndarray, pred: np.ndarray) -> float:
    """Identity-line R² = 1 − SS_res/SS_tot, with SS_tot about the mean of ``true``."""
    true = np.asarray(true, dtype=np.float64).ravel()
    pred = np.asarray(pred, dtype=np.float64).ravel()
    ss_tot = np.sum((true - true.mean()) ** 2)
    if ss_tot == 0:
        return float("nan")
    return float(1.0 - np.sum((pred - true) ** 2) / ss_tot)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN when either input is constant."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    da, db = a - a.mean(), b - b.mean()
    denom = np.sqrt(np.sum(da * da) * np.sum(db * db))
    return float(np.sum(da * db) / denom) if denom > 0 else float("nan")


@dataclass(frozen=True)
class LinearFit:
    slope: float
    intercept: float
    r2: float  # squared Pearson correlation (R² of the fitted line)


def linear_fit(true: np.ndarray, pred: np.ndarray) -> LinearFit:
    """Least-squares line pred ≈ slope·true + intercept, and its R²."""
    true = np.asarray(true, dtype=np.float64).ravel()
    pred = np.asarray(pred, dtype=np.float64).ravel()
    dt = true - true.mean()
    var = np.sum(dt * dt)
    if var == 0:
        return LinearFit(float("nan"), float("nan"), float("nan"))
    slope = float(np.sum(dt * (pred - pred.mean())) / var)
    intercept = float(pred.mean() - slope * true.mean())
    r = pearson(true, pred)
    return LinearFit(slope, intercept, r * r if np.isfinite(r) else float("nan"))


def offset_gauge_r2(true: np.ndarray, pred: np.ndarray, group: np.ndarray) -> float:
    """R² of true ≈ a·pred + b + c·1[group]: a line with one more free offset for the items in ``group``.

    For a quantity known only up to a constant shared by a group (a gauge the data cannot fix: the
    resting potentials of neurons driven by an input that is itself unknown), the extra offset c is
    the gauge, and the score is the line-fit R² otherwise. R² = 1 − SS_res/SS_tot of the least
    squares, so it equals ``linear_fit(true, pred).r2`` when the group is empty or everything.
    """
    true = np.asarray(true, dtype=np.float64).ravel()
    pred = np.asarray(pred, dtype=np.float64).ravel()
    group = np.asarray(group, dtype=bool).ravel()
    ss_tot = np.sum((true - true.mean()) ** 2)
    if ss_tot == 0:
        return float("nan")
    columns = [pred, np.ones_like(pred)] + ([group.astype(np.float64)] if 0 < group.sum() < group.size else [])
    X = np.stack(columns, axis=1)
    coef, *_ = np.linalg.lstsq(X, true, rcond=None)
    return float(1.0 - np.sum((true - X @ coef) ** 2) / ss_tot)


@dataclass(frozen=True)
class TrimmedFit:
    r2: float  # linear-fit R² on the kept points
    n_outliers: int  # points dropped (|pred − true| > threshold)


def trimmed_fit(true: np.ndarray, pred: np.ndarray, threshold: float, max_fraction: float = 0.5) -> TrimmedFit:
    """Linear-fit R² after dropping points farther than ``threshold`` from the identity line.

    If more than ``max_fraction`` of the points would be dropped, none are (the fit then says
    how bad the whole set is rather than describing a small, lucky subset).
    """
    true = np.asarray(true, dtype=np.float64).ravel()
    pred = np.asarray(pred, dtype=np.float64).ravel()
    outlier = np.abs(pred - true) > threshold
    n_out = int(outlier.sum())
    if n_out > max_fraction * true.size:
        return TrimmedFit(linear_fit(true, pred).r2, n_out)
    return TrimmedFit(linear_fit(true[~outlier], pred[~outlier]).r2, n_out)
