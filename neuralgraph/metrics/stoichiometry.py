r"""Scores for a learned stoichiometric matrix, on the edge list of the known graph.

The per-reaction gauge. With the rate law unknown, dc/dt = Σ_j S_:j v_j(c) is unchanged by
S_:j → S_:j / α_j, v_j → α_j v_j + β_j for any α_j ≠ 0, as long as the offsets satisfy
Σ_j β_j S_:j / α_j = 0 (the learned k_j and rate MLP absorb α_j and β_j). With more reactions than
metabolites (256 vs 100) S has a large null space, so such offsets exist, and a *negative* α_j
(a column with every sign flipped, whose learned rate decreases where the true one increases,
plus a constant that keeps it positive) fits the data exactly as well. The data therefore fix
only the *ratios* within a column — not its scale, e.g. (−1, +1) vs (−2, +2), and not its
orientation unless the model is told which edges are substrates (``model.S_sign_constraint``)
or its rates are monotone. Scores come in two kinds:

- gauge-fixed (the headline ones): each learned column is first multiplied by the α_j that best
  matches the true column in least squares over that reaction's candidate edges,
  α_j = ⟨s_true, s_learned⟩ / ⟨s_learned, s_learned⟩ (0 for an all-zero column). This uses the
  truth for one number per reaction (an oracle gauge); it measures exactly what the data can
  determine: the ratios within each column.
- raw: the learned coefficients as they are (``*_raw``, and ``stoichiometry_sign_accuracy``);
  meaningful only when a constraint or regulariser (sign constraint, integer pull, L1) has fixed
  the orientation and scale toward the true integers.
- truth-free (``*_mincoef``): what a user without the truth would read out. Each learned column
  is divided by its smallest clearly non-zero magnitude (|s| ≥ ``MINCOEF_REL`` × the column's
  largest), so that coefficient becomes ±1: chemists write reactions with the smallest
  integers. This is wrong by construction for columns whose true coefficients share a factor,
  e.g. (−2, +2). No method can resolve those from the dynamics.

R² is the identity-line coefficient of determination 1 − Σ(p − t)²/Σ(t − t̄)², over the true
non-zero entries only (the zeros of a superset are scored by precision/recall instead).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuralgraph.metrics.regression import linear_fit, r2_score


def gauge_factors(true: np.ndarray, learned: np.ndarray, rxn: np.ndarray, n_rxn: int) -> np.ndarray:
    """α_j = ⟨t, l⟩_j / ⟨l, l⟩_j per reaction (least squares; 0 where the learned column is zero)."""
    tl = np.bincount(rxn, weights=true * learned, minlength=n_rxn)
    ll = np.bincount(rxn, weights=learned * learned, minlength=n_rxn)
    return np.divide(tl, ll, out=np.zeros(n_rxn), where=ll > 0)


#: Truth-free gauge: magnitudes below this fraction of the column's largest are treated as zero.
#: Below the smallest true ratio in the random regime (1/5, e.g. 2 + 2 + 1 -> 5).
MINCOEF_REL = 0.15


def mincoef_gauge(learned: np.ndarray, rxn: np.ndarray, n_rxn: int, rel: float = MINCOEF_REL) -> np.ndarray:
    """Per-reaction 1 / (smallest |s| ≥ rel · max |s| of the column); 0 for an all-zero column."""
    mag = np.abs(learned)
    col_max = np.zeros(n_rxn)
    np.maximum.at(col_max, rxn, mag)
    keep = (mag >= rel * col_max[rxn]) & (mag > 0)
    col_min = np.full(n_rxn, np.inf)
    np.minimum.at(col_min, rxn[keep], mag[keep])
    return np.where(np.isfinite(col_min), 1.0 / np.where(np.isfinite(col_min), col_min, 1.0), 0.0)


def duplicate_reactions(sub_met: np.ndarray, sub_rxn: np.ndarray, sub_s: np.ndarray, n_rxn: int) -> np.ndarray:
    """True for reactions that share their substrates and orders with another reaction.

    Such reactions have proportional rates under any rate law of the substrates, so only the
    k-weighted sum of their columns is determined by the dynamics.
    """
    keys: dict[tuple, list[int]] = {}
    for j in range(n_rxn):
        sel = sub_rxn == j
        if not sel.any():
            continue
        keys.setdefault(tuple(sorted(zip(sub_met[sel].tolist(), np.round(sub_s[sel], 6).tolist()))), []).append(j)
    dup = np.zeros(n_rxn, dtype=bool)
    for group in keys.values():
        if len(group) > 1:
            dup[group] = True
    return dup


def stoichiometry_scores(
    true: np.ndarray, learned: np.ndarray, rxn: np.ndarray, n_rxn: int, identifiable: np.ndarray,
    threshold: float = 0.5, superset: bool = False,
) -> tuple[dict[str, Any], np.ndarray]:
    """Metrics of learned vs true coefficients on candidate edges; returns (metrics, gauged).

    ``true``/``learned``/``rxn`` are per candidate edge; ``identifiable`` is per reaction. Headline
    scores use edges of identifiable reactions; ``*_all`` use every reaction.
    """
    true = np.asarray(true, dtype=np.float64)
    learned = np.asarray(learned, dtype=np.float64)
    alpha = gauge_factors(true, learned, rxn, n_rxn)
    gauged = alpha[rxn] * learned
    nz = true != 0
    ok = identifiable[rxn]
    on = nz & ok
    scored = np.bincount(rxn[on], minlength=n_rxn) > 0  # reactions with scored edges
    m: dict[str, Any] = {}
    m["stoichiometry_R2"] = r2_score(true[on], gauged[on])
    m["stoichiometry_R2_all"] = r2_score(true[nz], gauged[nz])
    # Two-edge reactions (−a, +a) are fixed by the gauge plus mass conservation alone; this score
    # leaves them out and says what the data taught about the larger reactions.
    big = on & (np.bincount(rxn[nz], minlength=n_rxn) >= 3)[rxn]
    m["stoichiometry_R2_3plus"] = r2_score(true[big], gauged[big])
    m["stoichiometry_R2_raw"] = r2_score(true[nz], learned[nz])
    m["stoichiometry_r2_fit"] = linear_fit(true[nz], learned[nz]).r2
    m["stoichiometry_sign_accuracy"] = float(np.mean(np.sign(learned[on]) == np.sign(true[on])))
    m["stoichiometry_sign_accuracy_gauged"] = float(np.mean(np.sign(gauged[on]) == np.sign(true[on])))
    # reactions whose learned column points the other way (negative gauge): not identifiable
    # from the data alone, see the module docstring
    m["stoichiometry_flipped_fraction"] = float(np.mean(alpha[scored] < 0)) if on.any() else float("nan")
    m["stoichiometry_integer_accuracy"] = float(np.mean(np.round(gauged[on]) == true[on]))
    m["stoichiometry_integer_accuracy_raw"] = float(np.mean(np.round(learned[on]) == true[on]))
    mincoef = mincoef_gauge(learned, rxn, n_rxn)[rxn] * learned
    m["stoichiometry_R2_mincoef"] = r2_score(true[on], mincoef[on])
    m["stoichiometry_integer_accuracy_mincoef"] = float(np.mean(np.round(mincoef[on]) == true[on]))
    with_edges = np.bincount(rxn[nz], minlength=n_rxn) > 0
    m["stoichiometry_gauge_median"] = float(np.median(np.abs(alpha[scored]))) if on.any() else float("nan")
    m["n_unidentifiable_reactions"] = int((with_edges & ~identifiable).sum())
    if superset:
        pred = np.abs(gauged[ok]) >= threshold
        actual = nz[ok]
        tp = int(np.sum(pred & actual))
        m["stoichiometry_precision"] = tp / int(pred.sum()) if pred.any() else float("nan")
        m["stoichiometry_recall"] = tp / int(actual.sum()) if actual.any() else float("nan")
    return m, gauged
