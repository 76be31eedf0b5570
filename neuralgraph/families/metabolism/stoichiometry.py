r"""The learned stoichiometry (``model.learn_stoichiometry``): candidate edges, the penalties on
the coefficients, and their read-out against the truth.

The model learns one signed coefficient S_e per candidate edge e = (metabolite, reaction): the
non-zeros of the true S (the known bipartite graph), plus, with ``extra_edge_fraction``, random
zeros of S whose true coefficient is 0. The scores and the per-reaction gauge are defined in
:mod:`neuralgraph.metrics.stoichiometry`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch

from neuralgraph.errors import ConfigError
from neuralgraph.families.metabolism import oracle
from neuralgraph.families.metabolism.config import IntegerLoss, MetabolismModel, MetabolismTraining, SInit
from neuralgraph.families.metabolism.model import Graph, MetabolismGNN
from neuralgraph.metrics.stoichiometry import duplicate_reactions, mincoef_gauge, stoichiometry_scores


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


def learned_graph(
    arrays: Mapping[str, np.ndarray], model: MetabolismModel, seed: int, gen: torch.Generator,
) -> tuple[Graph, torch.Tensor]:
    """The model's graph with S learned, and the initial coefficients (``model.S_init``)."""
    edge_met, edge_rxn = candidate_edges(arrays, model.extra_edge_fraction, seed)
    substrates = set(zip(arrays["sub_met"].tolist(), arrays["sub_rxn"].tolist()))
    missing = substrates - set(zip(edge_met.tolist(), edge_rxn.tolist()))
    if missing:
        raise ConfigError(
            f"model.learn_stoichiometry needs every substrate to have a non-zero net coefficient; "
            f"{len(missing)} substrate edges have S_ij = 0 (e.g. {sorted(missing)[:3]})"
        )
    if model.S_init is SInit.roles:
        is_sub = np.array([edge in substrates for edge in zip(edge_met.tolist(), edge_rxn.tolist())], dtype=bool)
        init = torch.as_tensor(model.S_init_scale * role_coefficients(edge_rxn, is_sub, arrays["S"].shape[1]))
    else:
        init = torch.randn(len(edge_met), generator=gen) * model.S_init_scale
    return Graph.from_arrays(arrays, edges=(edge_met, edge_rxn)), init


def role_coefficients(edge_rxn: np.ndarray, is_substrate: np.ndarray, n_rxn: int) -> np.ndarray:
    """The stoichiometry the graph alone suggests: −1 on every substrate edge, and n_sub / n_other
    on every other edge of the reaction, so that each column sums to 0 (mass conservation).

    Random starts let the sign constraint pin substrate coefficients at 0 early on, where they
    stay (the tied order |s| = 0 then feeds MLP_sub); this start keeps every substrate consumed.
    A reaction without substrates keeps 0 on its edges; one whose every candidate edge is a
    substrate cannot conserve mass and starts at −1 on each.
    """
    n_sub = np.bincount(edge_rxn[is_substrate], minlength=n_rxn)
    n_other = np.bincount(edge_rxn[~is_substrate], minlength=n_rxn)
    share = n_sub / np.maximum(n_other, 1)
    return np.where(is_substrate, -1.0, share[edge_rxn]).astype(np.float32)


def identifiable_reactions(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """Reactions whose column of S the dynamics can determine (up to the gauge)."""
    n_rxn = arrays["S"].shape[1]
    has = np.bincount(arrays["sub_rxn"], minlength=n_rxn) > 0
    return has & ~duplicate_reactions(arrays["sub_met"], arrays["sub_rxn"], arrays["sub_s"], n_rxn)


def participation(met: np.ndarray, n_met: int) -> np.ndarray:
    """Edges per metabolite in the candidate graph (at least 1)."""
    return np.maximum(np.bincount(met, minlength=n_met), 1)


# ---- penalties --------------------------------------------------------------------------------
def integer_penalty(sto: torch.Tensor, kind: IntegerLoss) -> torch.Tensor:
    """mean sin²(πS) (``sin2``) or mean (S − round S)² (``round``): 0 on integers."""
    if kind == IntegerLoss.round:
        return (sto - torch.round(sto)).pow(2).mean()
    return torch.sin(math.pi * sto).pow(2).mean()


def column_sums(model: MetabolismGNN) -> torch.Tensor:
    """Σ_i S_ij per reaction, over reactions with at least one candidate edge."""
    sums = torch.zeros(model.n_reactions, device=model.sto.device).index_add(0, model.edge_rxn, model.sto)
    has = torch.zeros(model.n_reactions, dtype=torch.bool, device=model.sto.device)
    has[model.edge_rxn] = True
    return sums[has]


def penalties(model: MetabolismGNN, t: MetabolismTraining, epoch: int) -> dict[str, torch.Tensor]:
    """The seed's penalties on the learned coefficients (already multiplied by their coefficients).

    S_L1 = c·Σ|S_e| (first_coeff_L1 during the first n_epochs_init epochs), S_L2 = c·Σ S_e²,
    S_integer = c·mean sin²(πS_e) or c·mean (S_e − round S_e)², mass_conservation =
    c·mean_j (Σ_i S_ij)² over reactions with candidate edges, S_prior = c·Σ(S_e − S_e⁰)² toward the
    start S⁰ (the graph's roles guess).
    """
    terms: dict[str, torch.Tensor] = {}
    sto = model.sto
    l1 = t.first_coeff_L1 if epoch < t.n_epochs_init else t.coeff_S_L1
    if l1 > 0:
        terms["S_L1"] = l1 * sto.abs().sum()
    if t.coeff_S_L2 > 0:
        terms["S_L2"] = t.coeff_S_L2 * sto.pow(2).sum()
    if t.coeff_S_integer > 0:
        terms["S_integer"] = t.coeff_S_integer * integer_penalty(sto, t.S_integer_loss)
    if t.coeff_S_prior > 0:
        terms["S_prior"] = t.coeff_S_prior * (sto - model.sto_start).pow(2).sum()
    if t.coeff_mass_conservation > 0:
        terms["mass_conservation"] = t.coeff_mass_conservation * column_sums(model).pow(2).mean()
    return terms


def clip_gradient(sto: torch.nn.Parameter, max_norm: float) -> None:
    """Scale the gradient of S to at most ``max_norm`` (L2) in every backward pass."""
    sto.register_hook(lambda g: g * torch.clamp(max_norm / (g.norm() + 1e-12), max=1.0))


# ---- read-out ---------------------------------------------------------------------------------
def scores(
    model: MetabolismGNN, arrays: Mapping[str, np.ndarray], threshold: float, superset: bool,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """(metrics, gauged coefficients, true coefficients) on the model's candidate edges."""
    edge_met, edge_rxn = model.edge_met.cpu().numpy(), model.edge_rxn.cpu().numpy()
    true = arrays["S"][edge_met, edge_rxn].astype(np.float64)
    learned = model.sto.detach().cpu().numpy().astype(np.float64)
    metrics, gauged = stoichiometry_scores(
        true, learned, edge_rxn, arrays["S"].shape[1], identifiable_reactions(arrays), threshold, superset,
    )
    return truth_free_headline(metrics), gauged, true


def truth_free_headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """``stoichiometry_R2`` becomes the truth-free score (each column divided by its smallest clear
    coefficient, :func:`mincoef_gauge`); the score after the per-column least-squares rescaling
    against the truth stays as the diagnostic ``stoichiometry_R2_oracle_gauge``."""
    out = dict(metrics)
    out["stoichiometry_R2_oracle_gauge"] = out["stoichiometry_R2"]
    out["stoichiometry_R2"] = out.pop("stoichiometry_R2_mincoef")
    return out


def oracle_readout(
    arrays: Mapping[str, np.ndarray], edge_met: np.ndarray, edge_rxn: np.ndarray, row_scale: np.ndarray,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The known-law oracle beside the learned S (:func:`.oracle.stoichiometry_products`).

    The true rate law (its k excepted) is given; least squares fits the products b_e = S_e k_j,
    which is all the data hold about S, and they are scored with the learner's truth-free
    headline. ``oracle_stoichiometry_R2`` is thus the most any learner can reach under that
    definition: below 1 when a column's true coefficients share a factor, e.g. (−2, +2), which
    the truth-free gauge reads as (−1, +1).
    """
    result = oracle.stoichiometry_products(arrays, row_scale, edge_met, edge_rxn)
    products = result.theta[: len(edge_met)]
    true = arrays["S"][edge_met, edge_rxn].astype(np.float64)
    scores, _ = stoichiometry_scores(true, products, edge_rxn, arrays["S"].shape[1], identifiable_reactions(arrays))
    metrics: dict[str, Any] = {
        "oracle_stoichiometry_R2": scores["stoichiometry_R2_mincoef"],
        "oracle_stoichiometry_R2_oracle_gauge": scores["stoichiometry_R2"],
        **oracle.homeostasis_metrics(result),
    }
    if not metrics["oracle_stoichiometry_R2"] > 0.9:
        metrics["data_limited_reason"] = (
            "exact edge products under the true rate law score "
            f"stoichiometry_R2={metrics['oracle_stoichiometry_R2']:.3f} with the truth-free gauge "
            "(columns whose coefficients share a factor are misread)"
        )
    return metrics, {"oracle_edge_products": products}


def baseline_readout(
    arrays: Mapping[str, np.ndarray], edge_met: np.ndarray, edge_rxn: np.ndarray, is_substrate: np.ndarray,
) -> dict[str, Any]:
    """The floor beside the oracle's ceiling: what the known graph alone gives, with no dynamics.

    The graph's guess is :func:`role_coefficients` (every substrate −1, the other edges sharing the
    consumed mass evenly), scored exactly like the learned S. It is often close, because many true
    columns are small and evenly split: only a learned score above ``baseline_stoichiometry_R2``
    is something the learner took from the data.
    """
    n_rxn = arrays["S"].shape[1]
    guess = role_coefficients(edge_rxn, is_substrate, n_rxn).astype(np.float64)
    true = arrays["S"][edge_met, edge_rxn].astype(np.float64)
    scores, _ = stoichiometry_scores(true, guess, edge_rxn, n_rxn, identifiable_reactions(arrays))
    return {"baseline_stoichiometry_R2": scores["stoichiometry_R2_mincoef"],
            "baseline_stoichiometry_R2_oracle_gauge": scores["stoichiometry_R2"]}


def readout(
    model: MetabolismGNN, arrays: Mapping[str, np.ndarray], threshold: float, superset: bool,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metrics of the learned S, and its arrays for results.npz (dense and per candidate edge)."""
    metrics, gauged, true = scores(model, arrays, threshold, superset)
    edge_met, edge_rxn = model.edge_met.cpu().numpy(), model.edge_rxn.cpu().numpy()
    learned = model.sto.detach().cpu().numpy().astype(np.float64)
    n_rxn = arrays["S"].shape[1]
    gauged_dense = np.zeros(arrays["S"].shape)
    gauged_dense[edge_met, edge_rxn] = gauged
    results = {
        "S_true": arrays["S"].astype(np.float64),
        "S_learned": model.stoichiometry().detach().cpu().numpy().astype(np.float64),
        "S_learned_gauged": gauged_dense,
        "edge_met": edge_met, "edge_rxn": edge_rxn, "edge_true": true,
        "edge_learned": learned, "edge_gauged": gauged,
        "edge_mincoef": mincoef_gauge(learned, edge_rxn, n_rxn)[edge_rxn] * learned,
        "identifiable_reactions": identifiable_reactions(arrays),
    }
    return metrics, results
