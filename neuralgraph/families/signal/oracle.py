r"""Known-law oracle of the signal family: W by ridge least squares, given the true law.

The ground truth is linear in W once the own dynamics and the transfer function are known:

    y_i(t) = du_i/dt − own_i(u_i) − e_i(t) = g_i Σ_{j≠i} W_ij ψ_i(u_j(t))          (additive input)
    y_i(t) = du_i/dt − own_i(u_i)          = g_i e_i(t) Σ_{j≠i} W_ij ψ_i(u_j(t))   (multiplicative)

(ψ_i is the receiver type's transfer for PDE_N11 with several types, the sender's ψ_j otherwise).
Row by row, on the training frames (at most :data:`MAX_FRAMES`, evenly strided), with the design
x_j(t) = ψ(u_j(t)) and W_ii = 0 as in the model,

    Ŵ_i = argmin_w Σ_t (y_i(t)/g_i − Σ_{j≠i} w_j x_j(t))² + ρ ‖w‖²,   ρ = λ · mean_j Σ_t x_j(t)²

with λ = :data:`RIDGE` (reported as ``oracle_ridge``). The ridge states the resolution of the
verdict: a direction of W whose singular value σ_k of the design has σ_k² ≪ ρ is shrunk to zero,
because the data carry it only at a relative precision (σ_k² / mean σ² < λ) that a float32
learner fitting its functions at the same time does not reach (where the learner falls short of
this oracle: docs/robustness.md, "The known-law oracle"). With exact
targets and λ → 0 the oracle recovers W to rounding error whenever the design has full rank.

Metrics:

- ``oracle_connectivity_R2`` — R² of the least-squares line of Ŵ against the true W over all N²
  entries (the definition of ``connectivity_R2``);
- ``oracle_design_rank`` — directions of the design above the ridge level (σ_k² > ρ), of N;
- ``oracle_n_weak_neurons`` — presynaptic neurons whose unit vector has more than
  :data:`WEAK_SHARE` of its squared length in the directions below it
  (:func:`neuralgraph.metrics.oracle.weak_directions`; two senders with identical activity have
  1/2 each): their outgoing weights are what the data cannot determine;
- ``target_motion`` — median over frames of rms_i du_i/dt · Δt, over the std of u: how far the
  activity moves in a typical frame, relative to its spread. Below :data:`SETTLED` it sits at a
  fixed point (a transient before it settles does not count);
- ``data_limited_reason`` — one line, when the oracle is at or below :data:`LIMIT` or the data settled.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from neuralgraph.families.signal.config import InputMode, SignalModelName
from neuralgraph.families.signal.simulate import SignalDynamics, leak_rate, spectral_radius, transfer
from neuralgraph.metrics.oracle import ridge_lstsq, weak_directions
from neuralgraph.metrics.regression import linear_fit

#: λ of the ridge: directions with σ² below λ · mean σ² of the design are not resolved.
RIDGE = 1e-4
#: Frames the oracle uses at most (evenly strided over the training frames).
MAX_FRAMES = 20000
#: Networks above this size get no oracle (an N×N inverse and an N-column QR per evaluation).
MAX_NEURONS = 2000
#: Frames of the per-row fits of a multiplicative input (each row has its own design).
MAX_FRAMES_PER_ROW = 4000
#: Share of a sender's unit vector in the weak directions above which it counts as weak.
WEAK_SHARE = 0.25
#: target_motion below this: the activity sits at a fixed point.
SETTLED = 1e-5
#: An oracle at or below this makes the run data-limited (the convergence threshold of train.py).
LIMIT = 0.9


def receiver_groups(dyn: SignalDynamics, u: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(rows, design)]``: receivers sharing one design x_j(t) = ψ(u_j(t)), (frames, N) each."""
    n = u.shape[1]
    if dyn.model == SignalModelName.PDE_N11 and len(dyn.activation) > 1:
        groups = []
        for k, act in enumerate(dyn.activation):
            rows = np.flatnonzero(dyn.types == k)
            if rows.size:
                groups.append((rows, dyn.amplitude[k] * transfer(act, u / dyn.slope[k])))
        return groups
    return [(np.arange(n), dyn.psi(u))]


def targets(dyn: SignalDynamics, u: np.ndarray, du: np.ndarray, e: np.ndarray | None) -> np.ndarray:
    """y_i(t) / g_i: what the message must explain once the own term (and an additive input) is removed."""
    y = du - dyn.own(u)
    if e is not None and dyn.has_input and dyn.mode == InputMode.additive:
        y = y - e
    gain = np.where(dyn.gain != 0, dyn.gain, 1.0)
    return y / gain


def rows_without_diagonal(gram: np.ndarray, rhs: np.ndarray, rows: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge solutions with w_i = 0, one per row i, from one Gram matrix XᵀX and rhs = Xᵀy (N, rows).

    The unconstrained solution w = A⁻¹b (A = XᵀX + ρI) minus the multiple of A⁻¹e_i that zeroes
    entry i (a Lagrange multiplier): w = A⁻¹b − (A⁻¹b)_i / (A⁻¹)_ii · A⁻¹e_i. One inverse serves
    every row.
    """
    rho = ridge * float(np.mean(np.diag(gram)))
    inv = np.linalg.inv(gram + max(rho, 1e-300) * np.eye(gram.shape[0]))
    full = (inv @ rhs).T  # (rows, N)
    k = np.arange(len(rows))
    lam = full[k, rows] / inv[rows, rows]
    out = full - lam[:, None] * inv[:, rows].T
    out[k, rows] = 0.0  # zero up to rounding already; exactly zero like the model's masked diagonal
    return out


def fit_weights(
    dyn: SignalDynamics, u: np.ndarray, du: np.ndarray, e: np.ndarray | None, ridge: float = RIDGE,
) -> tuple[np.ndarray, np.ndarray]:
    """``(Ŵ, X)``: the oracle's W (N×N, zero diagonal) and the design of the first receiver group."""
    u, du = np.asarray(u, np.float64), np.asarray(du, np.float64)
    e = None if e is None else np.asarray(e, np.float64)
    n = u.shape[1]
    y = targets(dyn, u, du, e)
    W = np.zeros((n, n))
    multiplicative = e is not None and dyn.has_input and dyn.mode == InputMode.multiplicative
    groups = receiver_groups(dyn, u)
    for rows, X in groups:
        if multiplicative:
            W[rows] = per_row_weights(X, y, e, rows, ridge)
        else:
            W[rows] = rows_without_diagonal(X.T @ X, X.T @ y[:, rows], rows, ridge)
    W[dyn.gain == 0] = 0.0
    return W, groups[0][1]


def per_row_weights(X: np.ndarray, y: np.ndarray, e: np.ndarray, rows: np.ndarray, ridge: float) -> np.ndarray:
    """Rows of Ŵ when each receiver has its own design x_j(t)·e_i(t) (a multiplicative input)."""
    idx = np.arange(0, X.shape[0], max(1, -(-X.shape[0] // MAX_FRAMES_PER_ROW)))
    X, y, e = X[idx], y[idx], e[idx]
    out = np.zeros((len(rows), X.shape[1]))
    for k, i in enumerate(rows):
        keep = np.arange(X.shape[1]) != i
        out[k, keep] = ridge_lstsq(X[:, keep] * e[:, i : i + 1], y[:, i], ridge)
    return out


def weak_neurons(X: np.ndarray, ridge: float = RIDGE) -> tuple[int, int]:
    """``(design rank above the ridge level, presynaptic neurons mostly in the directions below it)``.

    The SVD runs on R of X = QR (N×N), which has X's singular values and right singular vectors.
    """
    R = np.linalg.qr(np.asarray(X, np.float64), mode="r")
    level = np.sqrt(ridge * float(np.mean(np.sum(np.square(X, dtype=np.float64), axis=0))))
    sigma_max = np.linalg.norm(R, 2)
    sigma, share = weak_directions(R, level / sigma_max if sigma_max > 0 else 1.0)
    return int(np.sum(sigma > level)), int(np.sum(share > WEAK_SHARE))


def target_motion(u: np.ndarray, du: np.ndarray, dt: float) -> float:
    """median_t rms_i du_i(t) · Δt / std(u): a typical frame's motion relative to the activity's spread."""
    spread = float(np.std(u))
    rms = np.sqrt(np.mean(np.square(du, dtype=np.float64), axis=1))
    return float(np.median(rms)) * dt / spread if spread > 0 else 0.0


def subsample(arrays: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """u, du and e on at most :data:`MAX_FRAMES` evenly strided frames."""
    step = max(1, -(-arrays["u"].shape[0] // MAX_FRAMES))
    e = arrays["e"][::step] if "e" in arrays else None
    return arrays["u"][::step], arrays["du"][::step], e


def oracle_metrics(
    dyn: SignalDynamics, arrays: Mapping[str, np.ndarray], ridge: float = RIDGE,
) -> tuple[dict[str, Any], np.ndarray | None]:
    """``(metrics, Ŵ)`` of the module docstring, from the training arrays of one dataset.

    ``({}, None)`` above :data:`MAX_NEURONS` neurons.
    """
    if arrays["u"].shape[1] > MAX_NEURONS:
        return {}, None
    u, du, e = subsample(arrays)
    W_hat, X = fit_weights(dyn, u, du, e, ridge)
    r2 = linear_fit(arrays["W"].astype(np.float64), W_hat).r2
    rank, n_weak = weak_neurons(X, ridge)
    motion = target_motion(arrays["u"], arrays["du"], float(arrays["delta_t"]))
    metrics: dict[str, Any] = {
        "oracle_connectivity_R2": r2 if np.isfinite(r2) else 0.0,
        "oracle_ridge": ridge,
        "oracle_design_rank": rank,
        "oracle_n_weak_neurons": n_weak,
        "target_motion": motion,
    }
    reason = limitation(dyn, metrics, u.shape[1])
    if reason:
        metrics["data_limited_reason"] = reason
    return metrics, W_hat


def limitation(dyn: SignalDynamics, metrics: Mapping[str, Any], n: int) -> str | None:
    """One line saying why the data limit the recovery, or None when the oracle is above :data:`LIMIT`."""
    loop = f"spectral radius of W x gain = {spectral_radius(dyn.W) * float(np.max(np.abs(dyn.gain))):.3g}"
    if metrics["target_motion"] < SETTLED:
        return (f"the activity settles to a fixed point (du/dt moves u by {metrics['target_motion']:.1e} of its "
                f"spread per frame; {loop}, leak {leak_rate(dyn):.3g}): add trials, input or process noise")
    if metrics["oracle_connectivity_R2"] > LIMIT:
        return None
    return (f"{metrics['oracle_n_weak_neurons']} of {n} presynaptic neurons are weakly excited (design rank "
            f"{metrics['oracle_design_rank']}/{n} above ridge {metrics['oracle_ridge']:g}; {loop})")
