"""Every metric against an independent computation (scikit-learn, scipy, numpy) on known cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import r2_score as sk_r2

from neuralgraph.metrics import (
    effective_rank, linear_fit, null_space_weight, offset_gauge_r2, pearson, r2_score, trace_pearson, trace_r2,
    trimmed_fit,
)

rng = np.random.default_rng(0)


def test_r2_score_matches_sklearn():
    true = rng.normal(size=200)
    pred = true + 0.3 * rng.normal(size=200) + 0.2
    assert r2_score(true, pred) == pytest.approx(sk_r2(true, pred), rel=1e-12)
    assert r2_score(true, true) == 1.0
    assert np.isnan(r2_score(np.ones(5), np.arange(5)))


def test_r2_score_penalises_scale_but_linear_fit_does_not():
    true = rng.normal(size=100)
    assert r2_score(true, 2 * true) < 0.5
    assert linear_fit(true, 2 * true).r2 == pytest.approx(1.0)


def test_linear_fit_matches_scipy_linregress():
    x = rng.normal(size=300)
    y = 1.7 * x - 0.4 + 0.5 * rng.normal(size=300)
    ref = stats.linregress(x, y)
    fit = linear_fit(x, y)
    assert fit.slope == pytest.approx(ref.slope, rel=1e-10)
    assert fit.intercept == pytest.approx(ref.intercept, rel=1e-10)
    assert fit.r2 == pytest.approx(ref.rvalue**2, rel=1e-10)


def test_offset_gauge_r2_matches_sklearn_with_a_group_column():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(3)
    true = rng.normal(size=300)
    group = np.arange(300) < 60
    pred = 2.0 * true + 0.7 * group + 0.1 * rng.normal(size=300)
    X = np.stack([pred, group.astype(float)], 1)
    expected = LinearRegression().fit(X, true).score(X, true)
    assert offset_gauge_r2(true, pred, group) == pytest.approx(expected, rel=1e-10)
    # The group's shift is the gauge: removed exactly; the plain line fit pays for it.
    shifted = true - 1.5 * group
    assert offset_gauge_r2(true, shifted, group) == pytest.approx(1.0)
    assert linear_fit(true, shifted).r2 < 0.8
    # An empty or all-covering group adds nothing: the line fit's R².
    for g in (np.zeros(300, bool), np.ones(300, bool)):
        assert offset_gauge_r2(true, pred, g) == pytest.approx(linear_fit(true, pred).r2, rel=1e-10)


def test_pearson_matches_numpy():
    a, b = rng.normal(size=50), rng.normal(size=50)
    assert pearson(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1], rel=1e-12)
    assert np.isnan(pearson(np.ones(4), np.arange(4)))


def test_trimmed_fit_drops_far_points_only():
    x = np.linspace(0, 1, 100)
    y = x.copy()
    y[:5] += 1.0  # five outliers
    out = trimmed_fit(x, y, threshold=0.3)
    assert out.n_outliers == 5
    assert out.r2 == pytest.approx(1.0)
    # more than half off: nothing trimmed, the fit describes the whole set
    y2 = x + np.where(np.arange(100) < 60, 1.0, 0.0)
    out2 = trimmed_fit(x, y2, threshold=0.3)
    assert out2.n_outliers == 60
    assert out2.r2 == pytest.approx(linear_fit(x, y2).r2)


def test_effective_rank_on_known_spectrum():
    # Orthogonal factors with singular values 10, 3, 1, 0.1: energies 100, 9, 1, 0.01.
    u, _ = np.linalg.qr(rng.normal(size=(50, 4)))
    v, _ = np.linalg.qr(rng.normal(size=(20, 4)))
    x = u @ np.diag([10, 3, 1, 0.1]) @ v.T
    energy = np.array([100, 9, 1, 0.01])
    cum = np.cumsum(energy) / energy.sum()
    for fraction, rank in [(0.90, 1), (0.95, 2), (0.995, 3), (0.99995, 4)]:
        assert int(np.argmax(cum >= fraction)) + 1 == rank  # the hand count agrees with the spectrum
        assert effective_rank(x, fraction) == rank


def test_trace_metrics_match_sklearn_and_scipy():
    true = rng.normal(size=(120, 6)).cumsum(axis=0) * np.array([1, 2, 3, 0.1, 5, 1])
    pred = true + rng.normal(size=true.shape)
    assert trace_r2(true, pred) == pytest.approx(sk_r2(true, pred, multioutput="variance_weighted"), rel=1e-10)
    var = true.var(axis=0)
    ref = np.sum(var * [stats.pearsonr(true[:, i], pred[:, i])[0] for i in range(6)]) / var.sum()
    assert trace_pearson(true, pred) == pytest.approx(ref, rel=1e-10)


def test_trace_metrics_skip_constant_traces():
    true = np.column_stack([np.ones(10), np.arange(10.0)])
    pred = np.column_stack([np.zeros(10), np.arange(10.0)])
    assert trace_pearson(true, pred) == pytest.approx(1.0)
    # the constant trace is missed by 1 at every frame: that error counts against the moving one
    assert trace_r2(true, pred) == pytest.approx(1.0 - 10.0 / np.sum((np.arange(10.0) - 4.5) ** 2))


def test_a_nearly_flat_trace_does_not_dominate_the_rollout_scores():
    # One trace moves (followed exactly), one barely moves and is missed: the unweighted mean of
    # per-trace R² would be far below zero although the plot shows a good rollout.
    t = np.linspace(0, 6, 200)
    true = np.column_stack([np.sin(t), 1e-3 * np.cos(7 * t)])
    pred = np.column_stack([np.sin(t), -1e-3 * np.cos(7 * t)])
    assert np.mean(sk_r2(true, pred, multioutput="raw_values")) < -1
    assert trace_r2(true, pred) > 0.99
    assert trace_pearson(true, pred) > 0.99


def test_null_space_weight_finds_free_and_tied_parameters():
    # Columns: a free one (all zeros), two tied ones (identical), two independent ones.
    a = rng.normal(size=(40, 5))
    a[:, 0] = 0.0
    a[:, 2] = a[:, 1]
    w = null_space_weight(a.T @ a)
    assert w[0] == pytest.approx(1.0)
    assert w[1] == pytest.approx(0.5) and w[2] == pytest.approx(0.5)
    assert w[3] < 1e-12 and w[4] < 1e-12
    # Independent check: the null space from scipy's SVD-based routine.
    from scipy.linalg import null_space

    ns = null_space(a)
    assert np.allclose(np.sum(ns**2, axis=1), w, atol=1e-10)
