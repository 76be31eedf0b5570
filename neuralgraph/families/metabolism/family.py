"""The metabolism family: recover rate constants k and homeostasis with S given, or the
stoichiometric matrix S itself (``model.learn_stoichiometry``).

The reward depends on the mode: ``rate_constants_R2`` with S given, ``stoichiometry_R2`` with S
learned; :meth:`MetabolismFamily.check` refuses a ``reward_key`` that does not match the mode.

The read-outs live beside this module: :mod:`.readout` (rate constants, substrate function,
homeostasis), :mod:`.stoichiometry` (the learned S), :mod:`.rollout` (rollouts on held-out runs).

Where the model starts is taken from the observed data and the given graph only, never from the
simulation's truth (:meth:`MetabolismFamily.build`). Every log10 k starts at log10 κ
(``model.log_k_init: null``; a number sets it by hand), κ the one scalar of the least-squares fit
(:mod:`.start`)

    min_{κ, b, w} Σ_{f,i} ((y_fi − κ Σ_j S_ij Π_{i' ∈ sub(j)} c_fi'^{|s_i'j|} − b_i − w_i c_fi) / σ_i)²

of the observed derivatives y on the mass-action prediction with every k equal, beside a line
b_i + w_i c_i per metabolite for homeostasis, σ_i the loss scale (:func:`target_scale`); with S
learned the graph's guess stands in for S, and the additive aggregation takes the magnitude fit
(:func:`estimated_log_k`). The start is saved with the model (``log_k_start``) and is the reference
of the k floor: ``coeff_k_floor`` penalises log k below log_k_start − ``k_floor_below_start``.
The concentration scale c_scale and the loss scale σ_i come from the observed frames too.

Metrics with S learned (definitions and the per-reaction gauges in
:mod:`neuralgraph.metrics.stoichiometry`): ``stoichiometry_R2`` (truth-free: identity R² on the
true edges of identifiable reactions after dividing each learned column by its smallest clear
coefficient), ``stoichiometry_R2_oracle_gauge`` (the same after the least-squares rescaling of
each column against the truth), ``stoichiometry_R2_all``, ``stoichiometry_R2_raw``,
``stoichiometry_r2_fit``, ``stoichiometry_sign_accuracy``, ``stoichiometry_integer_accuracy``
(+ ``_raw``, ``_mincoef``), ``stoichiometry_precision`` / ``stoichiometry_recall`` (superset of
edges only), ``stoichiometry_gauge_median``, ``n_unidentifiable_reactions``, the known-law oracle
``oracle_stoichiometry_R2`` (:func:`.stoichiometry.oracle_readout`), the graph-only floor
``baseline_stoichiometry_R2`` (:func:`.stoichiometry.baseline_readout`), plus the rollout and rank
metrics below. Reactions sharing substrates and orders with another reaction are unidentifiable
(:func:`duplicate_reactions`).

Metrics with S given (all in ``analysis.log`` / ``metrics.json``; arrays in ``results.npz``):

- ``rate_constants_R2`` — identity-line R² of log10 k (learned, scale-corrected) against the truth,
  over the *identifiable* reactions only: those whose k has less than 1% of its weight in the null
  space of the mass-action design matrix of the training data (:func:`design_gram`). Empty
  reactions, and pairs of reactions with the same substrates whose effects cancel or add, are
  not identifiable by any learner and are left out; ``n_unidentifiable`` counts them.
- ``rate_constants_R2_all`` — the same over every reaction.
- ``oracle_rate_constants_R2``, ``oracle_max_abs_dex``, ``oracle_n_weak_reactions``,
  ``oracle_n_nonpositive_k``, ``oracle_homeostasis_slope_t<T>`` / ``_offset_t<T>`` — the known-law
  oracle (:mod:`.oracle`): least squares for k and the per-type homeostasis lines with the true
  rate law, on the same training frames and loss weights; ``data_limited_reason`` when it is
  itself ≤ 0.9.
- ``rate_constants_r2_fit`` — squared Pearson r of the least-squares line over every reaction
  (the reference code's definition; blind to scale and offset).
- ``rate_constants_R2_shifted`` — identity R² on identifiable reactions after removing the mean
  log-offset (a pure global-scale error scores 1 here and lower in ``rate_constants_R2``).
- ``slope`` — slope of the least-squares line learned ≈ a·true on identifiable reactions.
- ``trimmed_R2``, ``n_outliers`` — line R² without reactions off by more than 0.3 dex (nothing is
  trimmed when that would drop more than half).
- ``alpha`` — MLP_sub(1, 1), the substrate-function scale; the corrected log k is
  log k + Σ_{i ∈ sub(j)} log10 MLP_sub(1, |s_ij|) (zero correction when the model is normalised).
- ``MLP_sub_R2`` — mean over reaction orders s of the identity R² of MLP_sub(c, s) against c^s on
  the observed concentration range (mass action only).
- ``homeostasis_slope_t<T>`` / ``homeostasis_slope_true_t<T>`` — mean over type-T metabolites of
  the slope of a line fitted to MLP_node(c, a_i) over the observed range, against −λ_T; the same
  for ``homeostasis_offset_*`` (value at c = 0) against λ_T·c_base,T.
- ``test_R2``, ``test_pearson``, ``test_R2_full``, ``test_pearson_full``, ``rollout_horizon``,
  ``rollout_horizon_truth``, ``test_deriv_R2`` — free rollouts of the learned model on held-out
  runs (fresh initial concentrations, same network), defined in :mod:`.rollout`.
- ``activity_rank`` (= ``activity_rank_99``), ``activity_rank_90`` — effective rank of the
  training concentrations (uncentred SVD).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from neuralgraph.config.base import RunConfig
from neuralgraph.errors import ConfigError
from neuralgraph.families.metabolism import oracle, readout, rollout, start, stoichiometry
from neuralgraph.families.metabolism import simulate as sim
from neuralgraph.families.metabolism.config import (
    Aggregation, LossWeight, MetabolismModel, MetabolismSimulation, MetabolismTraining, RateLaw, SInit,
    SubstrateOrders,
)
from neuralgraph.families.metabolism.model import Graph, MetabolismGNN
from neuralgraph.family import Family, Observed, TrainClock, TrainData, adam_group
from neuralgraph.metrics import r2_score


#: The reward of each mode: the rate constants with S given, S itself with S learned.
MODE_REWARDS = ("rate_constants_R2", "stoichiometry_R2")


class MetabolismFamily(Family):
    name = "metabolism"
    observed = Observed(state="x", derivative="y", runs_axis=True)

    def check(self, cfg: RunConfig) -> None:
        m, t = cfg.model, cfg.training
        mode_reward = "stoichiometry_R2" if m.learn_stoichiometry else "rate_constants_R2"
        if cfg.reward_key in MODE_REWARDS and cfg.reward_key != mode_reward:
            raise ConfigError(f"reward_key={cfg.reward_key} does not score model.learn_stoichiometry="
                              f"{str(m.learn_stoichiometry).lower()}: set reward_key={mode_reward}")
        if not m.learn_stoichiometry:
            # Keys that act on a learned S do nothing with S given: refuse them rather than ignore.
            for key in MetabolismTraining.LEARNED_S_KEYS:
                if getattr(t, key) > 0:
                    raise ConfigError(
                        f"training.{key}={getattr(t, key)} acts on a learned S: set model.learn_stoichiometry=true"
                    )
        elif t.coeff_S_prior > 0 and m.S_init is not SInit.roles:
            raise ConfigError(f"training.coeff_S_prior={t.coeff_S_prior} pulls S toward its start, which is only "
                              "a guess with model.S_init=roles: set that, or training.coeff_S_prior=0")
        if m.aggregation != Aggregation.product:
            for key in ("coeff_MLP_sub_diff", "coeff_MLP_sub_norm"):
                if getattr(t, key) > 0:
                    raise ConfigError(f"training.{key}={getattr(t, key)} needs model.aggregation=product")
        if not m.homeostasis and t.coeff_MLP_node_L1 > 0:
            raise ConfigError(f"training.coeff_MLP_node_L1={t.coeff_MLP_node_L1} needs model.homeostasis=true")

    def simulate(self, sim_cfg: MetabolismSimulation) -> dict[str, np.ndarray]:
        return sim.simulate(sim_cfg)

    def build(
        self, arrays: Mapping[str, np.ndarray], cfg: RunConfig, device: torch.device,
    ) -> tuple[MetabolismGNN, TrainData]:
        m, t = cfg.model, cfg.training
        x = torch.as_tensor(sim.training_frames(arrays), device=device)
        y = torch.as_tensor(sim.training_frames(arrays, "y"), device=device)
        n_met, n_rxn = arrays["S"].shape
        gen = torch.Generator().manual_seed(t.seed)
        jitter = (2 * torch.rand(n_rxn, generator=gen) - 1) * m.log_k_init_spread
        S_init = None
        if m.learn_stoichiometry:
            graph, S_init = stoichiometry.learned_graph(arrays, m, t.seed, gen)
            participating = graph.edge_met.numpy()
        else:
            graph = Graph.from_arrays(arrays)
            participating = np.asarray(arrays["all_met"])
        scale = target_scale(y, participating, n_met, t)
        log_k_start = m.log_k_init if m.log_k_init is not None else estimated_log_k(arrays, graph, m, scale)
        model = MetabolismGNN(m, graph, c_scale=float(1.5 * x.std()), log_k_init=log_k_start + jitter,
                              S_init=S_init, node_scale=scale, log_k_start=log_k_start).to(device)
        if m.learn_stoichiometry and t.S_grad_clip > 0:
            stoichiometry.clip_gradient(model.sto, float(t.S_grad_clip))
        return model, TrainData(x=x, y=y, target_scale=scale)

    def param_groups(self, model: MetabolismGNN, t: MetabolismTraining) -> list[dict[str, Any]]:
        lr_node = t.lr_node if t.lr_node > 0 else t.lr
        groups = [
            adam_group("k", [model.log_k], t.lr_k, t.lr),
            adam_group("MLP_sub", model.mlp_sub.parameters(), t.lr_sub, t.lr),
            adam_group("MLP_node", model.mlp_node.parameters(), t.lr_node, t.lr),
            adam_group("embedding", [model.a], t.lr_embedding, lr_node),
        ]
        if model.aggregation is Aggregation.additive:
            groups.append(adam_group("MLP_rate", model.mlp_rate.parameters(), t.lr_sub, t.lr))
        if model.node_line:
            groups.append(adam_group("node_line", [model.line], t.lr_node, t.lr))
        if model.learn_stoichiometry:
            s_params = [model.sto] + ([model.sto_sub] if model.substrate_order_mode is SubstrateOrders.free else [])
            groups.append(adam_group("S", s_params, t.lr_S, t.lr))
        return groups

    def regularizers(
        self, model: MetabolismGNN, batch: Mapping[str, torch.Tensor], pred: torch.Tensor,
        t: MetabolismTraining, clock: TrainClock,
    ) -> dict[str, torch.Tensor]:
        terms: dict[str, torch.Tensor] = {}
        if t.coeff_MLP_sub_diff > 0:
            # f must not decrease with c: penalise relu(f(c) − f(c + δ)) on a grid past the data.
            orders = readout.grid_orders(model)
            drop = model.substrate(model.probe_c, orders) - model.substrate(model.probe_c + model.probe_dc, orders)
            terms["MLP_sub_diff"] = t.coeff_MLP_sub_diff * torch.relu(drop).mean()
        if t.coeff_MLP_node_L1 > 0:
            terms["MLP_node_L1"] = t.coeff_MLP_node_L1 * model.homeostasis(batch["x"]).abs().mean()
        if t.coeff_MLP_sub_norm > 0:
            one = torch.ones(1, device=model.log_k.device)
            terms["MLP_sub_norm"] = t.coeff_MLP_sub_norm * (model.substrate_raw(one, one) - 1.0).pow(2).sum()
        if t.coeff_k_floor > 0:
            floor = model.log_k_start - t.k_floor_below_start
            terms["k_floor"] = t.coeff_k_floor * torch.relu(floor - model.log_k).pow(2).sum()
        if model.learn_stoichiometry:
            terms.update(stoichiometry.penalties(model, t, clock.epoch))
        return terms

    def after_step(self, model: MetabolismGNN, t: MetabolismTraining) -> None:
        if not model.learn_stoichiometry:
            return
        if t.S_soft_threshold > 0:
            with torch.no_grad():
                model.sto.data = torch.sign(model.sto) * torch.clamp(model.sto.abs() - t.S_soft_threshold, min=0.0)
        if model.S_sign_constraint:
            model.project_signs()

    def live_metric(self, model: MetabolismGNN, arrays: Mapping[str, np.ndarray]) -> float:
        if model.learn_stoichiometry:
            return stoichiometry.scores(model, arrays, 0.5, False)[0]["stoichiometry_R2"]
        ok = readout.identifiable(arrays)
        return r2_score(arrays["log_k"][ok], readout.corrected_log_k(model)[ok])

    def evaluate(
        self, model: MetabolismGNN, arrays: Mapping[str, np.ndarray], cfg: RunConfig, device: torch.device,
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        metrics: dict[str, Any] = {}
        results: dict[str, Any] = {"S": arrays["S"], "types": arrays["types"]}
        if model.learn_stoichiometry:
            superset = cfg.model.extra_edge_fraction > 0
            parts = [stoichiometry.readout(model, arrays, cfg.evaluation.sparsity_threshold, superset)]
            edges = (model.edge_met.cpu().numpy(), model.edge_rxn.cpu().numpy())
            metrics.update(stoichiometry.baseline_readout(arrays, *edges, model.edge_is_substrate.cpu().numpy()))
            if not cfg.simulation.flux_limit:  # the limiter makes the law non-linear in S·k (see rate_oracle)
                parts.append(stoichiometry.oracle_readout(arrays, *edges, loss_scale(arrays, edges[0], cfg.training)))
            for metrics_part, results_part in parts:
                metrics.update(metrics_part)
                results.update(results_part)
            results.update({"log_k_true": arrays["log_k"], "log_k_learned": readout.corrected_log_k(model)})
        else:
            for part in (readout.rate_constants(model, arrays), rate_oracle(arrays, cfg.simulation, cfg.training)):
                metrics.update(part[0])
                results.update(part[1])
        grid = readout.function_grid(arrays, device)
        mass_action = cfg.simulation.rate_law == RateLaw.mass_action
        for part in (readout.substrate_function(model, grid, mass_action), readout.homeostasis(model, arrays, grid),
                     rollout.rollout_scores(model, arrays, cfg.simulation, cfg.evaluation, device)):
            metrics.update(part[0])
            results.update(part[1])
        metrics["activity_rank"] = int(arrays["activity_rank_99"])
        metrics["activity_rank_90"] = int(arrays["activity_rank_90"])
        metrics["activity_rank_99"] = int(arrays["activity_rank_99"])
        x_train = sim.training_frames(arrays)
        results.update({"c_observed_min": x_train.min(axis=0), "c_observed_max": x_train.max(axis=0)})
        return metrics, results

    def plot(
        self, arrays: Mapping[str, np.ndarray], results: Mapping[str, np.ndarray], metrics: Mapping[str, Any],
        history: Mapping[str, list], plot_dir: Path, cfg: RunConfig,
    ) -> None:
        from neuralgraph.families.metabolism import plots

        plots.plot_all(results, metrics, history, plot_dir)


def rate_oracle(
    arrays: Mapping[str, np.ndarray], s: MetabolismSimulation, t: MetabolismTraining,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The known-law oracle beside the learned k (:mod:`.oracle`), with the learner's loss weights,
    and the one-line reason when even the oracle cannot reach convergence on these data.

    None with ``flux_limit``: the limiter rescales each rate by a factor that depends on k itself,
    so the simulated law is no longer linear in k and a least-squares "oracle" would be wrong.
    """
    if s.flux_limit:
        return {}, {}
    scale = loss_scale(arrays, np.asarray(arrays["all_met"]), t)
    metrics, results = oracle.rate_constants(arrays, scale, readout.identifiable(arrays))
    if not metrics["oracle_rate_constants_R2"] > 0.9:
        metrics["data_limited_reason"] = (
            "least squares with the true rate law recovers log10 k only to "
            f"R2={metrics['oracle_rate_constants_R2']:.3f} ({metrics['oracle_n_weak_reactions']} reactions in weak "
            "directions of the design)"
        )
    return metrics, results


def estimated_log_k(
    arrays: Mapping[str, np.ndarray], graph: Graph, m: MetabolismModel, scale: torch.Tensor,
) -> float:
    """The start of every log10 k from the observed training frames and the given graph
    (:func:`.start.initial_log_k`), with the loss scale as the residuals' divisor.

    S learned: the graph's guess stands in for S (the roles of :func:`.stoichiometry.role_coefficients`
    on the candidate edges, times ``S_init_scale``, as the coefficients start) with order 1 on every
    substrate edge; the true S is not read. The additive aggregation (a rate law learned from
    scratch) takes the magnitude fit on concentrations in units of their overall mean (``learned_law``).
    """
    x, y = sim.training_frames(arrays), sim.training_frames(arrays, "y")
    row_scale = scale.detach().cpu().numpy().astype(np.float64)
    learned_law = m.aggregation is Aggregation.additive
    if not m.learn_stoichiometry:
        return start.initial_log_k(arrays, x, y, row_scale, learned_law=learned_law)[0]
    edge_met, edge_rxn = graph.edge_met.numpy(), graph.edge_rxn.numpy()
    substrates = set(zip(graph.sub_met.tolist(), graph.sub_rxn.tolist()))
    is_sub = np.array([e in substrates for e in zip(edge_met.tolist(), edge_rxn.tolist())], dtype=bool)
    guess = np.zeros((graph.n_metabolites, graph.n_reactions))
    guess[edge_met, edge_rxn] = m.S_init_scale * stoichiometry.role_coefficients(edge_rxn, is_sub, graph.n_reactions)
    return start.initial_log_k(arrays, x, y, row_scale, S_guess=guess, sub_order=np.ones(len(graph.sub_met)),
                               learned_law=learned_law)[0]


def loss_scale(arrays: Mapping[str, np.ndarray], participating: np.ndarray, t: MetabolismTraining) -> np.ndarray:
    """The learner's per-metabolite loss divisor (:func:`target_scale`) as numpy, for the oracles."""
    y = torch.as_tensor(sim.training_frames(arrays, "y"))
    return target_scale(y, participating, arrays["S"].shape[0], t).numpy()


def target_scale(y: torch.Tensor, participating: np.ndarray, n_met: int, t: MetabolismTraining) -> torch.Tensor:
    """Per-metabolite divisor of the residual in the data loss.

    ``normalize_targets``: std of dc_i/dt with a small floor (metabolites that barely move would
    otherwise turn float noise into a large loss). ``inverse_participation``: times sqrt(n_i), i.e.
    weight 1/n_i on the squared error of a metabolite with n_i candidate edges.
    """
    if t.normalize_targets:
        scale = y.std(dim=0) + 1e-3 * y.std()
    else:
        scale = torch.ones(y.shape[1], device=y.device)
    if t.loss_weight == LossWeight.inverse_participation:
        n_i = torch.as_tensor(stoichiometry.participation(participating, n_met), dtype=scale.dtype, device=y.device)
        scale = scale * torch.sqrt(n_i)
    return scale


#: The instance :func:`neuralgraph.family.get_family` returns.
FAMILY = MetabolismFamily()
