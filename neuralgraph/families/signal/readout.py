"""Connectivity recovery up to the scale and offset the data cannot determine.

In du_i/dt = φ_i(u_i) + g_i Σ_j W_ij ψ_j(u_j), two changes of one sender's transfer function
leave every prediction unchanged: scaling ψ*_j = k_j ψ_j with its outgoing column W[:, j] / k_j,
and shifting ψ*_j = ψ_j + d_j, whose constant Σ_j W_ij d_j the learned φ*(u_i, a_i) absorbs
(it has each neuron's embedding). The model has no gain g_i either, so an exact fit learns
W*_ij = g_i W_ij / k_j with ψ*_j = k_j ψ_j + d_j, for any k_j (the sign included) and d_j. What
the data do determine is every weight times a linear functional L of its sender's transfer
function that is blind to constants:

    W*_ij · L(ψ*_j) = g_i W_ij · L(ψ_j)     for every k_j and d_j.

The read-out takes L(ψ) = ½ [median ψ on the high-activity window [0.8, 1.0]·x_norm − median ψ
on its mirror [−1.0, −0.8]·x_norm], x_norm = 1.5·std(u) by default (``evaluation.psi_norm_window``):
for a saturating odd ψ such as tanh, the plateau height. (A median on the high window alone
would count the offset d_j as scale; on saturated draws the learned ψ* carries offsets of
the plateau's size, and that read-out lost up to 0.1 of R² to them.) The learned side uses the
learned functions alone (``sender_level`` of ψ*, the *corrected* weights W*_ij·m*_j); the truth
enters only as the target it is scored against, the identifiable true weights g_i·W_ij·m_j.
For the paper's tanh regimes m_j ≈ 1 and g_i = g, so the target is the true W up to the one
global factor g that a line fit does not see.

``connectivity_R2`` and its slope are the least-squares line of the corrected learned weights
against that target over all N² entries (:func:`neuralgraph.metrics.linear_fit`); the *raw* pair
fits W* directly against W.
"""

from __future__ import annotations

import numpy as np


def sender_level(psi_high: np.ndarray, psi_low: np.ndarray) -> np.ndarray:
    """m_j = ½ (median of ψ_j over the high window − median over its mirror); each argument is
    (N senders, points on that window)."""
    high = np.median(np.asarray(psi_high, dtype=np.float64), axis=1)
    low = np.median(np.asarray(psi_low, dtype=np.float64), axis=1)
    return 0.5 * (high - low)


def effective_weights(W: np.ndarray, level: np.ndarray, gain: np.ndarray | float = 1.0) -> np.ndarray:
    """g_i · W_ij · m_j (columns are senders j, rows receivers i): a weight in the identifiable gauge."""
    W = np.asarray(W, dtype=np.float64)
    g = np.broadcast_to(np.asarray(gain, dtype=np.float64), (W.shape[0],))
    return g[:, None] * W * np.asarray(level, dtype=np.float64)[None, :]
