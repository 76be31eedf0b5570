"""Connectivity recovery up to the scale the data cannot determine.

In du_i/dt = … + g_i Σ_j W_ij ψ_j(u_j), scaling one sender's transfer function by k_j and its
outgoing column W[:, j] by 1/k_j changes no prediction, and the model has no gain g_i. A learned
W* therefore equals g_i W_ij / k_j at best, where k_j = ψ*_j / ψ_j is the learned-to-true
amplitude ratio of sender j. The **per-sender scale correction** undoes both:

    W_corr[i, j] = W*[i, j] · k_j / g_i,   k_j = median_x ψ*_j(x) / median_x ψ_j(x)

with x on a window of high activity, [0.8, 1.0]·x_norm and x_norm = 1.5·std(u) by default. The
reference divides by median ψ*_j alone and by g = 10 hard-coded; that is the same when the true ψ
saturates to 1 in the window (tanh), and stays right when it does not (PDE_N4's widths). A
sender whose true ψ has |median| < ``eps`` on the window keeps k_j = 1.

``connectivity_R2`` and its slope are then the least-squares line of W_corr against W_true over
all N² entries (:func:`neuralgraph.metrics.linear_fit`); the *raw* pair uses W* directly.
"""

from __future__ import annotations

import numpy as np


def sender_scale(psi_learned: np.ndarray, psi_true: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """k_j = median ψ*_j / median ψ_j over the window; inputs are (N senders, points)."""
    num = np.median(np.asarray(psi_learned, dtype=np.float64), axis=1)
    den = np.median(np.asarray(psi_true, dtype=np.float64), axis=1)
    ok = np.abs(den) >= eps
    k = np.ones_like(num)
    k[ok] = num[ok] / den[ok]
    return k


def correct_connectivity(W_learned: np.ndarray, k: np.ndarray, gain: np.ndarray | float) -> np.ndarray:
    """W_corr[i, j] = W*[i, j] · k_j / g_i (columns are senders, rows receivers)."""
    W = np.asarray(W_learned, dtype=np.float64)
    g = np.broadcast_to(np.asarray(gain, dtype=np.float64), (W.shape[0],))
    return W * np.asarray(k, dtype=np.float64)[None, :] / g[:, None]
