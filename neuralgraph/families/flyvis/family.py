r"""The fly visual system family: recover W, τ, V_rest, cell types and the visual input.

Ground truth (``neuralgraph.families.flyvis.simulate``): τ_i dv_i/dt = −v_i + V_rest,i + Σ_j W_ij ReLU(v_j) + I_i
on the optic-lobe connectome of the flyvis package (Lappalainen et al., Nature 2024; MIT licence).
Model (``neuralgraph.families.flyvis.model``): dv_i/dt = f_θ(v_i, a_i, Σ_j W_ji g_φ(v_j, a_j)², e_i), or,
with ``model.update_type=additive``, f_θ(v_i, a_i, e_i) + Σ_j W_ji g_φ(v_j, a_j): linear in W, which
``training.W_solve_every`` then sets by least squares given the functions
(:mod:`~neuralgraph.families.flyvis.solve`, variable projection). ``tiny_flyvis``,
``flyvis_known_input`` and ``flyvis`` use that form with one g_φ(v) shared by all neurons and
measured from the floor of the voltages (``flyvis`` with the input solved per frame,
``model.field_type=projected``); ``flyvis_small`` and ``flyvis_reference`` keep the reference's form.

Read-out. On the states the network actually visits, the learned functions are close to linear:
f_θ ≈ α_i v + γ_i m + δ_i e + β_i and g_φ(v, a_j)² ≈ s_j v + c_j on the active range v > 0.
Matching with the truth (−v + V_rest + Σ W ReLU(v_j) + I)/τ gives

- τ_i = −1/α_i (clipped to [0, 1], as the reference does);
- V_rest,i = −(β_i + γ_i μ_i)/α_i, where μ_i is the mean over the observed frames of the part of the
  learned message that the linear-ReLU picture Σ_j W_ij s_j ReLU(v_j) does not explain (an offset of
  g_φ², curvature): it acts as a constant drive and belongs to the offset. ``V_rest_R2_plain``
  uses −β_i/α_i alone;
- the **scale-corrected** weight W_corr,ij = −W_ij · γ_i · s_j / α_i (the reference's correction
  ``−W / slope_f · grad_msg · slope_g``): the data fix only the product of W, the slope of g_φ and
  the message gain of f_θ, so this product is what is compared with W_ij.

(α, γ, δ, β)_i are the least-squares coefficients of f_θ(v, a_i, m, e) regressed on (v, m, e, 1) over
the observed (v_i, m_i, e_i) of up to 2,000 training frames — a local linearisation where the data
are, rather than a sweep of v at m = e = 0, which asks f_θ about states it never saw; s_j is the
slope of g_φ(v_j, a_j)² regressed on v_j over the frames where v_j > 0.

Identifiable edges. A sender that is never above threshold sends nothing (ReLU(v_j) = 0 on every
frame), so no learner can see its outgoing weights; a self-loop of a neuron that is never below
threshold enters exactly like the leak, so W_ii and τ_i are confounded. ``connectivity_R2`` is
computed over the other edges (:func:`~neuralgraph.families.flyvis.readout.identifiable_edges`,
sender active on ≥ 1% of frames);
``connectivity_R2_all`` over every edge, ``n_unidentifiable_edges`` counts the rest.

The read-out is in ``readout.py``, the scores in ``evaluate.py``, the held-out rollout in
``rollout.py``; this module ties them to the shared trainer.

Metrics (``analysis.log`` / ``metrics.json``):

- ``connectivity_R2`` — R² of the least-squares line of W_corr against W_true over the identifiable
  edges (null edges included, true weight 0): the reference's "R²" (squared Pearson r);
  ``connectivity_R2_raw`` is the same for the uncorrected W; ``connectivity_slope`` the line's slope
  (``results.npz``: ``W_learned`` the raw W, ``W_corrected`` W_corr);
- ``tau_R2``, ``V_rest_R2`` — the same line-fit R², neuron by neuron against the per-type truth;
  with the input unknown, ``V_rest_R2`` allows one more offset, shared by R1–R8: their resting
  potential and the input enter only as V_rest + I, so a constant moved between the two is a gauge
  no data fix; ``V_rest_R2_all`` is the plain line fit over every neuron;
  ``tau_R2_identity``, ``V_rest_R2_identity`` — identity-line R² (scale and offset errors count);
- ``field_R2`` — only when the input is recovered (``model.field_type=visual``, the SIREN's Ω², or
  ``projected``, the solved Ω_c(t)): line-fit R² of the true luminance against the field over every
  photoreceptor column on training frames 0–800 (step 2), i.e. after the best affine correction
  gt ≈ a·Ω + b, as in the reference;
- ``cluster_accuracy`` — cell types from learned quantities only: the per-neuron dynamics read
  from f_θ, [log τ_i, V_rest,i] standardised (with a_i under ``evaluation.cluster_embedding``),
  clustered by k-means (or a GMM, ``evaluation.cluster_method``) into ``n_clusters`` clusters,
  matched one-to-one to the true types by the Hungarian assignment
  (:func:`neuralgraph.metrics.cluster.matched_accuracy`); accuracy = matched neurons / N.
  ``n_clusters`` is chosen from the features (``evaluation.n_clusters=0``, the default): the k in
  [``n_clusters_min``, ``n_clusters_max``] with the best ``evaluation.cluster_criterion`` (the BIC
  of a Gaussian mixture, or the mean silhouette; :mod:`~neuralgraph.families.flyvis.celltypes`);
  a positive ``evaluation.n_clusters`` fixes it. ``cluster_ARI`` — the adjusted Rand index of the
  same labels (scikit-learn's ``adjusted_rand_score``: pair agreement corrected for chance), which
  needs no one-to-one matching;
- ``baseline_cluster_accuracy``, ``baseline_cluster_ARI`` — what the given graph alone gives: the
  same clustering at the same k of each neuron's wiring fingerprint with every weight set to 1
  (:func:`~neuralgraph.families.flyvis.celltypes.graph_types`); ``cluster_beats_graph`` — the
  headline is above this baseline on both scores, the only case in which the cell types count as
  recovered from what was learned;
- ``cluster_accuracy_with_wiring`` — a diagnostic, never the headline: the former second stage,
  the headline's features with each neuron's learned in- and out-weights summed by its partners'
  clusters appended; ``cluster_accuracy_with_unit_wiring`` the same with every weight 1 (its lift
  comes from the given graph: on ``tiny_flyvis`` and ``flyvis_small`` the unit weights score at
  least as well as the learned ones, benchmarks/results/flyvis_cell_types/results.md).
  ``cluster_accuracy_embedding`` uses the embeddings alone with single-linkage clustering
  (:func:`neuralgraph.metrics.cluster.cluster_accuracy`), ``n_clusters_embedding`` its clusters;
- ``oracle_connectivity_R2`` (and ``_joint``, ``oracle_tau_R2``, ``oracle_V_rest_R2``,
  ``oracle_n_weak_edges``, ``data_limited_reason``) — the known-law oracle on the same training
  data (:mod:`neuralgraph.families.flyvis.oracle`): what any learner could reach;
- ``test_R2`` / ``test_pearson`` — free Euler rollout of the learned model from the first state of the
  held-out, noise-free test movie, driven by the true test stimulus (when the field is learned, mapped
  through the affine calibration Ω² ≈ a·luminance + b fitted for ``field_R2``), scored trace by trace
  (:func:`neuralgraph.metrics.trace_r2` / :func:`trace_pearson`) and averaged over the *responsive*
  neurons, those whose test trace has a std ≥ ``evaluation.test_min_std`` (without process noise the
  visual signal fades with depth and many deep neurons sit at a fixed point to within 1e-4: a trace
  R² of such a flat line measures float rounding, not the model). ``n_test_neurons`` counts them;
  ``test_R2_pooled`` is the identity R² over all neurons and frames pooled, ``test_rmse`` the error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from neuralgraph.config.base import RunConfig
from neuralgraph.errors import ConfigError
from neuralgraph.families.flyvis import evaluate as scores
from neuralgraph.families.flyvis import simulate as simulator
from neuralgraph.families.flyvis.config import FieldType, FlyVisSimulation, FlyVisTraining, UpdateType
from neuralgraph.families.flyvis.model import FlyVisGNN
from neuralgraph.families.flyvis.readout import identifiable_edges, range_frames
from neuralgraph.families.flyvis.solve import WeightSolver
from neuralgraph.family import Family, Observed, TrainClock, TrainData, adam_group, steps_per_epoch
from neuralgraph.metrics import pearson

#: The per-neuron target scale never drops below this fraction of std(v)/Δt.
MIN_TARGET_SCALE = 1e-6
#: Neurons sampled per step by the g_φ regularisers.
REG_NEURONS = 512
#: Voltages of the g_φ monotonicity grid, and its finite-difference step as a fraction of the range.
MONOTONE_POINTS = 16
MONOTONE_STEP = 0.05


def _null_edges(n: int, src: np.ndarray, tgt: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random (src, tgt) pairs that are not synapses and not self-loops."""
    if count <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    taken = set((tgt.astype(np.int64) * n + src.astype(np.int64)).tolist())
    out: list[int] = []
    while len(out) < count:
        cand = rng.integers(0, n * n, 2 * count)
        for c in cand.tolist():
            if c not in taken and c // n != c % n:
                taken.add(c)
                out.append(c)
                if len(out) == count:
                    break
    pairs = np.asarray(out, dtype=np.int64)
    return pairs % n, pairs // n


def _voltage_range(sample: np.ndarray) -> tuple[float, float, float]:
    """The 1% and 99% quantiles of the sampled voltages, and the 90% quantile of their positive part."""
    pos = sample[sample > 0]
    v_norm = float(np.quantile(pos, 0.9)) if pos.size else 1.0
    return float(np.quantile(sample, 0.01)), float(np.quantile(sample, 0.99)), v_norm


def _weight_penalties(name: str, mlp: torch.nn.Module, l1: float, l2: float) -> dict[str, torch.Tensor]:
    """``coeff_<name>_weight_L1`` · Σ|w| and ``coeff_<name>_weight_L2`` · Σw² over the MLP's weight matrices."""
    ws = [p for key, p in mlp.named_parameters() if key.endswith("weight")]
    out: dict[str, torch.Tensor] = {}
    if l1 > 0:
        out[f"{name}_weight_L1"] = l1 * sum(w.abs().sum() for w in ws)
    if l2 > 0:
        out[f"{name}_weight_L2"] = l2 * sum(w.pow(2).sum() for w in ws)
    return out


def _g_phi_shape(model: FlyVisGNN, t: FlyVisTraining) -> dict[str, torch.Tensor]:
    """On random neurons: g_φ² non-decreasing in v over the observed range, and g_φ(v_norm)² ≈ v_norm."""
    terms: dict[str, torch.Tensor] = {}
    dev = model.W.device
    v_lo, v_hi, v_norm = model.voltage_range()
    # One g_φ shared by every neuron needs one probe, not one per sampled neuron.
    n_probe = min(REG_NEURONS, model.n_neurons) if model.g_phi_embedding else 1
    idx = torch.randint(0, model.n_neurons, (n_probe,), device=dev)
    a = model.a[idx]
    if t.coeff_edge_diff > 0:
        v = torch.linspace(v_lo, v_hi, MONOTONE_POINTS, device=dev).unsqueeze(-1).expand(-1, len(idx))
        drop = model.g(v, a) - model.g(v + MONOTONE_STEP * (v_hi - v_lo), a)
        terms["edge_diff"] = t.coeff_edge_diff * torch.relu(drop).mean()
    if t.coeff_edge_norm > 0:
        v = torch.full((1, len(idx)), v_norm, device=dev)
        terms["edge_norm"] = t.coeff_edge_norm * (model.g(v, a) - v_norm).pow(2).mean()
    return terms


class FlyVisFamily(Family):
    """The fly visual system; holds no state (the live metric's edge mask lives on the model)."""

    name = "flyvis"
    observed = Observed(state="x", derivative="y")  # one continuous trajectory

    def check(self, cfg: RunConfig) -> None:
        if cfg.training.W_solve_every > 0 and cfg.model.update_type != UpdateType.additive:
            raise ConfigError(f"training.W_solve_every={cfg.training.W_solve_every} solves W by least squares, which "
                              f"needs a model linear in W: set model.update_type=additive (or W_solve_every=0)")
        if cfg.model.field_type == FieldType.projected and cfg.training.W_solve_every <= 0:
            raise ConfigError("model.field_type=projected re-solves the field of every frame with the W solve after "
                              "the last step: set training.W_solve_every (e.g. to the run's step count)")

    def simulate(self, sim: FlyVisSimulation) -> dict[str, np.ndarray]:
        return simulator.simulate(sim)

    def build(self, arrays: Mapping[str, np.ndarray], cfg: RunConfig, device: torch.device):
        n = int(arrays["node_type"].shape[0])
        null_src, null_tgt = _null_edges(n, arrays["edge_src"], arrays["edge_tgt"], cfg.model.n_extra_null_edges,
                                         cfg.simulation.seed + 1)
        src = np.concatenate([arrays["edge_src"].astype(np.int64), null_src])
        tgt = np.concatenate([arrays["edge_tgt"].astype(np.int64), null_tgt])
        inputs = arrays["input_nodes"].astype(np.int64)
        x_np = arrays["x"]
        # One pass over the sampled frames gives the regularisers' voltage range and the edges the
        # live metric scores: once per run here, not at each of the live metric's calls, which
        # would repeat a pass over every sampled frame of every neuron.
        sample = x_np[range_frames(x_np.shape[0])]
        v_lo, v_hi, v_norm = _voltage_range(sample)
        model = FlyVisGNN(
            cfg.model, n, torch.as_tensor(src), torch.as_tensor(tgt), torch.as_tensor(inputs),
            torch.as_tensor(arrays["node_col"][inputs].astype(np.int64)), torch.as_tensor(arrays["column_xy"]),
            v_lo=v_lo, v_hi=v_hi, v_norm=v_norm, live_edges=torch.as_tensor(identifiable_edges(sample, src, tgt)),
            n_frames=x_np.shape[0],
        ).to(device)
        x = torch.as_tensor(x_np, device=device)
        y = torch.as_tensor(arrays["y"], device=device)
        extras = {} if model.learn_field else {"stimulus": torch.as_tensor(arrays["stimulus"], device=device)}
        if cfg.training.normalize_targets:
            # Floored for data that settle (y ≈ 1e-15 would make the loss explode and blame the
            # optimiser; the oracle then reports the data instead).
            floor = MIN_TARGET_SCALE * float(x.std()) / float(cfg.simulation.delta_t)
            scale = (y.std(dim=0) + 1e-3 * y.std()).clamp_min(floor)
        else:
            scale = torch.ones(y.shape[1], device=device)
        model.set_loss_weights(scale)
        data = TrainData(x=x, y=y, target_scale=scale, extras=extras)
        t = cfg.training
        if t.W_solve_every > 0:
            # The step count travels in the state dict (a resumed run solves where a whole one does);
            # the solver keeps references to the training tensors, not copies.
            model.register_buffer("solver_step", torch.zeros((), dtype=torch.long, device=device))
            total = steps_per_epoch(x.shape[0], t.data_augmentation_loop, t.batch_size) * t.n_epochs
            data.after_step.append(WeightSolver(model, x, y, extras.get("stimulus"), t.W_solve_every, total).after_step)
        return model, data

    def param_groups(self, model: FlyVisGNN, t: FlyVisTraining) -> list[dict[str, Any]]:
        groups = [
            adam_group("W", [model.W], t.lr_W, t.lr),
            # f_θ's input gains b_i (projected field) belong to f_θ.
            adam_group("MLP", list(model.lin_edge.parameters()) + list(model.lin_phi.parameters())
                       + ([model.input_gain] if model.project_field else []), t.lr, t.lr),
            adam_group("embedding", [model.a], t.lr_embedding, t.lr),
        ]
        if model.field is not None:
            groups.append(adam_group("field", model.field.parameters(), t.lr_field, t.lr))
        return groups

    def regularizers(self, model: FlyVisGNN, batch, pred, t: FlyVisTraining, clock: TrainClock) -> dict[str, torch.Tensor]:
        terms: dict[str, torch.Tensor] = {}
        if t.coeff_W_L1 > 0:
            anneal = 1.0 - float(np.exp(-t.W_L1_rate * (clock.epoch + 1)))
            terms["W_L1"] = t.coeff_W_L1 * anneal * model.W.abs().sum()
        if t.coeff_W_L2 > 0:
            terms["W_L2"] = t.coeff_W_L2 * model.W.pow(2).sum()
        if t.coeff_edge_diff > 0 or t.coeff_edge_norm > 0:
            terms.update(_g_phi_shape(model, t))
        terms.update(_weight_penalties("edge", model.lin_edge, t.coeff_edge_weight_L1, t.coeff_edge_weight_L2))
        terms.update(_weight_penalties("phi", model.lin_phi, t.coeff_phi_weight_L1, t.coeff_phi_weight_L2))
        return terms

    def live_metric(self, model: FlyVisGNN, arrays: Mapping[str, np.ndarray]) -> float:
        """Squared Pearson r of the raw (uncorrected) W against the truth on identifiable synapses."""
        n_true = arrays["W"].shape[0]
        mask = model.live_edges[:n_true].cpu().numpy()
        w = model.W.detach()[:n_true].cpu().numpy()
        r = pearson(arrays["W"][mask], w[mask])
        return r * r if np.isfinite(r) else float("nan")

    def evaluate(self, model: FlyVisGNN, arrays: Mapping[str, np.ndarray], cfg: RunConfig, device: torch.device):
        return scores.evaluate(model, arrays, cfg, device)

    def plot(self, arrays: Mapping[str, np.ndarray], results: Mapping[str, np.ndarray], metrics: Mapping[str, Any],
             history: Mapping[str, list], plot_dir: Path, cfg: RunConfig) -> None:
        from neuralgraph.families.flyvis import plots

        plots.plot_all(results, metrics, history, plot_dir)


#: The instance :func:`neuralgraph.family.get_family` returns.
FAMILY = FlyVisFamily()
