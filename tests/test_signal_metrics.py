"""Signal metrics against independent computations (sklearn, scipy, numpy, brute force)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score as sk_r2

from neuralgraph.metrics.cluster import cluster_accuracy, cluster_labels, matched_accuracy
from neuralgraph.families.signal.readout import effective_weights, sender_level
from neuralgraph.metrics.regression import linear_fit
from neuralgraph.metrics.rollout import rollout_horizon, rollout_r2, snapshot_r2


# ---- per-sender scale correction ----------------------------------------------------------------


def test_sender_level_is_half_the_rise_between_the_mirrored_windows():
    high = np.array([[0.9, 1.0, 0.95, 2.0], [-1.0, -3.0, -2.0, -2.5]])
    low = np.array([[-1.0, -0.8, -0.9, -5.0], [1.0, 2.0, 1.5, 0.0]])
    np.testing.assert_allclose(sender_level(high, low), [(0.975 + 0.95) / 2, (-2.25 - 1.25) / 2])


def test_effective_weights_are_invariant_to_the_sender_gauge():
    # An exact fit learns W*_ij = g_i W_ij / k_j with ψ*_j = k_j ψ_j + d_j, for any k_j (negative
    # too) and any offset d_j (φ* absorbs Σ_j W_ij d_j): the learned side, scaled by its own
    # levels, equals the target built from the truth.
    rng = np.random.default_rng(1)
    n = 7
    W = rng.standard_normal((n, n))
    g = rng.uniform(1, 10, n)
    k = rng.uniform(0.2, 5, n) * rng.choice([-1, 1], n)
    d = rng.uniform(-2, 2, n)
    xs = np.linspace(2, 3, 50)
    amp = rng.uniform(0.5, 2, n)[:, None]
    psi_hi, psi_lo = np.tanh(xs)[None, :] * amp, np.tanh(-xs)[None, :] * amp
    learned = np.empty_like(W)
    for i in range(n):
        for j in range(n):
            learned[i, j] = g[i] * W[i, j] / k[j]
    level = sender_level(k[:, None] * psi_hi + d[:, None], k[:, None] * psi_lo + d[:, None])
    corrected = effective_weights(learned, level)
    target = effective_weights(W, sender_level(psi_hi, psi_lo), g)
    np.testing.assert_allclose(corrected, target, rtol=1e-12)
    for i in range(n):
        for j in range(n):
            assert target[i, j] == pytest.approx(g[i] * W[i, j] * np.median(psi_hi[j]))
    fit = linear_fit(target, corrected)
    assert fit.r2 == pytest.approx(1.0) and fit.slope == pytest.approx(1.0)
    # The plateau alone (the former read-out) counts the offsets as scale.
    plateau = effective_weights(learned, np.median(k[:, None] * psi_hi + d[:, None], axis=1))
    assert linear_fit(target, plateau).r2 < 0.99


def test_connectivity_r2_is_sklearn_regression_r2():
    rng = np.random.default_rng(2)
    true = rng.standard_normal(400)
    learned = 0.7 * true + 0.3 * rng.standard_normal(400)
    reg = LinearRegression().fit(true[:, None], learned)
    fit = linear_fit(true, learned)
    assert fit.r2 == pytest.approx(reg.score(true[:, None], learned), rel=1e-10)
    assert fit.slope == pytest.approx(reg.coef_[0], rel=1e-10)


# ---- clustering --------------------------------------------------------------------------------


def test_cluster_labels_match_sklearn_single_linkage():
    rng = np.random.default_rng(3)
    centres = np.array([[0, 0], [1, 1], [0, 1], [3, 0]])
    x = np.concatenate([c + 0.03 * rng.standard_normal((20, 2)) for c in centres])
    ours = cluster_labels(x, 0.1)
    norm = (x - x.min()) / (x.max() - x.min())
    theirs = AgglomerativeClustering(n_clusters=None, distance_threshold=0.1, linkage="single").fit_predict(norm)
    # Same partition up to label names.
    pairs = set(zip(ours, theirs))
    assert len(pairs) == len(set(ours)) == len(set(theirs))


def _brute_force_accuracy(labels, types):
    clusters, kinds = np.unique(labels), np.unique(types)
    best = 0
    k = min(len(clusters), len(kinds))
    for cs in itertools.permutations(clusters, k):
        for ts in itertools.combinations(kinds, k):
            best = max(best, sum(int(np.sum((labels == c) & (types == t))) for c, t in zip(cs, ts)))
    return best / len(types)


@pytest.mark.parametrize("seed", range(5))
def test_matched_accuracy_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    types = rng.integers(0, 3, 30)
    labels = np.where(rng.random(30) < 0.7, types + 10, rng.integers(10, 14, 30))
    assert matched_accuracy(labels, types) == pytest.approx(_brute_force_accuracy(labels, types))


def test_cluster_accuracy_perfect_and_collapsed():
    types = np.repeat([0, 1, 2, 3], 10)
    separated = np.stack([types * 1.0, np.zeros(40)], axis=1) + 0.001 * np.arange(40)[:, None] % 0.01
    acc, n = cluster_accuracy(separated, types)
    assert acc == 1.0 and n == 4
    collapsed = np.ones((40, 2))
    acc, n = cluster_accuracy(collapsed, types)
    assert acc == pytest.approx(0.25) and n == 1


# ---- rollout -------------------------------------------------------------------------------------


def _reference_snapshot(t, p):
    keep = (np.abs(t - np.median(t)) <= 3 * t.std()) & (np.abs(p - np.median(p)) <= 3 * p.std())
    a, b = np.polyfit(t[keep], p[keep], 1)
    return sk_r2(p, a * t + b)


def test_snapshot_r2_against_polyfit_and_sklearn():
    rng = np.random.default_rng(4)
    t = rng.standard_normal(200)
    p = 0.9 * t + 0.2 * rng.standard_normal(200)
    p[:3] += 20  # outliers, trimmed from the fit but kept in the score
    assert snapshot_r2(t, p) == pytest.approx(_reference_snapshot(t, p), rel=1e-10)


def test_snapshot_r2_collapsed_or_exploded_is_zero():
    t = np.random.default_rng(5).standard_normal(50)
    assert snapshot_r2(t, 0.01 * t) == 0.0
    assert snapshot_r2(t, np.full(50, np.nan)) == 0.0
    assert snapshot_r2(t, t * 1e11) == 0.0


def test_rollout_r2_averages_snapshots():
    rng = np.random.default_rng(6)
    true = rng.standard_normal((41, 30))
    pred = true + 0.1 * rng.standard_normal((41, 30))
    expected = np.mean([snapshot_r2(true[f], pred[f]) for f in (10, 20, 30, 40)])
    assert rollout_r2(true, pred, every=10) == pytest.approx(expected)
    assert rollout_r2(true, true, every=10) == pytest.approx(1.0)


def test_rollout_horizon_brute_force():
    rng = np.random.default_rng(7)
    true = rng.standard_normal((101, 40))
    noise = np.linspace(0, 3, 101)[:, None] * rng.standard_normal((101, 40))
    pred = true + noise
    scores = {f: snapshot_r2(true[f], pred[f]) for f in range(10, 101, 10)}
    expected = next((f for f, s in scores.items() if s < 0.9), 101)
    assert rollout_horizon(true, pred, 0.9, 10) == expected
    assert rollout_horizon(true, true, 0.9, 10) == 101
