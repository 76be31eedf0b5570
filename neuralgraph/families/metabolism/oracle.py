r"""Known-law oracle: what the training data determine when the true rate law is known.

Given the truth's rate function h_j(c) = v_j(c) / k_j of every reaction (mass action:
Π_{i ∈ sub(j)} c_i^{|s_ij|}; MLP law: the fixed random softplus(g·ρ(Σ σ))), the right-hand side

    dc_i/dt = Σ_j S_ij k_j h_j(c) − λ_t(i) c_i + o_t(i),        o_t = λ_t c_base,t

is *linear* in θ = (k_1 … k_R, λ_1 … λ_T, o_1 … o_T). The oracle fits θ to the training runs
(x, y) by least squares, with each metabolite's residual divided by the same per-metabolite
scale as the learner's loss (``target_scale``), so both minimise the same objective and only
the function class differs. With S learned the unknowns are the products b_e = S_e k_j of every
candidate edge e = (i, j) (the per-reaction gauge of :mod:`neuralgraph.metrics.stoichiometry`:
only those products enter the data).

The design matrix has one row per (frame, metabolite): F·N rows, far too many to hold densely
for the default regimes (2,881 × 100 rows). Rows of metabolite i touch only the unknowns of its
own edges and its type, so each metabolite's block M_i (F × n_i) is reduced by a QR
factorisation, [M_i | y_i] = Q [R_i | z_i]: stacking the R_i (scattered into the p columns) gives
a Σ n_i × p matrix with the same least-squares solution, the same singular values and the same
right singular vectors as the full one, at the cost of N small QRs (no normal equations, so the
conditioning is not squared). Columns are scaled to unit norm before solving, and weak
directions are judged on that scale (a near-collinearity, not a small column, makes an unknown
undeterminable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from neuralgraph.families.metabolism.simulate import RateMLP, training_frames
from neuralgraph.metrics import r2_score
from neuralgraph.metrics.oracle import ridge_lstsq, weak_directions

#: An unknown with at least this share of its unit vector in weak directions is undetermined.
WEAK_SHARE = 0.01
#: Singular values below this fraction of the largest (column-normalised design) are weak.
WEAK_REL_TOL = 1e-6
#: Oracle k at or below zero (noise can push a poorly excited reaction there) is read as this.
K_FLOOR = 1e-12


@dataclass
class EdgeTerms:
    """The linear terms of the right-hand side: term e adds ``coef[e]·h_{rxn[e]}(c)·θ[param[e]]``
    to dc_{met[e]}/dt. Unknowns ``param`` index 0 … n_params − 1; the homeostasis unknowns come after."""

    met: np.ndarray
    rxn: np.ndarray
    param: np.ndarray
    coef: np.ndarray
    n_params: int


@dataclass
class OracleFit:
    """The fitted unknowns, their share in weak directions, and the design's singular values."""

    theta: np.ndarray  # (n_params + 2T,): edge unknowns, then λ_t, then o_t
    weak_share: np.ndarray  # (n_params + 2T,) in [0, 1]
    sigma: np.ndarray  # singular values of the column-normalised design, descending
    n_params: int
    n_types: int

    @property
    def lam(self) -> np.ndarray:
        return self.theta[self.n_params : self.n_params + self.n_types]

    @property
    def offset(self) -> np.ndarray:
        return self.theta[self.n_params + self.n_types :]


def rate_functions(x: np.ndarray, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """h_j(c) = v_j(c) / k_j of the truth for states x (F, N) → (F, R), in float64."""
    x = np.asarray(x, dtype=np.float64)
    sub_met, sub_rxn = arrays["sub_met"], arrays["sub_rxn"]
    sub_s = np.asarray(arrays["sub_s"], dtype=np.float64)
    n_rxn = arrays["S"].shape[1]
    c_sub = x[:, sub_met]
    if "rate_mlp_w1" in arrays:
        h = RateMLP.from_arrays(arrays)(c_sub, sub_s, sub_rxn, n_rxn)
    else:
        log_h = np.zeros((x.shape[0], n_rxn))
        np.add.at(log_h, (slice(None), sub_rxn), sub_s * np.log(np.maximum(c_sub, 1e-300)))
        h = np.exp(log_h)
    return h * (np.bincount(sub_rxn, minlength=n_rxn) > 0)


def reaction_terms(S: np.ndarray) -> EdgeTerms:
    """S given: unknown k_j on every non-zero S_ij, with coefficient S_ij."""
    met, rxn = np.nonzero(S)
    return EdgeTerms(met, rxn, rxn, S[met, rxn].astype(np.float64), S.shape[1])


def edge_terms(edge_met: np.ndarray, edge_rxn: np.ndarray) -> EdgeTerms:
    """S learned: one unknown b_e = S_e k_j per candidate edge, with coefficient 1."""
    n = len(edge_met)
    return EdgeTerms(np.asarray(edge_met), np.asarray(edge_rxn), np.arange(n), np.ones(n), n)


def compressed_design(
    h: np.ndarray, x: np.ndarray, y: np.ndarray, terms: EdgeTerms, types: np.ndarray, n_types: int,
    row_scale: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(X_c, y_c) with ‖X_c θ − y_c‖² = ‖Xθ − y‖² − const for the weighted full design X.

    Row (f, i) of X: terms of metabolite i, then −c_fi on λ_t(i) and 1 on o_t(i), all divided by
    ``row_scale[i]`` (as is y_fi).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n_frames, n_met = x.shape
    p = terms.n_params + 2 * n_types
    rows_x, rows_y = [], []
    for i in range(n_met):
        sel = terms.met == i
        t = int(types[i])
        cols = np.concatenate([terms.param[sel], [terms.n_params + t, terms.n_params + n_types + t]])
        block = np.column_stack([h[:, terms.rxn[sel]] * terms.coef[sel], -x[:, i], np.ones(n_frames), y[:, i]])
        r = np.linalg.qr(block / row_scale[i], mode="r")
        n = min(len(cols), r.shape[0])
        dense = np.zeros((n, p))
        np.add.at(dense, (slice(None), cols), r[:n, : len(cols)])  # add: a repeated unknown sums
        rows_x.append(dense)
        rows_y.append(r[:n, -1])
    return np.vstack(rows_x), np.concatenate(rows_y)


def fit(
    x: np.ndarray, y: np.ndarray, arrays: Mapping[str, np.ndarray], terms: EdgeTerms, row_scale: np.ndarray,
) -> OracleFit:
    """Least squares for the unknowns of ``terms`` and the per-type homeostasis lines."""
    types = np.asarray(arrays["types"])
    n_types = len(arrays["homeostatic_lambda"])
    X, z = compressed_design(rate_functions(x, arrays), x, y, terms, types, n_types, row_scale)
    norm = np.linalg.norm(X, axis=0)
    norm = np.where(norm > 0, norm, 1.0)  # an unknown no row touches stays at 0 (and is weak)
    theta = ridge_lstsq(X / norm, z) / norm
    sigma, share = weak_directions(X / norm, WEAK_REL_TOL)
    return OracleFit(theta, share, sigma, terms.n_params, n_types)


def homeostasis_metrics(result: OracleFit) -> dict[str, Any]:
    """``oracle_homeostasis_slope_t<T>`` (−λ̂_T) and ``oracle_homeostasis_offset_t<T>`` (λ̂_T·ĉ_base,T)."""
    out: dict[str, Any] = {}
    for t in range(result.n_types):
        out[f"oracle_homeostasis_slope_t{t}"] = float(-result.lam[t])
        out[f"oracle_homeostasis_offset_t{t}"] = float(result.offset[t])
    return out


def rate_constants(
    arrays: Mapping[str, np.ndarray], row_scale: np.ndarray, identifiable: np.ndarray,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The oracle beside ``rate_constants_R2`` (S given): metrics and arrays for results.npz.

    ``oracle_rate_constants_R2`` has the learner's definition (identity R² of log10 k on the
    ``identifiable`` reactions); ``oracle_n_weak_reactions`` counts reactions with edges whose k
    the data leave undetermined, ``oracle_n_nonpositive_k`` the fitted k ≤ 0 (read as ``K_FLOOR``).
    """
    terms = reaction_terms(np.asarray(arrays["S"], dtype=np.float64))
    result = fit(training_frames(arrays), training_frames(arrays, "y"), arrays, terms, row_scale)
    k = result.theta[: terms.n_params]
    log_k = np.log10(np.maximum(k, K_FLOOR))
    true = arrays["log_k"]
    has_edges = np.bincount(terms.rxn, minlength=terms.n_params) > 0
    weak = result.weak_share[: terms.n_params] >= WEAK_SHARE
    metrics = {
        "oracle_rate_constants_R2": r2_score(true[identifiable], log_k[identifiable]),
        "oracle_max_abs_dex": float(np.max(np.abs(log_k - true)[identifiable])) if identifiable.any() else float("nan"),
        "oracle_n_weak_reactions": int((weak & has_edges).sum()),
        "oracle_n_nonpositive_k": int((k <= 0).sum()),
        **homeostasis_metrics(result),
    }
    results = {"oracle_log_k": log_k, "oracle_weak_share": result.weak_share[: terms.n_params]}
    return metrics, results


def stoichiometry_products(
    arrays: Mapping[str, np.ndarray], row_scale: np.ndarray, edge_met: np.ndarray, edge_rxn: np.ndarray,
) -> OracleFit:
    """S learned: least squares for b_e = S_e k_j on the candidate edges, given the true rate law."""
    terms = edge_terms(edge_met, edge_rxn)
    return fit(training_frames(arrays), training_frames(arrays, "y"), arrays, terms, row_scale)
