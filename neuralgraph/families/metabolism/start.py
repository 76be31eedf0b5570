r"""Where the learned rate constants start: one scale estimated from the observed data and the given
graph, never from the simulation's truth (issue 29).

With every k_j equal to one scale κ, the mass-action part of the model predicts

    p_fi = Σ_j S_ij m_fj,      m_fj = Π_{e ∈ sub(j)} c_{f, i(e)}^{|s_e|}

at frame f for metabolite i. The observed derivative is regressed on it, with a per-metabolite
line b_i + w_i c_fi beside it for homeostasis (nuisance columns), each metabolite's residual
divided by the learner's loss scale σ_i:

    min_{κ, b, w}  Σ_{f,i} ( (y_fi − κ p_fi − b_i − w_i c_fi) / σ_i )²

and the model starts every log10 k at log10 κ. The per-metabolite lines separate from κ
(Frisch–Waugh–Lovell): with ỹ_i, p̃_i the residuals of y_i, p_i after a least-squares line in c_i
over the frames,

    κ = Σ_i σ_i⁻² ⟨ỹ_i, p̃_i⟩ / Σ_i σ_i⁻² ⟨p̃_i, p̃_i⟩.

When that is not positive, not finite or ill-posed (p̃ ≈ 0: the lines explain every prediction),
the fallback is the ratio of robust magnitudes median |ỹ| / median |p̃| (over the entries where
p̃ ≠ 0), and, when even that is undefined (no reaction has a substrate), κ = 1.

With S learned the graph's guess stands in for S (:func:`.stoichiometry.role_coefficients`:
substrates −1, the other edges sharing the consumed mass), times the scale the coefficients start
at, with order 1 on every substrate edge.

The additive aggregation, v_j = k_j softplus(ρ(Σσ)), learns its rate law from scratch: it has no
unit of concentration (the product form is pinned at f(1, s) = 1) and need not look like mass
action, whose fit can then even come out negative. There concentrations are taken in units of
their mean over every metabolite and frame, and κ is the magnitude fit

    κ² = Σ_i σ_i⁻² ‖ỹ_i‖² / Σ_i σ_i⁻² ‖p̃_i‖²,

the scale that gives the prediction's variation the size of the data's. (On
``tiny_metabolism_S_learning`` the least-squares fit on absolute concentrations put the start 3
dex below the truth and cost up to 0.2 of stoichiometry_R2; benchmarks/results/blind_start_metabolism/.)
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

#: κ when neither the regression nor the robust ratio is defined (log10 k = 0).
FALLBACK_SCALE = 1.0
#: The regression is ill-posed when the lines leave less than this share of Σ_i σ_i⁻² ‖p_i‖² in p̃.
ILL_POSED = 1e-10


def mass_action_prediction(
    x: np.ndarray, S: np.ndarray, sub_met: np.ndarray, sub_rxn: np.ndarray, sub_order: np.ndarray,
) -> np.ndarray:
    """p = m Sᵀ (frames × metabolites): every k = 1, mass action on the substrate edges.

    m_fj = Π_{e: sub_rxn[e] = j} max(x_{f, sub_met[e]}, 0)^{sub_order[e]}; a reaction without a
    substrate edge has m = 0.
    """
    x = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
    n_rxn = S.shape[1]
    m = np.ones((x.shape[0], n_rxn))
    for met, rxn, order in zip(np.asarray(sub_met), np.asarray(sub_rxn), np.asarray(sub_order, dtype=np.float64)):
        m[:, rxn] *= x[:, met] ** order
    m[:, np.bincount(np.asarray(sub_rxn), minlength=n_rxn) == 0] = 0.0
    return m @ np.asarray(S, dtype=np.float64).T


def _residual_after_line(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """v − (least-squares line in x) per column: frames × metabolites → the same."""
    xc = x - x.mean(axis=0)
    vc = v - v.mean(axis=0)
    var = (xc * xc).sum(axis=0)
    slope = np.where(var > 0, (xc * vc).sum(axis=0) / np.where(var > 0, var, 1.0), 0.0)
    return vc - slope * xc


def rate_scale(
    x: np.ndarray, y: np.ndarray, S: np.ndarray, sub_met: np.ndarray, sub_rxn: np.ndarray, sub_order: np.ndarray,
    row_scale: np.ndarray | None = None, magnitude: bool = False,
) -> tuple[float, str]:
    """(κ, how): the one-scalar fit of the module docstring on frames x, y (F × N).

    ``how`` is ``"least_squares"``, ``"robust_ratio"``, ``"magnitude"`` or ``"fallback"``
    (κ = FALLBACK_SCALE). ``row_scale`` (N,) is σ_i (1 when None). ``magnitude``: κ² =
    Σ_i σ_i⁻² ‖ỹ_i‖² / Σ_i σ_i⁻² ‖p̃_i‖² instead of the least-squares κ, i.e. the scale that gives
    the prediction's variation the size of the data's, whatever their correlation (for a rate law
    learned from scratch, whose shape mass action does not describe).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    p = mass_action_prediction(x, S, sub_met, sub_rxn, sub_order)
    weight = np.ones(x.shape[1]) if row_scale is None else 1.0 / np.asarray(row_scale, dtype=np.float64) ** 2
    p_res, y_res = _residual_after_line(p, x), _residual_after_line(y, x)
    num = float((weight * (y_res * p_res).sum(axis=0)).sum())
    den = float((weight * (p_res * p_res).sum(axis=0)).sum())
    total = float((weight * (p * p).sum(axis=0)).sum())
    well_posed = np.isfinite(den) and den > 0 and den > ILL_POSED * total
    if magnitude and well_posed:
        kappa = float(np.sqrt((weight * (y_res * y_res).sum(axis=0)).sum() / den))
        if np.isfinite(kappa) and kappa > 0:
            return kappa, "magnitude"
    elif well_posed and np.isfinite(num):
        kappa = num / den
        if np.isfinite(kappa) and kappa > 0:
            return kappa, "least_squares"
    moving = np.abs(p_res) > 0
    if moving.any():
        kappa = float(np.median(np.abs(y_res[moving])) / np.median(np.abs(p_res[moving])))
        if np.isfinite(kappa) and kappa > 0:
            return kappa, "robust_ratio"
    return FALLBACK_SCALE, "fallback"


def initial_log_k(
    arrays: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray, row_scale: np.ndarray,
    S_guess: np.ndarray | None = None, sub_order: np.ndarray | None = None, learned_law: bool = False,
) -> tuple[float, str]:
    """(log10 κ, how) from the observed frames x, y and the given graph of ``arrays``.

    S given: ``arrays["S"]`` and the orders ``arrays["sub_s"]``. S learned: pass the graph's guess
    ``S_guess`` (dense) and ``sub_order`` (one per substrate edge). Nothing else of ``arrays`` is
    read: no truth array reaches the start.

    ``learned_law`` (the additive aggregation, whose rate law k·softplus(ρ(Σσ)) has no unit of
    concentration and no mass-action shape): concentrations are taken in units of their mean over
    every metabolite and frame (the model too sees c in one global unit), and κ is the magnitude
    fit (:func:`rate_scale`).
    """
    S = np.asarray(arrays["S"] if S_guess is None else S_guess, dtype=np.float64)
    order = np.asarray(arrays["sub_s"] if sub_order is None else sub_order, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if learned_law:
        unit = float(np.abs(x).mean())
        x = x / (unit if unit > 0 else 1.0)
    kappa, how = rate_scale(x, y, S, arrays["sub_met"], arrays["sub_rxn"], order, row_scale, magnitude=learned_law)
    return float(np.log10(kappa)), how
