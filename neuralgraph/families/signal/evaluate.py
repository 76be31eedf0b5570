r"""Scores of a trained signal model against the truth, and the arrays of ``results.npz``.

Metrics (keys of ``analysis.log``):

- ``connectivity_R2``, ``connectivity_slope`` — least-squares line of the corrected learned
  weights W*_ij·m*_j against the identifiable true weights g_i·W_ij·m_j over all N² entries
  (R² = squared Pearson r; slope 1 = right scale), m_j half the difference of the medians of
  sender j's transfer function on [0.8, 1]·x_norm and on its mirror [−1, −0.8]·x_norm (x_norm =
  1.5·std u; ``evaluation.psi_norm_window``; blind to the offset φ* absorbs): the learned side from the
  learned ψ* alone, the truth only in the target (:mod:`neuralgraph.families.signal.readout`).
- ``effective_rank_90`` / ``effective_rank_99`` — smallest number of singular values of the
  uncentred training activity (frames × neurons) holding 90 % / 99 % of Σσ²
  (:func:`neuralgraph.families.signal.simulate.activity_ranks`).
- ``spectral_radius`` — max |λ(W_true)|.
- ``transfer_condition`` — condition number of the centred true presynaptic signals ψ_j(u_j)
  over the training frames (:func:`neuralgraph.families.signal.simulate.transfer_condition`): how
  well the data determine W at all: a neuron stuck in saturation or activity collapsed onto a few
  dimensions sends it up by orders of magnitude (the values seen where W is and is not recovered:
  docs/signal.md).
- ``test_R2`` — free rollout of the trained model from frame 0 for ``evaluation.n_rollout_frames``
  Euler steps (at most the first trial's length), against a noise-free re-simulation of the ground truth from the same state; the
  mean snapshot R² every ``evaluation.rollout_every`` frames (:mod:`neuralgraph.metrics.rollout`).
- ``test_horizon`` / ``truth_horizon`` — first snapshot frame where the rollout's R² drops below
  0.9, for the model and for the truth against itself from a start perturbed by 10⁻⁶·std: in
  chaotic regimes test_R2 over 1000 frames is low for any model, and a model horizon close to
  the truth's own is the best possible.
- ``test_pearson`` — mean over neurons of the Pearson r between the two rollouts' traces.
- ``cluster_accuracy`` / ``n_clusters`` — single-linkage clustering of the min-max normalised
  embeddings at ``evaluation.cluster_threshold``, matched one-to-one to the true types
  (:mod:`neuralgraph.metrics.cluster`). Reported only with more than one type.
- ``field_R2`` — with a learned input field: R² of the least-squares line of learned against true
  input over the driven neurons and all frames.
- ``W_sign_accuracy`` — with Dale's law: fraction of non-zero true weights whose corrected learned
  weight has the same sign as its target.
- ``oracle_connectivity_R2``, ``oracle_ridge``, ``oracle_design_rank``, ``oracle_n_weak_neurons``,
  ``target_motion`` and, for data that cannot support recovery, ``data_limited_reason`` — the
  known-law oracle on the same training data (:mod:`neuralgraph.families.signal.oracle`): what
  any learner could reach, beside what this one reached (up to 2,000 neurons).

Arrays: ``W_true``, ``W_learned`` (the raw learned W), ``W_corrected`` (W*_ij·m*_j),
``W_target`` (g_i·W_ij·m_j), ``W_oracle`` (the oracle's W in the target's gauge, g_i·Ŵ_ij·m_j),
``sender_scale`` (m*_j of the learned ψ*), ``sender_level_true`` (m_j of the true ψ), ``embeddings``, ``types``, ``rollout_true`` /
``rollout_pred``, ``e_learned`` (with a learned field) and the function curves of
:func:`neuralgraph.families.signal.curves.function_curves`.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from neuralgraph.config.base import RunConfig
from neuralgraph.families.signal import simulate as sim_signal
from neuralgraph.families.signal.config import SignalEvaluation
from neuralgraph.families.signal.curves import function_curves, psi_learned, psi_true, x_norm
from neuralgraph.families.signal.model import SignalGNN, rollout
from neuralgraph.families.signal.oracle import oracle_metrics
from neuralgraph.families.signal.readout import effective_weights, sender_level
from neuralgraph.metrics.cluster import cluster_accuracy
from neuralgraph.metrics.regression import linear_fit
from neuralgraph.metrics.rollout import rollout_horizon, rollout_r2
from neuralgraph.metrics.traces import trace_pearson


def dynamics(arrays: Mapping[str, np.ndarray], cfg: RunConfig) -> sim_signal.SignalDynamics:
    """The ground-truth right-hand side of this dataset."""
    return sim_signal.build_dynamics(cfg.simulation, arrays["W"].astype(np.float64), arrays["types"])


def corrected_weights(
    model: SignalGNN, dyn: sim_signal.SignalDynamics, u: np.ndarray, evaluation: SignalEvaluation,
) -> dict[str, np.ndarray]:
    """The learned W as is and corrected, its target and both levels; see :mod:`.readout`."""
    xn = x_norm(u)
    lo, hi = (float(v) for v in evaluation.psi_norm_window)
    xs = np.linspace(lo * xn, hi * xn, 1000)
    level = sender_level(psi_learned(model, xs), psi_learned(model, -xs))
    level_true = sender_level(psi_true(dyn, model.n, xs), psi_true(dyn, model.n, -xs))
    with torch.no_grad():
        W = model.weight().detach().cpu().numpy().astype(np.float64)
    return {
        "W_learned": W,
        "W_corrected": effective_weights(W, level),
        "W_target": effective_weights(dyn.W, level_true, dyn.gain),
        "sender_scale": level,
        "sender_level_true": level_true,
    }


def connectivity_metrics(W_true: np.ndarray, weights: Mapping[str, np.ndarray], dale: bool) -> dict[str, Any]:
    """Line fits of the corrected W against its target and of the raw W against the true W."""
    raw = linear_fit(W_true, weights["W_learned"])
    corr = linear_fit(weights["W_target"], weights["W_corrected"])
    metrics = {
        "connectivity_R2": corr.r2,
        "connectivity_slope": corr.slope,
        "connectivity_R2_raw": raw.r2,
        "connectivity_slope_raw": raw.slope,
    }
    if dale:
        target = weights["W_target"]
        nz = target != 0
        metrics["W_sign_accuracy"] = float(np.mean(np.sign(weights["W_corrected"][nz]) == np.sign(target[nz])))
    return metrics


def data_metrics(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """What the simulator measured on the dataset (ranks, spectral radius, conditioning)."""
    metrics = {
        "effective_rank_90": int(arrays["effective_rank_90"]),
        "effective_rank_99": int(arrays["effective_rank_99"]),
        "spectral_radius": float(arrays["spectral_radius"]),
    }
    if "transfer_condition" in arrays:
        metrics["transfer_condition"] = float(arrays["transfer_condition"])
    return metrics


def rollout_metrics(
    model: SignalGNN, dyn: sim_signal.SignalDynamics, arrays: Mapping[str, np.ndarray], evaluation: SignalEvaluation,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """(metrics, truth, prediction): the free rollout against a noise-free re-simulation."""
    dt = float(arrays["delta_t"])
    first_trial = int(arrays["trial_bounds"][1]) if "trial_bounds" in arrays else arrays["u"].shape[0]
    n_steps = int(min(evaluation.n_rollout_frames, first_trial - 1))
    every = int(evaluation.rollout_every)
    u0 = arrays["u"][0].astype(np.float64)
    e = arrays["e"].astype(np.float64) if "e" in arrays else None
    truth = sim_signal.rollout(dyn, u0, n_steps, dt, e)
    pred = rollout(model, u0, n_steps, dt, arrays.get("e"))
    metrics = {"test_R2": rollout_r2(truth, pred, every)}
    # Chaos baseline: the truth against itself from a start perturbed by 1e-6 of the activity std.
    rng = np.random.default_rng(0)
    u0_perturbed = u0 + 1e-6 * float(np.std(u0)) * rng.standard_normal(u0.shape)
    twin = sim_signal.rollout(dyn, u0_perturbed, n_steps, dt, e)
    metrics["test_horizon"] = rollout_horizon(truth, pred, 0.9, every)
    metrics["truth_horizon"] = rollout_horizon(truth, twin, 0.9, every)
    finite = np.isfinite(pred).all(axis=1)
    metrics["test_pearson"] = trace_pearson(truth[finite], pred[finite]) if finite.sum() > 2 else float("nan")
    return metrics, truth, pred


def learned_field(model: SignalGNN, arrays: Mapping[str, np.ndarray]) -> tuple[dict[str, Any], np.ndarray]:
    """(field_R2, the learned input at every frame)."""
    with torch.no_grad():
        frames = torch.arange(arrays["u"].shape[0], device=model.a.device)
        learned = torch.cat([model.field(chunk) for chunk in frames.split(4096)]).cpu().numpy()
    n_in = model.field.n_input
    return {"field_R2": linear_fit(arrays["e"][:, :n_in], learned[:, :n_in]).r2}, learned


def evaluate(
    model: SignalGNN, arrays: Mapping[str, np.ndarray], cfg: RunConfig,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metrics, results) of the module docstring."""
    model.eval()
    t = cfg.evaluation
    dyn = dynamics(arrays, cfg)
    W_true = arrays["W"].astype(np.float64)
    weights = corrected_weights(model, dyn, arrays["u"], t)
    metrics = connectivity_metrics(W_true, weights, bool(cfg.simulation.Dale_law))
    metrics.update(data_metrics(arrays))
    oracle_scores, W_oracle = oracle_metrics(dyn, arrays)
    metrics.update(oracle_scores)
    scores, truth, pred = rollout_metrics(model, dyn, arrays, t)
    metrics.update(scores)

    types = arrays["types"]
    emb = model.a.detach().cpu().numpy().astype(np.float64)
    if len(np.unique(types)) > 1:
        acc, n_clusters = cluster_accuracy(emb, types, float(t.cluster_threshold))
        metrics["cluster_accuracy"] = acc
        metrics["n_clusters"] = n_clusters

    results = {
        "W_true": W_true.astype(np.float32),
        **{key: value.astype(np.float32) for key, value in weights.items()},
        "embeddings": emb.astype(np.float32),
        "types": types,
        "rollout_true": truth.astype(np.float32),
        "rollout_pred": pred.astype(np.float32),
    }
    if W_oracle is not None:
        results["W_oracle"] = effective_weights(W_oracle, weights["sender_level_true"], dyn.gain).astype(np.float32)
    if model.field is not None:
        field_scores, learned = learned_field(model, arrays)
        metrics.update(field_scores)
        results["e_learned"] = learned.astype(np.float32)
    results.update(function_curves(model, dyn, arrays["u"]))
    return metrics, results
