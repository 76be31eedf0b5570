"""Reading τ, V_rest and W out of learned per-neuron functions (fly visual system family).

- :func:`row_linear_fit` — a least-squares line y ≈ slope·x + intercept for every row of (rows, points)
  arrays at once;
- :func:`corrected_weights` — the scale correction of the reference: with f_θ ≈ α_i v + γ_i m + …
  and g_φ(v_j)² ≈ s_j v_j, a learned edge weight W_ij contributes γ_i W_ij s_j ReLU(v_j) to dv_i/dt,
  while the truth contributes W_true,ij ReLU(v_j)/τ_i = −α_i W_true,ij ReLU(v_j). Hence
  W_corr,ij = −W_ij γ_i s_j / α_i estimates W_true,ij.
- :func:`tau_vrest_from_line` — τ = −1/slope (clipped to [0, 1] as in the reference) and
  V_rest = −intercept/slope of the line of f_θ(v) at m = e = 0.
"""

from __future__ import annotations

import numpy as np


def row_linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row least squares: ``(slope, intercept)`` arrays of length rows; NaN slope for constant x."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    dx = x - x.mean(axis=1, keepdims=True)
    var = np.sum(dx * dx, axis=1)
    cov = np.sum(dx * (y - y.mean(axis=1, keepdims=True)), axis=1)
    slope = np.where(var > 0, cov / np.where(var > 0, var, 1.0), np.nan)
    intercept = y.mean(axis=1) - slope * x.mean(axis=1)
    return slope, intercept


def corrected_weights(
    W: np.ndarray, src: np.ndarray, tgt: np.ndarray, f_slope: np.ndarray, msg_gain: np.ndarray, g_slope: np.ndarray,
) -> np.ndarray:
    """W_corr[e] = −W[e] · msg_gain[tgt[e]] · g_slope[src[e]] / f_slope[tgt[e]] (0 where f_slope is 0)."""
    W = np.asarray(W, dtype=np.float64)
    a = np.asarray(f_slope, dtype=np.float64)[tgt]
    out = -W * np.asarray(msg_gain, dtype=np.float64)[tgt] * np.asarray(g_slope, dtype=np.float64)[src]
    ok = np.isfinite(a) & (a != 0)
    return np.where(ok, out / np.where(ok, a, 1.0), 0.0)


def tau_vrest_from_line(slope: np.ndarray, intercept: np.ndarray, tau_max: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """τ = −1/slope clipped to [0, tau_max] (tau_max where slope ≥ 0) and V_rest = −intercept/slope."""
    slope = np.asarray(slope, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64)
    neg = np.isfinite(slope) & (slope < 0)
    tau = np.full(slope.shape, float(tau_max))
    tau[neg] = np.clip(-1.0 / slope[neg], 0.0, tau_max)
    ok = np.isfinite(slope) & (slope != 0)
    v_rest = np.zeros(slope.shape)
    v_rest[ok] = -intercept[ok] / slope[ok]
    return tau, v_rest


def normal_equations(X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-node sums XᵀWX (N, K, K) and XᵀWy (N, K) from samples X (T, N, K), y (T, N), weights (T, N).

    Sums over several chunks of frames add up to the sums over all of them.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones(y.shape) if weight is None else np.asarray(weight, dtype=np.float64)
    Xw = X * w[..., None]
    return np.einsum("tnk,tnl->nkl", Xw, X), np.einsum("tnk,tn->nk", Xw, y)


def solve_normal_equations(XtX: np.ndarray, Xty: np.ndarray, ridge: float = 1e-9) -> np.ndarray:
    """Least-squares coefficients (N, K) per node; a relative ridge keeps constant features at 0."""
    XtX = np.asarray(XtX, dtype=np.float64)
    scale = np.trace(XtX, axis1=1, axis2=2)[:, None, None] / XtX.shape[1]
    A = XtX + ridge * (scale + 1e-30) * np.eye(XtX.shape[1])[None]
    return np.linalg.solve(A, np.asarray(Xty, dtype=np.float64)[..., None])[..., 0]
