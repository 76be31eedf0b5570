"""Reading τ, V_rest and W out of learned per-neuron functions (fly visual system family).

- :func:`linearise` — the per-neuron local linearisation of f_θ and g_φ² on observed states, and the
  τ, V_rest read from it (see :mod:`neuralgraph.families.flyvis.family`);
- :func:`identifiable_edges` — the edges whose weight the training data determine at all;
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

from typing import Mapping

import numpy as np
import torch

#: Frames per chunk when the read-out evaluates f_θ and g_φ on observed states.
FIT_CHUNK = 100
#: Frames used to measure each neuron's operating range (evenly spaced over the training movie).
RANGE_FRAMES = 2000
#: A sender must be active (v > 0) on at least this fraction of training frames for its weights to count.
MIN_ACTIVE = 0.01


def range_frames(n_frames: int) -> np.ndarray:
    """Up to :data:`RANGE_FRAMES` frame indices evenly spaced over ``n_frames``."""
    return np.unique(np.linspace(0, n_frames - 1, min(RANGE_FRAMES, n_frames)).astype(np.int64))


def identifiable_edges(x: np.ndarray, src: np.ndarray, tgt: np.ndarray, min_fraction: float = MIN_ACTIVE) -> np.ndarray:
    """Edges whose weight the training data determine at all.

    A sender that is never above threshold (ReLU(v_j) = 0 on every frame) sends nothing, so no
    learner can see its outgoing weights; a self-loop of a neuron that is never below threshold
    enters exactly like the leak −v_i/τ_i, so W_ii and τ_i are confounded. Kept: edges whose sender
    is active on at least ``min_fraction`` of the training frames, and self-loops whose neuron is
    also inactive on at least that fraction.
    """
    active = (np.asarray(x) > 0).mean(axis=0)
    ok = active[src] >= min_fraction
    self_loop = src == tgt
    ok[self_loop] &= (1.0 - active[src[self_loop]]) >= min_fraction
    return ok


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


def _chunks(frames: np.ndarray) -> list[np.ndarray]:
    return np.array_split(frames, max(1, len(frames) // FIT_CHUNK))


def _local_fits(model, arrays: Mapping[str, np.ndarray], frames: np.ndarray, device: torch.device):
    """Summed normal equations of f_θ on (v, m, e, 1) and of g_φ² on (v, 1) over v > 0, per neuron."""
    x_np = arrays["x"]
    n = x_np.shape[1]
    f_xtx, f_xty = np.zeros((n, 4, 4)), np.zeros((n, 4))
    g_xtx, g_xty = np.zeros((n, 2, 2)), np.zeros((n, 2))
    with torch.no_grad():
        for chunk in _chunks(frames):
            v = torch.as_tensor(x_np[chunk], device=device)
            msg = model.messages(v)
            if model.learn_field:
                lum = model.field_values(torch.as_tensor(chunk, device=device))
            else:
                lum = torch.as_tensor(arrays["stimulus"][chunk], device=device)
            e = model.external_input(lum, v)
            f = model.f(v, model.a, msg, e)
            g = model.g(v, model.a)
            vv, mm, ee = (z.double().cpu().numpy() for z in (v, msg, e))
            X = np.stack([vv, mm, ee, np.ones_like(vv)], axis=-1)
            xtx, xty = normal_equations(X, f.double().cpu().numpy())
            f_xtx += xtx
            f_xty += xty
            xtx, xty = normal_equations(np.stack([vv, np.ones_like(vv)], -1), g.double().cpu().numpy(),
                                        weight=(vv > 0).astype(np.float64))
            g_xtx += xtx
            g_xty += xty
    return f_xtx, f_xty, g_xtx, g_xty


def _message_excess(model, x_np: np.ndarray, frames: np.ndarray, s: np.ndarray, device: torch.device) -> np.ndarray:
    """Per neuron, the mean over ``frames`` of m_i − Σ_j W_ij s_j ReLU(v_j) (what the linear-ReLU picture misses)."""
    s_t = torch.as_tensor(s, dtype=torch.float32, device=device)
    excess = np.zeros(x_np.shape[1])
    with torch.no_grad():
        for chunk in _chunks(frames):
            v = torch.as_tensor(x_np[chunk], device=device)
            lin = torch.relu(v) * s_t
            m_lin = torch.zeros_like(v).index_add_(1, model.edge_tgt, lin[:, model.edge_src] * model.W)
            excess += (model.messages(v) - m_lin).double().sum(0).cpu().numpy()
    return excess / len(frames)


def linearise(model, arrays: Mapping[str, np.ndarray], device: torch.device) -> dict[str, np.ndarray]:
    """Per-neuron local linearisation of f_θ and g_φ² on the observed states, and τ, V_rest read from it.

    f_θ ≈ α v + γ m + δ e + β and g_φ² ≈ s v + c (v > 0) by least squares over up to
    :data:`RANGE_FRAMES` training frames; τ = −1/α, V_rest = −(β + γ μ)/α with μ the mean message
    excess (:func:`_message_excess`), and ``V_rest_plain`` = −β/α. ``model`` is a
    :class:`~neuralgraph.families.flyvis.model.FlyVisGNN` (or anything with its ``messages``,
    ``field``, ``field_values``, ``external_input``, ``f``, ``g``, ``a``, ``W`` and edges).
    """
    frames = range_frames(arrays["x"].shape[0])
    f_xtx, f_xty, g_xtx, g_xty = _local_fits(model, arrays, frames, device)
    coef = solve_normal_equations(f_xtx, f_xty)
    alpha, gamma, delta, beta = coef[:, 0], coef[:, 1], coef[:, 2], coef[:, 3]
    g_coef = solve_normal_equations(g_xtx, g_xty)
    s = np.where(g_xtx[:, 1, 1] >= 2, g_coef[:, 0], 0.0)  # senders active on fewer than 2 frames: no slope
    # The learned message also carries what the linear-ReLU part Σ_j W_ij s_j ReLU(v_j) does not
    # (an offset of g_φ², curvature): its mean enters f_θ like a resting drive and is moved
    # from the message into the offset before V_rest is read.
    excess = _message_excess(model, arrays["x"], frames, s, device)
    tau, v_rest = tau_vrest_from_line(alpha, beta + gamma * excess)
    _, v_rest_plain = tau_vrest_from_line(alpha, beta)
    return {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta, "g_slope": s, "tau": tau,
            "V_rest": v_rest, "V_rest_plain": v_rest_plain}
