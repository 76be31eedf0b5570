"""Truth-free scores of a signal model fitted to a recording (defined in :mod:`.recording`)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from neuralgraph.config.base import RunConfig
from neuralgraph.families.signal.config import UpdateType
from neuralgraph.families.signal.curves import N_POINTS, phi_learned, psi_learned, x_norm
from neuralgraph.families.signal.model import SignalGNN, rollout
from neuralgraph.metrics.cluster import cluster_accuracy, cluster_labels
from neuralgraph.metrics.oracle import weak_directions

#: Directions of the design with σ² below this fraction of the mean σ² are not resolved (as in
#: the simulated oracle, :mod:`neuralgraph.families.signal.oracle`).
DESIGN_LEVEL = 1e-4
#: Share of a sender's unit vector in the unresolved directions above which it counts as weak.
WEAK_SHARE = 0.25
#: Frames of the design matrix at most (evenly strided).
DESIGN_FRAMES = 20000
#: Held-out derivative frames kept in results.npz at most.
STORED_FRAMES = 2000
#: A free rollout is lost once its rms error exceeds this fraction of the activity's std.
HORIZON_ERROR = 0.5


def predict(model: SignalGNN, u: np.ndarray, e: np.ndarray | None, chunk: int = 4096) -> np.ndarray:
    """The model's du/dt at the states ``u`` (frames, N) with the input ``e``: (frames, N), float64."""
    dev = model.a.device
    out = []
    with torch.no_grad():
        for start in range(0, len(u), chunk):
            x = torch.as_tensor(u[start : start + chunk], dtype=torch.float32, device=dev)
            inp = None if e is None else torch.as_tensor(e[start : start + chunk], dtype=torch.float32, device=dev)
            out.append(model.derivative(x, inp).cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def pooled_r2(obs: np.ndarray, pred: np.ndarray) -> float:
    """1 − Σ(pred − obs)² / Σ(obs − mean_i obs)², pooled over frames and neurons."""
    obs, pred = np.asarray(obs, np.float64), np.asarray(pred, np.float64)
    total = float(np.sum((obs - obs.mean(axis=0)) ** 2))
    if total == 0 or not np.all(np.isfinite(pred)):
        return float("nan") if total == 0 else 0.0
    return 1.0 - float(np.sum((pred - obs) ** 2)) / total


def one_step_r2(model: SignalGNN, arrays: Mapping[str, np.ndarray], suffix: str, step: int = 1) -> float:
    """``one_step_R2`` on the frames ``u<suffix>`` (every ``step``-th)."""
    u, du = arrays["u" + suffix][::step], arrays["du" + suffix][::step]
    e = arrays["e" + suffix][::step] if "e" + suffix in arrays else None
    return pooled_r2(du, predict(model, u, e))


def horizon(observed: np.ndarray, pred: np.ndarray, spread: float) -> int:
    """First frame whose rms error over the neurons exceeds :data:`HORIZON_ERROR` · ``spread``
    (the number of frames compared when none does)."""
    error = np.sqrt(np.mean((pred - observed) ** 2, axis=1))
    bad = np.flatnonzero(~(error <= HORIZON_ERROR * spread))  # NaN counts as lost
    return int(bad[0]) if bad.size else len(observed)


def rollout_scores(model: SignalGNN, arrays: Mapping[str, np.ndarray],
                   cfg: RunConfig) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """(rollout metrics, observed and predicted activity of the first held-out segment)."""
    u, bounds, dt = arrays["u_heldout"], arrays["heldout_bounds"], float(arrays["delta_t"])
    e = arrays.get("e_heldout")
    spread = float(np.std(u))
    r2s, horizons, first = [], [], None
    for a, b in zip(bounds[:-1], bounds[1:]):
        # A held-out segment keeps at least 3 grid points (prepare.grid_of): at least 2 steps.
        n_steps = int(max(2, min(cfg.evaluation.n_rollout_frames, b - a - 1)))
        observed = u[a : a + n_steps + 1].astype(np.float64)
        pred = rollout(model, observed[0], n_steps, dt, None if e is None else e[a : a + n_steps + 1])
        r2s.append(pooled_r2(observed[1:], pred[1:]))
        horizons.append(horizon(observed, pred, spread))
        if first is None:
            first = (observed, pred)
    metrics = {"rollout_R2": float(np.mean(r2s)), "rollout_horizon": float(np.mean(horizons))}
    metrics["rollout_horizon_time"] = metrics["rollout_horizon"] * dt
    return metrics, first[0], first[1]


def design_scores(model: SignalGNN, u: np.ndarray) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Identifiability of W from the centred design ψ*(u) of the training frames."""
    u = u[:: max(1, -(-len(u) // DESIGN_FRAMES))]
    with torch.no_grad():
        X = model.psi_nodes(torch.as_tensor(u, dtype=torch.float32, device=model.a.device)).cpu().numpy()
    X = X.astype(np.float64) - X.mean(axis=0)
    R = np.linalg.qr(X, mode="r")  # same singular values and right singular vectors, N × N
    sigma_max = float(np.linalg.norm(R, 2))
    level = float(np.sqrt(DESIGN_LEVEL * np.mean(np.sum(X**2, axis=0))))
    sigma, share = weak_directions(R, level / sigma_max if sigma_max > 0 else 1.0)
    metrics = {
        "design_rank": int(np.sum(sigma > level)),
        "n_weak_neurons": int(np.sum(share > WEAK_SHARE)),
        "design_condition": float(sigma[0] / sigma[-1]) if sigma[-1] > 0 else float("inf"),
    }
    return metrics, {"design_singular_values": sigma, "design_level": np.float64(level), "weak_share": share}


def embedding_scores(model: SignalGNN, arrays: Mapping[str, np.ndarray],
                     threshold: float) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    emb = model.a.detach().cpu().numpy().astype(np.float64)
    labels = cluster_labels(emb, threshold)
    metrics: dict[str, Any] = {"n_clusters": int(len(np.unique(labels)))}
    results = {"embeddings": emb.astype(np.float32), "clusters": labels}
    if "types" in arrays:
        results["types"] = arrays["types"]
        if len(np.unique(arrays["types"])) > 1:
            metrics["cluster_accuracy"] = cluster_accuracy(emb, arrays["types"], threshold)[0]
    return metrics, results


def curves(model: SignalGNN, u: np.ndarray) -> dict[str, np.ndarray]:
    """ψ*_j and φ*_i on [−x_norm, x_norm], x_norm = 1.5·std(u) (no true curve: there is none)."""
    xn = x_norm(u)
    xs = np.linspace(-xn, xn, N_POINTS)
    out = {"curve_u": xs.astype(np.float32), "psi_learned": psi_learned(model, xs).astype(np.float32),
           "x_norm": np.float64(xn)}
    if model.update_type == UpdateType.linear:
        out["phi_learned"] = phi_learned(model, xs).astype(np.float32)
    return out


def sender_swing(psi: np.ndarray) -> np.ndarray:
    """k_j = (ψ*_j(x_norm) − ψ*_j(−x_norm)) / 2 from the curves (N, points) on [−x_norm, x_norm];
    1 where ψ*_j is flat (below 10⁻⁶ of the largest swing), where no scale can be read."""
    k = (psi[:, -1].astype(np.float64) - psi[:, 0]) / 2.0
    flat = np.abs(k) <= 1e-6 * (np.abs(k).max() or 1.0)
    k[flat] = 1.0
    return k


def data_scores(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    return {
        "n_neurons": int(arrays["u"].shape[1]),
        "n_unobserved": int(arrays["n_unobserved"]),
        "n_trials": int(arrays["n_trials"]),
        "n_train_frames": int(arrays["u"].shape[0]),
        "n_heldout_frames": int(arrays["u_heldout"].shape[0]),
        "delta_t": float(arrays["delta_t"]),
        "missing_fraction": float(arrays["missing_fraction"]),
        "sampling_spread": float(arrays["sampling_spread"]),
        "residual_fraction": float(arrays["residual_fraction"]),
    }


def evaluate_recording(model: SignalGNN, arrays: Mapping[str, np.ndarray],
                       cfg: RunConfig) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metrics, results) of :mod:`.recording`."""
    model.eval()
    metrics: dict[str, Any] = {
        "one_step_R2": one_step_r2(model, arrays, "_heldout"),
        "train_one_step_R2": one_step_r2(model, arrays, ""),
    }
    scores, observed, pred = rollout_scores(model, arrays, cfg)
    metrics.update(scores)
    design, design_arrays = design_scores(model, arrays["u"])
    metrics.update(design)
    clusters, cluster_arrays = embedding_scores(model, arrays, float(cfg.evaluation.cluster_threshold))
    metrics.update(clusters)
    metrics.update(data_scores(arrays))
    with torch.no_grad():
        W = model.weight().detach().cpu().numpy()
    step = max(1, -(-arrays["u_heldout"].shape[0] // STORED_FRAMES))
    e = arrays["e_heldout"][::step] if "e_heldout" in arrays else None
    functions = curves(model, arrays["u"])
    k = sender_swing(functions["psi_learned"])
    results = {
        "W_learned": W.astype(np.float32),
        "W_normalized": (W * k[None, :]).astype(np.float32),
        "sender_scale": k,
        "neuron_index": arrays["neuron_index"],
        "neuron_names": arrays["neuron_names"],
        "du_heldout": arrays["du_heldout"][::step].astype(np.float32),
        "du_heldout_pred": predict(model, arrays["u_heldout"][::step], e).astype(np.float32),
        "rollout_observed": observed.astype(np.float32),
        "rollout_pred": pred.astype(np.float32),
        **design_arrays, **cluster_arrays, **functions,
    }
    if "mask" in arrays:
        results["mask"] = arrays["mask"]
    return metrics, results
