"""The metabolism family: recover rate constants k and homeostasis with S given, or the
stoichiometric matrix S itself (``model.learn_stoichiometry``).

The primary metric depends on the mode: ``rate_constants_R2`` with S given,
``stoichiometry_R2`` with S learned (set by :meth:`MetabolismFamily.validate`, which runs before
the trainer and the run directory read it).

Metrics with S learned (definitions and the per-reaction gauge in
:mod:`neuralgraph.metrics.stoichiometry`): ``stoichiometry_R2`` (gauge-fixed identity R² on the
true edges of identifiable reactions), ``stoichiometry_R2_all``, ``stoichiometry_R2_raw``,
``stoichiometry_r2_fit``, ``stoichiometry_sign_accuracy``, ``stoichiometry_integer_accuracy``
(+ ``_raw``), the truth-free read-out ``stoichiometry_R2_mincoef`` /
``stoichiometry_integer_accuracy_mincoef``, ``stoichiometry_precision`` / ``stoichiometry_recall`` (superset of edges only),
``stoichiometry_gauge_median``, ``n_unidentifiable_reactions``, plus the rollout and rank metrics
below. Reactions sharing substrates and orders with another reaction are unidentifiable
(:func:`duplicate_reactions`).

Metrics with S given (all in ``analysis.log`` / ``metrics.json``; arrays in ``results.npz``):

- ``rate_constants_R2`` — identity-line R² of log10 k (learned, scale-corrected) against the truth,
  over the *identifiable* reactions only: those whose k has less than 1% of its weight in the null
  space of the mass-action design matrix of the training data (:func:`design_gram`). Empty
  reactions, and pairs of reactions with the same substrates whose effects cancel or add, are
  not identifiable by any learner and are left out; ``n_unidentifiable`` counts them.
- ``rate_constants_R2_all`` — the same over every reaction.
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
- ``test_R2`` / ``test_pearson`` — free rollouts of the learned model (same Euler scheme as the
  simulator) of ``test_window`` frames, started from the true state at ``test_n_windows`` evenly
  spaced frames of each held-out run (fresh initial concentrations, same network), scored trace by
  trace (identity R², Pearson) against the noise-free truth and averaged over metabolites,
  windows and runs. Windows, because these regimes are chaotic: a relative change of 1e-6 in c(0)
  decorrelates the truth from itself within a few thousand frames.
- ``test_R2_full`` / ``test_pearson_full`` — one rollout over the whole held-out run from frame 0.
- ``rollout_horizon`` — frames until the snapshot R² (over metabolites) of that full rollout first
  drops below 0.9; ``rollout_horizon_truth`` — the same for the true system started from c(0)
  perturbed by a relative 1e-6: the predictability limit of the system itself.
- ``activity_rank`` (= ``activity_rank_99``), ``activity_rank_90`` — effective rank of the
  training concentrations (uncentred SVD).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from omegaconf import DictConfig

from neuralgraph.errors import ConfigError
from neuralgraph.family import Family, TrainData
from neuralgraph.metrics import linear_fit, r2_score, trace_pearson, trace_r2, trimmed_fit
from neuralgraph.metrics.stoichiometry import duplicate_reactions, mincoef_gauge, stoichiometry_scores
from neuralgraph.families.metabolism.model import MetabolismGNN
from neuralgraph.families.metabolism.family import simulate as sim
from neuralgraph.family import adam_group

#: A reaction is identifiable when less than this share of its k lies in the design null space.
IDENTIFIABLE_MAX_NULL_WEIGHT = 0.01
#: Reactions further than this from the truth (in log10 units) are outliers for ``trimmed_R2``.
OUTLIER_DEX = 0.3
#: Points on the function grids saved for plots and fits.
GRID = 200


def identifiable(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    n_rxn = arrays["log_k"].shape[0]
    if "null_weight" not in arrays:  # MLP rate law: no linear design; every reaction with edges counts
        return np.bincount(arrays["sub_rxn"], minlength=n_rxn) > 0
    return arrays["null_weight"][:n_rxn] < IDENTIFIABLE_MAX_NULL_WEIGHT


def corrected_log_k(model: MetabolismGNN) -> np.ndarray:
    """log10 k plus the substrate-scale correction Σ_{i ∈ sub(j)} log10 f(1, |s_ij|) (product mode).

    In additive mode the scale of softplus(ρ(·)) is not pinned and log10 k is returned as is.
    """
    with torch.no_grad():
        if model.aggregation != "product":
            return model.log_k.cpu().numpy().astype(np.float64)
        orders = model.substrate_orders()
        f_one = model.substrate(torch.ones_like(orders), orders)
        correction = torch.log10(f_one) @ model.incidence
        return (model.log_k + correction).cpu().numpy().astype(np.float64)


def grid_orders(model: MetabolismGNN) -> torch.Tensor:
    """Reaction orders at which to evaluate MLP_sub on a grid: the given ones, or 1 and 2 when learned."""
    if model.learn_stoichiometry:
        return torch.tensor([1.0, 2.0], device=model.log_k.device)
    return model.s_values


def candidate_edges(arrays: Mapping[str, np.ndarray], extra_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The known edges (non-zeros of S), plus ``extra_fraction`` × as many random zeros of S.

    Sorted by (reaction, metabolite) so that the order of the list says nothing about the truth.
    """
    S = arrays["S"]
    met, rxn = np.asarray(arrays["all_met"]), np.asarray(arrays["all_rxn"])
    n_extra = int(round(extra_fraction * len(met)))
    if n_extra > 0:
        zeros = np.flatnonzero(S.ravel() == 0)
        n_extra = min(n_extra, len(zeros))
        pick = np.random.default_rng(seed).choice(zeros, size=n_extra, replace=False)
        em, er = np.unravel_index(pick, S.shape)
        met, rxn = np.concatenate([met, em]), np.concatenate([rxn, er])
    order = np.lexsort((met, rxn))
    return met[order].astype(np.int64), rxn[order].astype(np.int64)


def identifiable_reactions(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """Reactions whose column of S the dynamics can determine (up to the gauge)."""
    n_rxn = arrays["S"].shape[1]
    has = np.bincount(arrays["sub_rxn"], minlength=n_rxn) > 0
    return has & ~duplicate_reactions(arrays["sub_met"], arrays["sub_rxn"], arrays["sub_s"], n_rxn)


def participation(met: np.ndarray, n_met: int) -> np.ndarray:
    """Edges per metabolite in the candidate graph (at least 1)."""
    return np.maximum(np.bincount(met, minlength=n_met), 1)


def integer_penalty(sto: torch.Tensor, kind: str) -> torch.Tensor:
    """mean sin²(πS) (``sin2``) or mean (S − round S)² (``round``): 0 on integers."""
    if kind == "round":
        return (sto - torch.round(sto)).pow(2).mean()
    return torch.sin(math.pi * sto).pow(2).mean()


def column_sums(model: MetabolismGNN) -> torch.Tensor:
    """Σ_i S_ij per reaction, over reactions with at least one candidate edge."""
    sums = torch.zeros(model.n_reactions, device=model.sto.device).index_add(0, model.edge_rxn, model.sto)
    has = torch.zeros(model.n_reactions, dtype=torch.bool, device=model.sto.device)
    has[model.edge_rxn] = True
    return sums[has]


def rollout(model: MetabolismGNN, c0: torch.Tensor, n_frames: int, dt: float, substeps: int) -> torch.Tensor:
    """Euler rollout with the simulator's scheme (substeps, clamp at 0): (runs, N) → (runs, T, N)."""
    h = dt / substeps
    out = torch.empty((c0.shape[0], n_frames + 1, c0.shape[1]), device=c0.device)
    c = c0.clone()
    with torch.no_grad():
        for t in range(n_frames + 1):
            out[:, t] = c
            for _ in range(substeps):
                c = torch.clamp(c + h * model.derivative(c), min=0.0, max=1e6)
            c = torch.nan_to_num(c, nan=1e6)
    return out


def horizon(true: np.ndarray, pred: np.ndarray, threshold: float = 0.9) -> int:
    """Frames until the snapshot R² over nodes first drops below ``threshold`` (length if never)."""
    for t in range(true.shape[0]):
        if r2_score(true[t], pred[t]) < threshold:
            return t
    return int(true.shape[0])


def truth_rollout(arrays: Mapping[str, np.ndarray], sim_cfg: DictConfig, c0: np.ndarray, rel: float = 1e-6) -> np.ndarray:
    """The true system from c0·(1 + rel·ξ): how fast the truth forgets its own initial state."""
    net = sim.Network(arrays["S"].astype(np.float64), arrays["sub_met"], arrays["sub_rxn"],
                      arrays["sub_s"].astype(np.float64))
    types = arrays["types"]
    lam, base = arrays["homeostatic_lambda"][types], arrays["homeostatic_baseline"][types]
    rate_mlp = None
    if "rate_mlp_w1" in arrays:
        rate_mlp = sim.RateMLP.from_arrays(arrays)
    h = float(sim_cfg.delta_t) / int(sim_cfg.substeps)
    flux_dt = h if sim_cfg.flux_limit else None
    xi = np.random.default_rng(0).standard_normal(c0.shape)
    c = (c0.astype(np.float64) * (1 + rel * xi))[None]
    out = np.empty((arrays["x"].shape[1], c0.shape[0]))
    for t in range(out.shape[0]):
        out[t] = c[0]
        for _ in range(int(sim_cfg.substeps)):
            c = np.maximum(c + h * sim.derivative(c, net, 10.0 ** arrays["log_k"], lam, base, rate_mlp, flux_dt), 0.0)
    return out


class MetabolismFamily(Family):
    name = "metabolism"
    primary_metric = "rate_constants_R2"

    def validate(self, cfg: DictConfig) -> None:
        sim.validate(cfg.simulation)
        m, t = cfg.model, cfg.training
        for key in ("hidden_dim_sub", "n_layers_sub", "hidden_dim_node", "n_layers_node",
                    "msg_dim", "hidden_dim_rate", "n_layers_rate"):
            if m[key] <= 0:
                raise ConfigError(f"model.{key}={m[key]} must be positive")
        if m.embedding_dim < 0:
            raise ConfigError(f"model.embedding_dim={m.embedding_dim} must be >= 0")
        if m.S_init_scale <= 0:
            raise ConfigError(f"model.S_init_scale={m.S_init_scale} must be positive")
        if m.extra_edge_fraction < 0:
            raise ConfigError(f"model.extra_edge_fraction={m.extra_edge_fraction} must be >= 0")
        if t.n_epochs_init < 0:
            raise ConfigError(f"training.n_epochs_init={t.n_epochs_init} must be >= 0")
        if t.sparsity_threshold <= 0:
            raise ConfigError(f"training.sparsity_threshold={t.sparsity_threshold} must be positive")
        if not m.learn_stoichiometry:
            # Keys that act on a learned S do nothing with S given: refuse them rather than ignore.
            for key in ("coeff_S_L1", "first_coeff_L1", "coeff_S_L2", "coeff_S_integer", "coeff_mass_conservation",
                        "S_soft_threshold", "S_grad_clip"):
                if t[key] > 0:
                    raise ConfigError(f"training.{key}={t[key]} acts on a learned S: set model.learn_stoichiometry=true")
            for key in ("S_sign_constraint",):
                if m[key]:
                    raise ConfigError(f"model.{key}=true acts on a learned S: set model.learn_stoichiometry=true")
            if m.extra_edge_fraction > 0:
                raise ConfigError("model.extra_edge_fraction > 0 needs model.learn_stoichiometry=true")
            if m.substrate_orders != "tied":
                raise ConfigError("model.substrate_orders=free needs model.learn_stoichiometry=true")
        if m.aggregation != "product":
            for key in ("coeff_MLP_sub_diff", "coeff_MLP_sub_norm"):
                if t[key] > 0:
                    raise ConfigError(f"training.{key}={t[key]} needs model.aggregation=product")
        if not m.homeostasis and t.coeff_MLP_node_L1 > 0:
            raise ConfigError(f"training.coeff_MLP_node_L1={t.coeff_MLP_node_L1} needs model.homeostasis=true")
        # The score a sweeper maximises and the run's status follow the mode.
        self.primary_metric = "stoichiometry_R2" if m.learn_stoichiometry else "rate_constants_R2"

    def simulate(self, sim_cfg: DictConfig) -> dict[str, np.ndarray]:
        return sim.simulate(sim_cfg)

    def build(self, arrays: Mapping[str, np.ndarray], cfg: DictConfig, device: torch.device):
        m, t = cfg.model, cfg.training
        x = torch.as_tensor(arrays["x"][0], device=device)
        y = torch.as_tensor(arrays["y"][0], device=device)
        n_rxn = arrays["S"].shape[1]
        gen = torch.Generator().manual_seed(int(t.seed))
        jitter = (2 * torch.rand(n_rxn, generator=gen) - 1) * m.log_k_init_spread
        n_met = arrays["S"].shape[0]
        common = dict(
            c_scale=float(1.5 * x.std()), embedding_dim=m.embedding_dim,
            hidden_dim_sub=m.hidden_dim_sub, n_layers_sub=m.n_layers_sub,
            hidden_dim_node=m.hidden_dim_node, n_layers_node=m.n_layers_node,
            sub_normalized=m.sub_normalized, log_k_init=m.log_k_init + jitter,
            aggregation=str(getattr(m.aggregation, "value", m.aggregation)), homeostasis=m.homeostasis,
            msg_dim=m.msg_dim, hidden_dim_rate=m.hidden_dim_rate, n_layers_rate=m.n_layers_rate,
        )
        if m.learn_stoichiometry:
            edge_met, edge_rxn = candidate_edges(arrays, m.extra_edge_fraction, int(t.seed))
            missing = set(zip(arrays["sub_met"].tolist(), arrays["sub_rxn"].tolist())) - set(zip(edge_met.tolist(), edge_rxn.tolist()))
            if missing:
                raise ConfigError(
                    f"model.learn_stoichiometry needs every substrate to have a non-zero net coefficient; "
                    f"{len(missing)} substrate edges have S_ij = 0 (e.g. {sorted(missing)[:3]})"
                )
            init = torch.randn(len(edge_met), generator=gen) * m.S_init_scale
            if m.S_sign_constraint:
                is_sub = np.zeros(len(edge_met), dtype=bool)
                sub_keys = set(zip(arrays["sub_met"].tolist(), arrays["sub_rxn"].tolist()))
                is_sub[[i for i, e in enumerate(zip(edge_met.tolist(), edge_rxn.tolist())) if e in sub_keys]] = True
                init = init.abs() * torch.where(torch.as_tensor(is_sub), -1.0, 1.0)
            model = MetabolismGNN(
                None, torch.as_tensor(arrays["sub_met"]), torch.as_tensor(arrays["sub_rxn"]), None,
                learn_stoichiometry=True, n_metabolites=n_met, n_reactions=arrays["S"].shape[1],
                edge_met=torch.as_tensor(edge_met), edge_rxn=torch.as_tensor(edge_rxn), S_init=init,
                S_sign_constraint=m.S_sign_constraint,
                substrate_orders=str(getattr(m.substrate_orders, "value", m.substrate_orders)), **common,
            ).to(device)
            if t.S_grad_clip > 0:
                clip = float(t.S_grad_clip)
                model.sto.register_hook(lambda g: g * torch.clamp(clip / (g.norm() + 1e-12), max=1.0))
            participating = edge_met
        else:
            model = MetabolismGNN(
                torch.as_tensor(arrays["S"]), torch.as_tensor(arrays["sub_met"]),
                torch.as_tensor(arrays["sub_rxn"]), torch.as_tensor(arrays["sub_s"]), **common,
            ).to(device)
            participating = np.asarray(arrays["all_met"])
        # coeff_k_center pulls mean log k to the centre of the *true* range: it uses the truth.
        model.k_centre = 0.5 * (cfg.simulation.log_k_min + cfg.simulation.log_k_max)
        if t.normalize_targets:
            # Per-metabolite std with a small floor: metabolites that barely move would otherwise
            # turn float noise into a large loss.
            scale = y.std(dim=0) + 1e-3 * y.std()
        else:
            scale = torch.ones(y.shape[1], device=device)
        if t.loss_weight == "inverse_participation":
            # weight 1/n_i on the squared error of metabolite i = its residual divided by sqrt(n_i)
            n_i = torch.as_tensor(participation(participating, n_met), dtype=scale.dtype, device=device)
            scale = scale * torch.sqrt(n_i)
        return model, TrainData(x=x, y=y, target_scale=scale)

    def param_groups(self, model: MetabolismGNN, t: DictConfig) -> list[dict[str, Any]]:
        lr_node = t.lr_node if t.lr_node > 0 else t.lr
        groups = [
            adam_group("k", [model.log_k], t.lr_k, t.lr),
            adam_group("MLP_sub", model.mlp_sub.parameters(), t.lr_sub, t.lr),
            adam_group("MLP_node", model.mlp_node.parameters(), t.lr_node, t.lr),
            adam_group("embedding", [model.a], t.lr_embedding, lr_node),
        ]
        if model.aggregation == "additive":
            groups.append(adam_group("MLP_rate", model.mlp_rate.parameters(), t.lr_sub, t.lr))
        if model.learn_stoichiometry:
            s_params = [model.sto] + ([model.sto_sub] if model.substrate_order_mode == "free" else [])
            groups.append(adam_group("S", s_params, t.lr_S, t.lr))
        return groups

    def regularizers(self, model: MetabolismGNN, batch, pred, t: DictConfig, epoch: int) -> dict[str, torch.Tensor]:
        terms: dict[str, torch.Tensor] = {}
        if t.coeff_MLP_sub_diff > 0:
            # f must not decrease with c: penalise relu(f(c) − f(c + δ)) on a grid past the data.
            c = torch.linspace(0.0, 3.0 * model.c_scale, 100, device=model.log_k.device).unsqueeze(-1)
            delta = 0.01 * model.c_scale
            orders = grid_orders(model)
            drop = model.substrate(c, orders) - model.substrate(c + delta, orders)
            terms["MLP_sub_diff"] = t.coeff_MLP_sub_diff * torch.relu(drop).mean()
        if t.coeff_MLP_node_L1 > 0:
            terms["MLP_node_L1"] = t.coeff_MLP_node_L1 * model.homeostasis(batch["x"]).abs().mean()
        if t.coeff_k_center > 0:
            terms["k_center"] = t.coeff_k_center * (model.log_k.mean() - model.k_centre) ** 2
        if t.coeff_MLP_sub_norm > 0:
            one = torch.ones(1, device=model.log_k.device)
            terms["MLP_sub_norm"] = t.coeff_MLP_sub_norm * (model.substrate_raw(one, one) - 1.0).pow(2).sum()
        if t.coeff_k_floor > 0:
            terms["k_floor"] = t.coeff_k_floor * torch.relu(t.k_floor_threshold - model.log_k).pow(2).sum()
        if model.learn_stoichiometry:
            terms.update(self.stoichiometry_penalties(model, t, epoch))
        return terms

    @staticmethod
    def stoichiometry_penalties(model: MetabolismGNN, t: DictConfig, epoch: int) -> dict[str, torch.Tensor]:
        """The seed's penalties on the learned coefficients (already multiplied by their coefficients).

        S_L1 = c·Σ|S_e| (first_coeff_L1 during the first n_epochs_init epochs), S_L2 = c·Σ S_e²,
        S_integer = c·mean sin²(πS_e) or c·mean (S_e − round S_e)², mass_conservation =
        c·mean_j (Σ_i S_ij)² over reactions with candidate edges.
        """
        terms: dict[str, torch.Tensor] = {}
        sto = model.sto
        l1 = t.first_coeff_L1 if epoch < t.n_epochs_init else t.coeff_S_L1
        if l1 > 0:
            terms["S_L1"] = l1 * sto.abs().sum()
        if t.coeff_S_L2 > 0:
            terms["S_L2"] = t.coeff_S_L2 * sto.pow(2).sum()
        if t.coeff_S_integer > 0:
            terms["S_integer"] = t.coeff_S_integer * integer_penalty(sto, str(getattr(t.S_integer_loss, "value", t.S_integer_loss)))
        if t.coeff_mass_conservation > 0:
            terms["mass_conservation"] = t.coeff_mass_conservation * column_sums(model).pow(2).mean()
        return terms

    def after_step(self, model: MetabolismGNN, t: DictConfig) -> None:
        if not model.learn_stoichiometry:
            return
        if t.S_soft_threshold > 0:
            with torch.no_grad():
                model.sto.data = torch.sign(model.sto) * torch.clamp(model.sto.abs() - t.S_soft_threshold, min=0.0)
        if model.S_sign_constraint:
            model.project_signs()

    def live_metric(self, model: MetabolismGNN, arrays: Mapping[str, np.ndarray]) -> float:
        if model.learn_stoichiometry:
            return self.stoichiometry_metrics(model, arrays, 0.5, False)[0]["stoichiometry_R2"]
        ok = identifiable(arrays)
        return r2_score(arrays["log_k"][ok], corrected_log_k(model)[ok])

    @staticmethod
    def stoichiometry_metrics(model: MetabolismGNN, arrays: Mapping[str, np.ndarray], threshold: float, superset: bool):
        """(metrics, gauged coefficients, true coefficients) on the model's candidate edges."""
        edge_met, edge_rxn = model.edge_met.cpu().numpy(), model.edge_rxn.cpu().numpy()
        true = arrays["S"][edge_met, edge_rxn].astype(np.float64)
        learned = model.sto.detach().cpu().numpy().astype(np.float64)
        metrics, gauged = stoichiometry_scores(
            true, learned, edge_rxn, arrays["S"].shape[1], identifiable_reactions(arrays), threshold, superset,
        )
        return metrics, gauged, true

    def evaluate(self, model: MetabolismGNN, arrays, cfg: DictConfig, device: torch.device):
        sim_cfg = cfg.simulation
        metrics: dict[str, Any] = {}
        results: dict[str, Any] = {"S": arrays["S"], "types": arrays["types"]}
        true = arrays["log_k"]
        learned = corrected_log_k(model)
        if model.learn_stoichiometry:
            superset = cfg.model.extra_edge_fraction > 0
            s_metrics, gauged, s_true = self.stoichiometry_metrics(model, arrays, float(cfg.training.sparsity_threshold), superset)
            metrics.update(s_metrics)
            edge_met, edge_rxn = model.edge_met.cpu().numpy(), model.edge_rxn.cpu().numpy()
            learned_edges = model.sto.detach().cpu().numpy().astype(np.float64)
            gauged_dense = np.zeros(arrays["S"].shape)
            gauged_dense[edge_met, edge_rxn] = gauged
            results.update({
                "S_true": arrays["S"].astype(np.float64),
                "S_learned": model.stoichiometry().detach().cpu().numpy().astype(np.float64),
                "S_learned_gauged": gauged_dense,
                "edge_met": edge_met, "edge_rxn": edge_rxn, "edge_true": s_true,
                "edge_learned": learned_edges, "edge_gauged": gauged,
                "edge_mincoef": mincoef_gauge(learned_edges, edge_rxn, arrays["S"].shape[1])[edge_rxn] * learned_edges,
                "identifiable_reactions": identifiable_reactions(arrays),
                "log_k_true": true, "log_k_learned": learned,
            })
        else:
            ok = identifiable(arrays)
            metrics["rate_constants_R2"] = r2_score(true[ok], learned[ok])
            metrics["rate_constants_R2_all"] = r2_score(true, learned)
            metrics["rate_constants_r2_fit"] = linear_fit(true, learned).r2
            metrics["rate_constants_R2_shifted"] = r2_score(true[ok], learned[ok] - (learned[ok] - true[ok]).mean())
            metrics["slope"] = linear_fit(true[ok], learned[ok]).slope
            trimmed = trimmed_fit(true, learned, OUTLIER_DEX)
            metrics["trimmed_R2"] = trimmed.r2
            metrics["n_outliers"] = trimmed.n_outliers
            metrics["n_unidentifiable"] = int((~ok).sum())
            results.update({
                "k_true": 10.0**true, "k_learned": 10.0 ** model.log_k.detach().cpu().numpy(),
                "k_learned_corrected": 10.0**learned, "log_k_true": true, "log_k_learned": learned,
                "identifiable": ok,
            })

        x_train = arrays["x"][0]
        c_hi = float(x_train.max())
        grid = torch.linspace(0.0, c_hi, GRID, device=device)
        g = grid.cpu().numpy()
        if model.aggregation == "product":
            with torch.no_grad():
                s_vals = grid_orders(model)
                f = model.substrate(grid.unsqueeze(-1), s_vals).T.cpu().numpy()  # (n_s, G)
                one = torch.ones(1, device=device)
                metrics["alpha"] = float(model.substrate(one, one)) if (s_vals == 1).any() else float("nan")
            s_np = s_vals.cpu().numpy()
            if sim_cfg.rate_law == "mass_action":
                metrics["MLP_sub_R2"] = float(np.mean([r2_score(g**s, f[i]) for i, s in enumerate(s_np)]))
            results.update({"mlp_sub_c": g, "mlp_sub_s": s_np, "mlp_sub_f": f})
        else:
            metrics["alpha"] = float("nan")

        if model.use_homeostasis:
            with torch.no_grad():
                node = model.homeostasis(grid.unsqueeze(-1).expand(-1, x_train.shape[1])).T.cpu().numpy()  # (N, G)
            # Homeostasis: a line fitted to MLP_node(c, a_i) over each metabolite's observed range.
            types = arrays["types"]
            lam, base = arrays["homeostatic_lambda"], arrays["homeostatic_baseline"]
            slopes, offsets = np.empty(len(types)), np.empty(len(types))
            for i in range(len(types)):
                inside = (g >= x_train[:, i].min()) & (g <= x_train[:, i].max())
                if inside.sum() < 2:
                    inside = np.ones_like(g, dtype=bool)
                fit = linear_fit(g[inside], node[i, inside])
                slopes[i], offsets[i] = fit.slope, fit.intercept
            for tt in range(len(lam)):
                sel = types == tt
                metrics[f"homeostasis_slope_t{tt}"] = float(np.mean(slopes[sel]))
                metrics[f"homeostasis_slope_true_t{tt}"] = float(-lam[tt])
                metrics[f"homeostasis_offset_t{tt}"] = float(np.mean(offsets[sel]))
                metrics[f"homeostasis_offset_true_t{tt}"] = float(lam[tt] * base[tt])
            results.update({
                "homeostatic_lambda": lam, "homeostatic_baseline": base,
                "homeostasis_slope": slopes, "homeostasis_offset": offsets,
                "mlp_node_c": g, "mlp_node_f": node,
            })

        # Free rollouts on held-out runs (or the training run when none were simulated).
        runs = list(range(1, arrays["x"].shape[0])) or [0]
        x_true = arrays["x_clean"][runs]
        dt, substeps = float(sim_cfg.delta_t), int(sim_cfg.substeps)
        n_states = x_true.shape[1]
        window = min(int(cfg.training.test_window), n_states - 1)
        starts = np.linspace(0, n_states - 1 - window, max(1, int(cfg.training.test_n_windows))).astype(int)
        c0 = torch.as_tensor(x_true[:, starts].reshape(-1, x_true.shape[2]), device=device)
        windows = rollout(model, c0, window, dt, substeps).cpu().numpy().reshape(len(runs), len(starts), window + 1, -1)
        truth_windows = np.stack([[x_true[r, s0 : s0 + window + 1] for s0 in starts] for r in range(len(runs))])
        pairs = [(truth_windows[r, w], windows[r, w]) for r in range(len(runs)) for w in range(len(starts))]
        metrics["test_R2"] = float(np.mean([trace_r2(t_, p_) for t_, p_ in pairs]))
        metrics["test_pearson"] = float(np.mean([trace_pearson(t_, p_) for t_, p_ in pairs]))
        pred = rollout(model, torch.as_tensor(x_true[:, 0], device=device), n_states - 1, dt, substeps).cpu().numpy()
        metrics["test_R2_full"] = float(np.mean([trace_r2(x_true[r], pred[r]) for r in range(len(runs))]))
        metrics["test_pearson_full"] = float(np.mean([trace_pearson(x_true[r], pred[r]) for r in range(len(runs))]))
        metrics["rollout_horizon"] = horizon(x_true[0], pred[0])
        metrics["rollout_horizon_truth"] = horizon(x_true[0], truth_rollout(arrays, sim_cfg, x_true[0, 0]))
        # One-step derivatives on the held-out runs: unaffected by process noise, which no
        # deterministic rollout can follow.
        with torch.no_grad():
            y_pred = model.derivative(torch.as_tensor(arrays["x"][runs].reshape(-1, x_true.shape[2]), device=device))
        y_pred = y_pred.cpu().numpy().reshape(len(runs), n_states, -1)
        metrics["test_deriv_R2"] = float(np.mean([trace_r2(arrays["y"][r], y_pred[i]) for i, r in enumerate(runs)]))
        metrics["activity_rank"] = int(arrays["activity_rank_99"])
        metrics["activity_rank_90"] = int(arrays["activity_rank_90"])
        metrics["activity_rank_99"] = int(arrays["activity_rank_99"])

        results.update({
            "rollout_true": x_true[0], "rollout_pred": pred[0],
            "c_observed_min": x_train.min(axis=0), "c_observed_max": x_train.max(axis=0),
        })
        return metrics, results

    def plot(self, model, arrays, results, metrics, history, plot_dir: Path, cfg: DictConfig) -> None:
        from neuralgraph.families.metabolism import plots

        plots.plot_all(results, metrics, history, plot_dir)


#: The instance :func:`neuralgraph.family.get_family` returns.
FAMILY = MetabolismFamily()
