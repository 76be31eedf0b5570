"""Scores of a trained fly visual system model against the truth, and the arrays of results.npz.

The metrics are described in :mod:`neuralgraph.families.flyvis.family`. Each part (connectivity,
τ and V_rest, the visual field, cell types, the held-out rollout) adds its metrics and its arrays;
``results.npz`` then holds everything the plots need, so they never touch the model:

- ``W_true``, ``W_learned`` (the raw learned weight, as in every family), ``W_corrected`` (the
  scale-corrected weight that ``connectivity_R2`` scores), ``W_identifiable``, ``edge_src``/``edge_tgt``,
  ``W_oracle`` (the known-law oracle's weights on the true edges, :mod:`~neuralgraph.families.flyvis.oracle`);
- ``tau_*``, ``V_rest_*``, ``embeddings``, ``types``, ``type_names``, ``cluster_labels`` (the
  headline's), ``baseline_cluster_labels`` (the graph-only baseline's), ``f_slope``, ``f_msg_gain``, ``g_slope``;
- ``rollout_true``/``rollout_pred``/``rollout_neurons`` (the eight most active test neurons);
- ``curve_v``, ``curve_f``, ``curve_g``, ``curve_neurons`` (learned functions, one neuron per type);
- ``field_true``, ``field_learned``, ``field_frames`` when the field is learned.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from neuralgraph.config.base import RunConfig
from neuralgraph.families.flyvis import celltypes
from neuralgraph.families.flyvis.config import FlyVisEvaluation
from neuralgraph.families.flyvis.model import FlyVisGNN
from neuralgraph.families.flyvis.oracle import oracle_metrics
from neuralgraph.families.flyvis.readout import corrected_weights, identifiable_edges, linearise
from neuralgraph.families.flyvis.rollout import rollout
from neuralgraph.metrics import linear_fit, offset_gauge_r2, r2_score, trace_pearson, trace_r2
from neuralgraph.metrics.regression import LinearFit
from neuralgraph.metrics.cluster import cluster_accuracy as embedding_cluster_accuracy
from neuralgraph.metrics.cluster import matched_accuracy

#: Frames scored by field_R2 (0 … FIELD_FRAMES, step 2), as in the reference.
FIELD_FRAMES = 800
#: Test neurons whose traces results.npz keeps for the rollout figure.
ROLLOUT_SHOWN = 8

Metrics = dict[str, Any]
Results = dict[str, np.ndarray]


def connectivity(model: FlyVisGNN, arrays: Mapping[str, np.ndarray], fit: Mapping[str, np.ndarray]) -> tuple[Metrics, Results]:
    """Raw and scale-corrected W against the truth (null edges have true weight 0)."""
    n_true = arrays["W"].shape[0]
    W_learned = model.W.detach().double().cpu().numpy()
    src = model.edge_src.cpu().numpy()
    tgt = model.edge_tgt.cpu().numpy()
    W_true = np.concatenate([arrays["W"].astype(np.float64), np.zeros(len(W_learned) - n_true)])
    W_corr = corrected_weights(W_learned, src, tgt, fit["alpha"], fit["gamma"], fit["g_slope"])
    ident = identifiable_edges(arrays["x"], src, tgt)
    lf = linear_fit(W_true[ident], W_corr[ident])
    metrics: Metrics = {
        "connectivity_R2": lf.r2,
        "connectivity_slope": lf.slope,
        "connectivity_R2_all": linear_fit(W_true, W_corr).r2,
        "connectivity_R2_raw": linear_fit(W_true[ident], W_learned[ident]).r2,
        "n_unidentifiable_edges": int((~ident).sum()),
    }
    if len(W_learned) > n_true:
        metrics["null_edges_mean_abs_W"] = float(np.mean(np.abs(W_corr[n_true:])))
    results: Results = {
        "W_true": W_true.astype(np.float32), "W_learned": W_learned.astype(np.float32),
        "W_corrected": W_corr.astype(np.float32), "W_identifiable": ident,
        "edge_src": src.astype(np.int32), "edge_tgt": tgt.astype(np.int32),
    }
    return metrics, results


def neuron_parameters(arrays: Mapping[str, np.ndarray], fit: Mapping[str, np.ndarray],
                      input_unknown: bool = False) -> tuple[Metrics, Results]:
    """τ and V_rest read out per neuron against the per-type truth.

    With the input unknown (a learned or projected field) the resting potential of R1–R8 and the
    input enter only as V_rest + I: a constant moved from one to the other changes nothing the data
    show, so ``V_rest_R2`` then allows that one constant (the line fit plus a free offset for
    R1–R8, :func:`~neuralgraph.metrics.offset_gauge_r2`); ``V_rest_R2_all`` is the plain line fit.
    """
    tau_true, vr_true = arrays["tau"], arrays["V_rest"]
    driven = np.zeros(len(vr_true), dtype=bool)
    if input_unknown:
        driven[arrays["input_nodes"]] = True
    metrics: Metrics = {
        "tau_R2": linear_fit(tau_true, fit["tau"]).r2,
        "tau_R2_identity": r2_score(tau_true, fit["tau"]),
        "V_rest_R2": offset_gauge_r2(vr_true, fit["V_rest"], driven),
        "V_rest_R2_all": linear_fit(vr_true, fit["V_rest"]).r2,
        "V_rest_R2_identity": r2_score(vr_true, fit["V_rest"]),
        "V_rest_R2_plain": linear_fit(vr_true, fit["V_rest_plain"]).r2,
    }
    results: Results = {
        "tau_true": tau_true, "tau_learned": fit["tau"], "V_rest_true": vr_true, "V_rest_learned": fit["V_rest"],
        "f_slope": fit["alpha"], "f_msg_gain": fit["gamma"], "g_slope": fit["g_slope"],
    }
    return metrics, results


def visual_field(model: FlyVisGNN, arrays: Mapping[str, np.ndarray], device: torch.device) -> tuple[LinearFit, Results]:
    """The line fit of the true luminance against Ω² over every column of frames 0, 2, …, FIELD_FRAMES."""
    frames = torch.arange(0, min(FIELD_FRAMES, arrays["stimulus"].shape[0]), 2, device=device)
    with torch.no_grad():
        pred_field = torch.cat([model.field_values(c) for c in frames.split(64)]).cpu().numpy()
    true_field = arrays["stimulus"][frames.cpu().numpy()]
    results: Results = {
        "field_true": true_field.astype(np.float32), "field_learned": pred_field.astype(np.float32),
        "field_frames": frames.cpu().numpy(),
    }
    return linear_fit(true_field, pred_field), results


def cell_types(model: FlyVisGNN, arrays: Mapping[str, np.ndarray], fit: Mapping[str, np.ndarray],
               W_corrected: np.ndarray, evaluation: FlyVisEvaluation, seed: int) -> tuple[Metrics, Results]:
    """Cell types from learned quantities only, beside what the given graph alone gives.

    Headline (``cluster_accuracy``, ``cluster_ARI``, ``n_clusters``): the learned dynamics of each
    neuron, [log τ_i, V_rest,i] read from f_θ (:func:`~neuralgraph.families.flyvis.readout.linearise`),
    with the embedding a_i too under ``evaluation.cluster_embedding``, standardised and clustered
    with k chosen from these features (``evaluation.n_clusters=0``, :mod:`.celltypes`) or fixed.
    With one f_θ per embedding, two types whose drawn τ and V_rest nearly coincide behave alike
    and merge here whatever the learner.

    Graph-only baseline (``baseline_cluster_accuracy``, ``baseline_cluster_ARI``): the same
    clustering, at the same k, of what the given wiring alone says of each neuron, every weight set
    to 1 (:func:`.celltypes.graph_types`).
    ``cluster_beats_graph``: the headline is above the baseline on both accuracy and ARI; only then
    do the learned quantities tell the types apart better than the given graph does.

    Diagnostic (never the headline): ``cluster_accuracy_with_wiring``, the former second stage,
    the headline's features with each neuron's learned in- and out-weights summed by its partners'
    headline clusters appended (:func:`.celltypes.with_wiring`), at the headline's k; and
    ``cluster_accuracy_with_unit_wiring``, the same with every weight 1 — how much of that lift the
    given graph gives without anything learned about the weights.
    """
    types = arrays["node_type"]
    src, tgt = model.edge_src.cpu().numpy(), model.edge_tgt.cpu().numpy()
    emb = model.a.detach().cpu().numpy()
    parts = [np.log(np.clip(fit["tau"], 1e-3, None))[:, None], np.asarray(fit["V_rest"])[:, None]]
    dynamics = celltypes.standardised(np.concatenate(([emb] if evaluation.cluster_embedding else []) + parts, 1))
    e = evaluation
    labels, k = celltypes.read_types(dynamics, e.cluster_method, e.n_clusters, e.n_clusters_min, e.n_clusters_max,
                                     e.cluster_criterion, seed)
    base = celltypes.graph_types(len(types), src, tgt, e.cluster_method, k, seed)
    wired = celltypes.with_wiring(dynamics, labels, np.asarray(W_corrected, dtype=np.float64), src, tgt,
                                  e.cluster_method, k, seed)
    unit = celltypes.with_wiring(dynamics, labels, np.ones(len(src)), src, tgt, e.cluster_method, k, seed)
    acc_emb, n_clusters_emb = embedding_cluster_accuracy(emb, types)
    metrics: Metrics = {
        "cluster_accuracy": matched_accuracy(labels, types),
        "cluster_ARI": float(adjusted_rand_score(types, labels)),
        "n_clusters": k,
        "baseline_cluster_accuracy": matched_accuracy(base, types),
        "baseline_cluster_ARI": float(adjusted_rand_score(types, base)),
        "cluster_accuracy_with_wiring": matched_accuracy(wired, types),
        "cluster_accuracy_with_unit_wiring": matched_accuracy(unit, types),
        "cluster_accuracy_embedding": acc_emb,
        "n_clusters_embedding": n_clusters_emb,
    }
    metrics["cluster_beats_graph"] = bool(metrics["cluster_accuracy"] > metrics["baseline_cluster_accuracy"]
                                          and metrics["cluster_ARI"] > metrics["baseline_cluster_ARI"])
    results: Results = {"embeddings": emb, "types": types, "type_names": arrays["type_names"], "cluster_labels": labels,
                        "baseline_cluster_labels": base}
    return metrics, results


def held_out_rollout(model: FlyVisGNN, arrays: Mapping[str, np.ndarray], cfg: RunConfig, device: torch.device,
                     field_fit: LinearFit | None) -> tuple[Metrics, Results]:
    """Free rollout on the noise-free test movie, scored trace by trace over the responsive neurons."""
    t = cfg.evaluation
    n_roll = min(t.n_rollout_frames, arrays["x_test"].shape[0])
    x_test = arrays["x_test"][:n_roll]
    stim_np = arrays["stimulus_test"][:n_roll]
    if field_fit is not None and np.isfinite(field_fit.slope):
        # f_θ was trained on Ω², which matches the luminance only up to the affine map measured
        # by field_R2 (Ω² ≈ slope·luminance + intercept): the held-out movie is fed through it.
        stim_np = field_fit.slope * stim_np + field_fit.intercept
    stim = torch.as_tensor(stim_np.astype(np.float32), device=device)
    pred = rollout(model, torch.as_tensor(x_test[0], device=device), stim, cfg.simulation.delta_t).cpu().numpy()
    responsive = x_test.std(axis=0) >= t.test_min_std
    if not responsive.any():
        responsive[:] = True
    metrics: Metrics = {
        "test_R2": trace_r2(x_test[:, responsive], pred[:, responsive]),
        "test_pearson": trace_pearson(x_test[:, responsive], pred[:, responsive]),
        "test_R2_pooled": r2_score(x_test, pred),
        "test_rmse": float(np.sqrt(np.mean((pred - x_test) ** 2))),
        "n_test_neurons": int(responsive.sum()),
    }
    show = np.argsort(-x_test.std(axis=0))[:ROLLOUT_SHOWN]
    results: Results = {
        "rollout_true": x_test[:, show].astype(np.float32), "rollout_pred": pred[:, show].astype(np.float32),
        "rollout_neurons": show,
    }
    return metrics, results


def function_curves(model: FlyVisGNN, arrays: Mapping[str, np.ndarray], device: torch.device) -> Results:
    """f_θ(v, a, 0, 0) and g_φ(v, a)² on a common v grid, for one neuron per cell type (for plots)."""
    types = arrays["node_type"]
    first = np.asarray([np.nonzero(types == k)[0][0] for k in np.unique(types)])
    sample = arrays["x"][:: max(1, arrays["x"].shape[0] // 500)]
    v = torch.linspace(float(np.quantile(sample, 0.01)), float(np.quantile(sample, 0.99)), 64, device=device)
    idx = torch.as_tensor(first, device=device)
    grid = v.unsqueeze(-1).expand(-1, len(first))
    zeros = torch.zeros_like(grid)
    with torch.no_grad():
        f = model.f(grid, model.a[idx], zeros, zeros).T.cpu().numpy()
        g = model.g(grid, model.a[idx]).T.cpu().numpy()
    return {"curve_v": v.cpu().numpy(), "curve_f": f, "curve_g": g, "curve_neurons": first}


def evaluate(model: FlyVisGNN, arrays: Mapping[str, np.ndarray], cfg: RunConfig,
             device: torch.device) -> tuple[Metrics, Results]:
    """``(metrics, results)`` of a trained model (see the module docstring for the arrays)."""
    model.eval()
    fit = linearise(model, arrays, device)
    metrics, results = connectivity(model, arrays, fit)
    neuron_metrics, neuron_results = neuron_parameters(arrays, fit, input_unknown=model.learn_field)
    metrics.update(neuron_metrics)
    results.update(neuron_results)
    field_fit = None
    if model.learn_field:
        field_fit, field_results = visual_field(model, arrays, device)
        metrics["field_R2"] = field_fit.r2
        results.update(field_results)
    # k-means and the silhouettes run on as many threads as the run was given (num_threads), not on
    # every core: on a shared machine OpenMP's default slows the scan of k several-fold.
    with threadpool_limits(limits=torch.get_num_threads()):
        types_part = cell_types(model, arrays, fit, results["W_corrected"], cfg.evaluation, cfg.training.seed)
    for part in (types_part, held_out_rollout(model, arrays, cfg, device, field_fit)):
        metrics.update(part[0])
        results.update(part[1])
    oracle_scores, W_oracle = oracle_metrics(arrays, float(cfg.simulation.input_gain))
    metrics.update(oracle_scores)
    results["W_oracle"] = W_oracle.astype(np.float32)
    metrics["n_neurons"] = int(len(arrays["node_type"]))
    metrics["n_edges"] = int(arrays["W"].shape[0])
    results.update(function_curves(model, arrays, device))
    return metrics, results
