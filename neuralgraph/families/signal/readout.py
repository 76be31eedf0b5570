"""Connectivity recovery up to the scale the data cannot determine.

In du_i/dt = … + g_i Σ_j W_ij ψ_j(u_j), scaling one sender's transfer function by k_j and its
outgoing column W[:, j] by 1/k_j changes no prediction, and the model has no gain g_i: an exact
fit learns W*_ij = g_i W_ij / k_j with ψ*_j = k_j ψ_j, for any k_j. What the data do determine is
every weight times a fixed linear functional L of its sender's transfer function:

    W*_ij · L(ψ*_j) = g_i W_ij · L(ψ_j)     for every k_j, the sign included.

The read-out takes L(ψ) = the median of ψ on a window of high activity, [0.8, 1.0]·x_norm with
x_norm = 1.5·std(u) by default (``training.psi_norm_window``), where a saturating ψ sits at its
plateau. The learned side uses the learned functions alone (``sender_level`` of ψ*, the
*corrected* weights W*_ij·m*_j); the truth enters only as the target it is scored against, the
identifiable true weights g_i·W_ij·m_j. For the paper's tanh regimes m_j ≈ 1 and g_i = g, so the
target is the true W up to the one global factor g that a line fit does not see.

``connectivity_R2`` and its slope are the least-squares line of the corrected learned weights
against that target over all N² entries (:func:`neuralgraph.metrics.linear_fit`); the *raw* pair
fits W* directly against W.
"""

from __future__ import annotations

import numpy as np


def sender_level(psi: np.ndarray) -> np.ndarray:
    """m_j = median of ψ_j over the window; ``psi`` is (N senders, points on the window)."""
    return np.median(np.asarray(psi, dtype=np.float64), axis=1)


def effective_weights(W: np.ndarray, level: np.ndarray, gain: np.ndarray | float = 1.0) -> np.ndarray:
    """g_i · W_ij · m_j (columns are senders j, rows receivers i): a weight in the identifiable gauge."""
    W = np.asarray(W, dtype=np.float64)
    g = np.broadcast_to(np.asarray(gain, dtype=np.float64), (W.shape[0],))
    return g[:, None] * W * np.asarray(level, dtype=np.float64)[None, :]
