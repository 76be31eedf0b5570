r"""What a trained metabolism model says about the truth: rate constants, the substrate function
and homeostasis, each scored and returned as arrays for results.npz.

- Rate constants (S given): log10 k corrected for the substrate-function scale,
  log k_j + Σ_{i ∈ sub(j)} log10 MLP_sub(1, |s_ij|) (no correction when MLP_sub is normalised),
  scored against the truth on the *identifiable* reactions: those with less than
  ``IDENTIFIABLE_MAX_NULL_WEIGHT`` of their weight in the null space of the mass-action design.
- The substrate function MLP_sub(c, s) on a grid of c, against c^s (mass action).
- Homeostasis: a line fitted to MLP_node(c, a_i) over each metabolite's observed range, whose
  slope and offset are compared, per type T, with −λ_T and λ_T·c_base,T.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from neuralgraph.families.metabolism.config import Aggregation
from neuralgraph.families.metabolism.model import MetabolismGNN
from neuralgraph.families.metabolism.simulate import training_frames
from neuralgraph.metrics import linear_fit, r2_score, trimmed_fit

#: A reaction is identifiable when less than this share of its k lies in the design null space.
IDENTIFIABLE_MAX_NULL_WEIGHT = 0.01
#: Reactions further than this from the truth (in log10 units) are outliers for ``trimmed_R2``.
OUTLIER_DEX = 0.3
#: Points on the function grids saved for plots and fits.
GRID = 200


def identifiable(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """Reactions whose k the training data determine (see the module docstring)."""
    n_rxn = arrays["log_k"].shape[0]
    if "null_weight" not in arrays:  # MLP rate law: no linear design; every reaction with edges counts
        return np.bincount(arrays["sub_rxn"], minlength=n_rxn) > 0
    return arrays["null_weight"][:n_rxn] < IDENTIFIABLE_MAX_NULL_WEIGHT


def corrected_log_k(model: MetabolismGNN) -> np.ndarray:
    """log10 k plus the substrate-scale correction Σ_{i ∈ sub(j)} log10 f(1, |s_ij|) (product mode).

    In additive mode the scale of softplus(ρ(·)) is not pinned and log10 k is returned as is.
    """
    with torch.no_grad():
        if model.aggregation is not Aggregation.product:
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


def rate_constants(model: MetabolismGNN, arrays: Mapping[str, np.ndarray]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Scores of the corrected log10 k against the truth (definitions in the family's docstring)."""
    true, learned = arrays["log_k"], corrected_log_k(model)
    ok = identifiable(arrays)
    trimmed = trimmed_fit(true, learned, OUTLIER_DEX)
    metrics = {
        "rate_constants_R2": r2_score(true[ok], learned[ok]),
        "rate_constants_R2_all": r2_score(true, learned),
        "rate_constants_r2_fit": linear_fit(true, learned).r2,
        "rate_constants_R2_shifted": r2_score(true[ok], learned[ok] - (learned[ok] - true[ok]).mean()),
        "slope": linear_fit(true[ok], learned[ok]).slope,
        "trimmed_R2": trimmed.r2,
        "n_outliers": trimmed.n_outliers,
        "n_unidentifiable": int((~ok).sum()),
    }
    results = {
        "k_true": 10.0**true, "k_learned": 10.0 ** model.log_k.detach().cpu().numpy(),
        "k_learned_corrected": 10.0**learned, "log_k_true": true, "log_k_learned": learned,
        "identifiable": ok,
    }
    return metrics, results


def substrate_function(
    model: MetabolismGNN, grid: torch.Tensor, mass_action: bool,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """MLP_sub(c, s) on ``grid`` (product mode): ``alpha`` = f(1, 1) and, under mass action, the mean
    over orders s of the identity R² against c^s."""
    if model.aggregation is not Aggregation.product:
        return {"alpha": float("nan")}, {}
    metrics: dict[str, Any] = {}
    g = grid.cpu().numpy()
    with torch.no_grad():
        s_vals = grid_orders(model)
        f = model.substrate(grid.unsqueeze(-1), s_vals).T.cpu().numpy()  # (n_s, G)
        one = torch.ones(1, device=grid.device)
        metrics["alpha"] = float(model.substrate(one, one)) if (s_vals == 1).any() else float("nan")
    s_np = s_vals.cpu().numpy()
    if mass_action:
        metrics["MLP_sub_R2"] = float(np.mean([r2_score(g**s, f[i]) for i, s in enumerate(s_np)]))
    return metrics, {"mlp_sub_c": g, "mlp_sub_s": s_np, "mlp_sub_f": f}


def homeostasis(
    model: MetabolismGNN, arrays: Mapping[str, np.ndarray], grid: torch.Tensor,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Slope and offset of MLP_node(c, a_i) per metabolite, averaged per type, against the truth."""
    if not model.use_homeostasis:
        return {}, {}
    x_train = training_frames(arrays)
    g = grid.cpu().numpy()
    with torch.no_grad():
        node = model.homeostasis(grid.unsqueeze(-1).expand(-1, x_train.shape[1])).T.cpu().numpy()  # (N, G)
    types = arrays["types"]
    lam, base = arrays["homeostatic_lambda"], arrays["homeostatic_baseline"]
    slopes, offsets = np.empty(len(types)), np.empty(len(types))
    for i in range(len(types)):
        inside = (g >= x_train[:, i].min()) & (g <= x_train[:, i].max())
        if inside.sum() < 2:
            inside = np.ones_like(g, dtype=bool)
        fit = linear_fit(g[inside], node[i, inside])
        slopes[i], offsets[i] = fit.slope, fit.intercept
    metrics: dict[str, Any] = {}
    for tt in range(len(lam)):
        sel = types == tt
        metrics[f"homeostasis_slope_t{tt}"] = float(np.mean(slopes[sel]))
        metrics[f"homeostasis_slope_true_t{tt}"] = float(-lam[tt])
        metrics[f"homeostasis_offset_t{tt}"] = float(np.mean(offsets[sel]))
        metrics[f"homeostasis_offset_true_t{tt}"] = float(lam[tt] * base[tt])
    results = {
        "homeostatic_lambda": lam, "homeostatic_baseline": base,
        "homeostasis_slope": slopes, "homeostasis_offset": offsets,
        "mlp_node_c": g, "mlp_node_f": node,
    }
    return metrics, results


def function_grid(arrays: Mapping[str, np.ndarray], device: torch.device) -> torch.Tensor:
    """``GRID`` concentrations from 0 to the largest observed in the training runs."""
    return torch.linspace(0.0, float(training_frames(arrays).max()), GRID, device=device)
