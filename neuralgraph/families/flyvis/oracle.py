r"""Known-law oracle of the fly visual system: W (and τ, V_rest) by least squares on the true law.

The ground truth τ_i dv_i/dt = −v_i + V_rest,i + Σ_j W_ij ReLU(v_j) + I_i is linear in the weights
of each target neuron's known in-edges once τ and V_rest are known:

    z_i(t) = τ_i dv_i/dt + v_i − V_rest,i − I_i(t) = Σ_{j→i} W_ij ReLU(v_j(t))

and, without them, linear in θ = (1/τ_i, V_rest,i/τ_i, W_ij/τ_i):

    dv_i/dt = θ_0 (I_i − v_i) + θ_1 + Σ_{j→i} θ_j ReLU(v_j)

Each target neuron is one ridge problem (:func:`neuralgraph.metrics.oracle.ridge_lstsq`, ρ = λ ·
mean diagonal of XᵀX, λ = :data:`RIDGE`, reported as ``oracle_ridge``) over at most
:data:`MAX_FRAMES` evenly strided training frames. I_i = ``input_gain`` · luminance of the
neuron's column on R1–R8, 0 elsewhere.

Metrics:

- ``oracle_connectivity_R2`` — W given the true τ and V_rest, scored like ``connectivity_R2``
  (line-fit R² over the identifiable true edges; the model's extra null edges are not part of
  the known law);
- ``oracle_connectivity_R2_joint``, ``oracle_tau_R2``, ``oracle_V_rest_R2`` — W, τ and V_rest
  fitted together, neuron by neuron. For τ and V_rest this is a reference fit, not an upper bound:
  it estimates each neuron's τ and V_rest from that neuron's frames alone, while the truth shares
  them across a cell type, which a learner can exploit through its embeddings (the full-size
  runs of docs/flyvis.md show the learner above it on τ);
- ``oracle_n_weak_edges`` — edges with more than :data:`WEAK_SHARE` of their unit vector in the
  directions of their neuron's design whose σ² is below ρ (never-active senders, senders whose
  activity repeats another's): their weights are what the data cannot determine;
- ``data_limited_reason`` — one line, when ``oracle_connectivity_R2`` is at or below :data:`LIMIT`.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from neuralgraph.families.flyvis.readout import identifiable_edges
from neuralgraph.metrics.oracle import ridge_lstsq, weak_directions
from neuralgraph.metrics.regression import linear_fit

#: λ of the ridge (ρ = λ · mean diagonal of XᵀX per neuron).
RIDGE = 1e-4
#: Frames the oracle uses at most (evenly strided over the training frames).
MAX_FRAMES = 4000
#: Share of an edge's unit vector in the weak directions above which it counts as weak.
WEAK_SHARE = 0.25
#: An oracle at or below this makes the run data-limited (the convergence threshold of train.py).
LIMIT = 0.9


def external_input(arrays: Mapping[str, np.ndarray], frames: np.ndarray, input_gain: float) -> np.ndarray:
    """I (frames, N): input_gain · luminance of each photoreceptor's column, 0 elsewhere."""
    n = arrays["x"].shape[1]
    nodes = arrays["input_nodes"].astype(np.int64)
    I = np.zeros((len(frames), n))
    I[:, nodes] = input_gain * arrays["stimulus"][frames][:, arrays["node_col"][nodes]]
    return I


def edges_by_target(tgt: np.ndarray, n: int) -> list[np.ndarray]:
    """For each neuron, the indices of its in-edges."""
    order = np.argsort(tgt, kind="stable")
    return np.split(order, np.cumsum(np.bincount(tgt, minlength=n))[:-1])


def n_weak(X: np.ndarray, ridge: float) -> np.ndarray:
    """Per column of X: is it mostly in the directions whose σ² is below ridge · mean column energy?"""
    if X.shape[1] == 0:
        return np.zeros(0, dtype=bool)
    R = np.linalg.qr(X, mode="r")  # X's singular values and right vectors, in a small square
    level = np.sqrt(ridge * float(np.mean(np.sum(X * X, axis=0))))
    sigma_max = np.linalg.norm(R, 2)
    _, share = weak_directions(R, level / sigma_max if sigma_max > 0 else 1.0)
    return share > WEAK_SHARE


def fit(arrays: Mapping[str, np.ndarray], input_gain: float, ridge: float = RIDGE) -> dict[str, np.ndarray]:
    """Per-edge W given τ, V_rest (``W``), the joint fit (``W_joint``, ``tau``, ``V_rest``), and ``weak`` edges."""
    x_all = arrays["x"]
    frames = np.arange(0, x_all.shape[0], max(1, -(-x_all.shape[0] // MAX_FRAMES)))
    v = x_all[frames].astype(np.float64)
    dv = arrays["y"][frames].astype(np.float64)
    I = external_input(arrays, frames, input_gain)
    r = np.maximum(v, 0.0)
    src, tgt = arrays["edge_src"].astype(np.int64), arrays["edge_tgt"].astype(np.int64)
    n = v.shape[1]
    tau_true, vr_true = arrays["tau"], arrays["V_rest"]
    out = {"W": np.zeros(len(src)), "W_joint": np.zeros(len(src)), "tau": np.full(n, np.nan),
           "V_rest": np.full(n, np.nan)}
    seen = np.any(r > 0, axis=0)  # a sender never above threshold sends nothing: its weights stay 0
    out["weak"] = ~seen[src]
    for i, all_edges in enumerate(edges_by_target(tgt, n)):
        edges = all_edges[seen[src[all_edges]]]
        X = r[:, src[edges]]
        z = tau_true[i] * dv[:, i] + v[:, i] - vr_true[i] - I[:, i]
        if len(edges):
            out["W"][edges] = ridge_lstsq(X, z, ridge)
            out["weak"][edges] = n_weak(X, ridge)
        theta = ridge_lstsq(np.column_stack([I[:, i] - v[:, i], np.ones(len(frames)), X]), dv[:, i], ridge)
        if theta[0] != 0:
            out["tau"][i], out["V_rest"][i] = 1.0 / theta[0], theta[1] / theta[0]
            out["W_joint"][edges] = theta[2:] / theta[0]
    return out


def _r2(true: np.ndarray, estimate: np.ndarray) -> float:
    ok = np.isfinite(estimate)
    r2 = linear_fit(true[ok], estimate[ok]).r2 if ok.sum() > 2 else float("nan")
    return r2 if np.isfinite(r2) else 0.0


def oracle_metrics(arrays: Mapping[str, np.ndarray], input_gain: float, ridge: float = RIDGE) -> tuple[dict[str, Any], np.ndarray]:
    """``(metrics, Ŵ given τ and V_rest)`` of the module docstring."""
    est = fit(arrays, input_gain, ridge)
    W_true = arrays["W"].astype(np.float64)
    ident = identifiable_edges(arrays["x"], arrays["edge_src"], arrays["edge_tgt"])
    metrics: dict[str, Any] = {
        "oracle_connectivity_R2": _r2(W_true[ident], est["W"][ident]),
        "oracle_connectivity_R2_joint": _r2(W_true[ident], est["W_joint"][ident]),
        "oracle_tau_R2": _r2(arrays["tau"], est["tau"]),
        "oracle_V_rest_R2": _r2(arrays["V_rest"], est["V_rest"]),
        "oracle_ridge": ridge,
        "oracle_n_weak_edges": int(est["weak"].sum()),
    }
    if metrics["oracle_connectivity_R2"] <= LIMIT:
        metrics["data_limited_reason"] = (
            f"{metrics['oracle_n_weak_edges']} of {len(W_true)} edges are weakly excited (their senders' activity is "
            f"rarely above threshold or repeats another's): add stimulus kinds, frames or process noise")
    return metrics, est["W"]
