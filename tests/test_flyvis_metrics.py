"""Fly visual system read-out metrics, each against an independent computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from types import SimpleNamespace

from neuralgraph.families.flyvis.config import ClusterMethod, FlyVisEvaluation
from neuralgraph.families.flyvis.celltypes import cluster_labels, wiring_fingerprint
from neuralgraph.families.flyvis.evaluate import cell_types
from neuralgraph.families.flyvis.readout import (
    corrected_weights, identifiable_edges, linearise, normal_equations, row_linear_fit, solve_normal_equations,
    tau_vrest_from_line,
)
from neuralgraph.families.flyvis.rollout import rollout
from neuralgraph.metrics.cluster import matched_accuracy


def test_row_linear_fit_matches_polyfit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 30))
    y = 2.5 * x - 1.0 + 0.1 * rng.normal(size=(5, 30))
    slope, intercept = row_linear_fit(x, y)
    for i in range(5):
        s, b = np.polyfit(x[i], y[i], 1)
        assert slope[i] == pytest.approx(s)
        assert intercept[i] == pytest.approx(b)
    slope, _ = row_linear_fit(np.ones((1, 4)), np.arange(4.0)[None])
    assert np.isnan(slope[0])


def test_normal_equations_match_lstsq_in_chunks():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 3, 4))
    y = rng.normal(size=(60, 3))
    a1, b1 = normal_equations(X[:25], y[:25])
    a2, b2 = normal_equations(X[25:], y[25:])
    coef = solve_normal_equations(a1 + a2, b1 + b2, ridge=0.0)
    for n in range(3):
        ref = np.linalg.lstsq(X[:, n], y[:, n], rcond=None)[0]
        np.testing.assert_allclose(coef[n], ref, rtol=1e-8, atol=1e-10)
    # weights: a weighted fit equals the fit on the kept rows
    w = (rng.random((60, 3)) > 0.5).astype(float)
    a, b = normal_equations(X, y, w)
    coef = solve_normal_equations(a, b, ridge=0.0)
    keep = w[:, 0] > 0
    np.testing.assert_allclose(coef[0], np.linalg.lstsq(X[keep, 0], y[keep, 0], rcond=None)[0], rtol=1e-8)


def test_tau_vrest_from_line():
    tau = np.array([0.05, 0.1, 0.2])
    v_rest = np.array([0.3, -0.2, 1.0])
    slope, intercept = -1 / tau, v_rest / tau
    t, v = tau_vrest_from_line(slope, intercept)
    np.testing.assert_allclose(t, tau)
    np.testing.assert_allclose(v, v_rest)
    t, _ = tau_vrest_from_line(np.array([0.5, -0.5]), np.array([0.0, 0.0]))
    assert t[0] == 1.0 and t[1] == 1.0  # non-negative slope, and τ = 2 clipped to 1


def test_corrected_weights_by_hand():
    W = np.array([2.0, -1.0, 0.5])
    src = np.array([0, 1, 2])
    tgt = np.array([1, 2, 0])
    alpha = np.array([-10.0, -5.0, -2.0])  # f slope in v per neuron
    gamma = np.array([3.0, 2.0, 1.0])  # f slope in the message per neuron
    s = np.array([0.5, 2.0, 1.0])  # g slope per sender
    expected = [-2.0 * 2.0 * 0.5 / -5.0, -(-1.0) * 1.0 * 2.0 / -2.0, -0.5 * 3.0 * 1.0 / -10.0]
    np.testing.assert_allclose(corrected_weights(W, src, tgt, alpha, gamma, s), expected)


def test_identifiable_edges_by_hand():
    x = np.array([[1.0, -1.0, 0.5], [1.0, -1.0, -0.5], [2.0, -2.0, 0.5]])  # n0 always on, n1 never, n2 mixed
    src = np.array([0, 1, 2, 0, 2])
    tgt = np.array([1, 0, 0, 0, 2])  # last two are self-loops
    np.testing.assert_array_equal(identifiable_edges(x, src, tgt), [True, False, True, False, True])


def test_cluster_labels_separate_blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10, size=(5, 3))
    types = np.repeat(np.arange(5), 40)
    feats = centres[types] + 0.1 * rng.normal(size=(200, 3))
    for method in (ClusterMethod.kmeans, ClusterMethod.gmm, "gmm"):
        labels = cluster_labels(feats, method, 5, 0)
        assert matched_accuracy(labels, types) == 1.0


def test_wiring_fingerprint_equals_a_per_edge_loop():
    rng = np.random.default_rng(1)
    n, k = 9, 3
    labels = rng.integers(0, k, n)
    labels[:k] = np.arange(k)
    src, tgt = rng.integers(0, n, 40), rng.integers(0, n, 40)
    W = rng.normal(size=40)
    ref = np.zeros((n, 2 * k))
    for e in range(40):
        ref[tgt[e], labels[src[e]]] += W[e]
        ref[src[e], k + labels[tgt[e]]] += W[e]
    np.testing.assert_allclose(wiring_fingerprint(labels, W, src, tgt), np.arcsinh(ref / np.abs(W).mean()))


def test_the_wiring_diagnostic_tells_apart_two_types_with_the_same_dynamics():
    """Types 0 and 1 share their dynamics features; only their partners differ (0 receives from 2,
    1 from 3). The headline, which reads the dynamics only, cannot separate them; the former second
    stage, now the diagnostic ``cluster_accuracy_with_wiring``, does."""
    rng = np.random.default_rng(2)
    per = 60
    types = np.repeat(np.arange(4), per)
    centre = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])  # through τ and V_rest below
    emb = centre[types] + 0.05 * rng.normal(size=(len(types), 2))
    src, tgt = [], []
    for i in range(2 * per):
        partners = rng.choice(np.arange(2 * per, 3 * per) if types[i] == 0 else np.arange(3 * per, 4 * per), 5)
        src += partners.tolist()
        tgt += [i] * 5
    src, tgt = np.asarray(src), np.asarray(tgt)
    W = 1.0 + 0.1 * rng.normal(size=len(src))
    model = SimpleNamespace(a=torch.as_tensor(emb), edge_src=torch.as_tensor(src), edge_tgt=torch.as_tensor(tgt))
    fit = {"tau": np.exp(emb[:, 0] / 5 - 2), "V_rest": emb[:, 1] / 5}  # τ and V_rest: types 0 and 1 alike
    metrics, results = cell_types(model, {"node_type": types, "type_names": np.array(list("abcd"))}, fit, W,
                                  FlyVisEvaluation(n_clusters=4), 0)
    assert metrics["cluster_accuracy"] < 0.9  # 0 and 1 merged, or split along noise
    assert matched_accuracy(results["cluster_labels"], types) == metrics["cluster_accuracy"]
    assert metrics["cluster_accuracy_with_wiring"] == 1.0
    assert metrics["cluster_accuracy_with_unit_wiring"] == 1.0  # the given graph alone does it too


class TruthModel(nn.Module):
    """Duck-typed stand-in for FlyVisGNN whose f and g are the ground truth in closed form."""

    def __init__(self, n, src, tgt, W, tau, v_rest, inputs, input_col, scale_g=1.0):
        super().__init__()
        self.edge_src = torch.as_tensor(src)
        self.edge_tgt = torch.as_tensor(tgt)
        self.W = nn.Parameter(torch.as_tensor(W, dtype=torch.float32) / scale_g)
        self.a = nn.Parameter(torch.zeros(n, 2))
        self.tau = torch.as_tensor(tau, dtype=torch.float32)
        self.v_rest = torch.as_tensor(v_rest, dtype=torch.float32)
        self.inputs = torch.as_tensor(inputs)
        self.input_col = torch.as_tensor(input_col)
        self.scale_g = scale_g
        self.learn_field = False

    def g(self, v, a):
        return self.scale_g * torch.relu(v)

    def messages(self, v):
        return torch.zeros_like(v).index_add_(1, self.edge_tgt, self.g(v, self.a)[:, self.edge_src] * self.W)

    def external_input(self, lum, v):
        e = torch.zeros_like(v)
        e[:, self.inputs] = lum[:, self.input_col]
        return e

    def f(self, v, a, m, e):
        return (-v + self.v_rest + m + e) / self.tau

    def derivative(self, v, lum):
        return self.f(v, self.a, self.messages(v), self.external_input(lum, v))


def test_readout_recovers_the_truth_from_a_perfect_model():
    """W, τ and V_rest come back exactly when f and g are the truth (g scaled by 3, W by 1/3)."""
    rng = np.random.default_rng(0)
    n, T = 30, 400
    src = rng.integers(0, n, 120)
    tgt = rng.integers(0, n, 120)
    keep = src != tgt
    src, tgt = src[keep], tgt[keep]
    W = rng.normal(0, 0.1, len(src))
    tau = rng.uniform(0.05, 0.2, n)
    v_rest = rng.normal(0.3, 0.2, n)
    x = rng.normal(0.2, 0.5, (T, n)).astype(np.float32)
    inputs = np.arange(4)
    arrays = {
        "x": x, "stimulus": rng.random((T, 2)).astype(np.float32), "W": W.astype(np.float32),
        "edge_src": src, "edge_tgt": tgt,
    }
    model = TruthModel(n, src, tgt, W, tau, v_rest, inputs, np.array([0, 0, 1, 1]), scale_g=3.0)
    fit = linearise(model, arrays, torch.device("cpu"))
    np.testing.assert_allclose(fit["tau"], tau, rtol=1e-3)
    np.testing.assert_allclose(fit["V_rest"], v_rest, atol=1e-3)
    np.testing.assert_allclose(fit["g_slope"], 3.0, rtol=1e-4)
    W_corr = corrected_weights(model.W.detach().numpy(), src, tgt, fit["alpha"], fit["gamma"], fit["g_slope"])
    np.testing.assert_allclose(W_corr, W, rtol=1e-3, atol=1e-5)


def test_rollout_is_the_euler_recursion_of_the_true_model():
    """Row k of the rollout is v_k; v_{k+1} = v_k + Δt f(v_k, e_k), clipped to ±100, NaN → 0."""
    rng = np.random.default_rng(2)
    n = 6
    src, tgt = np.array([0, 1, 2, 3, 4]), np.array([1, 2, 3, 4, 5])
    model = TruthModel(n, src, tgt, rng.normal(0, 0.5, 5), np.full(n, 0.1), rng.normal(0, 0.2, n),
                       np.array([0, 1]), np.array([0, 1]))
    stim = torch.rand(30, 2)
    v0 = torch.randn(n)
    out = rollout(model, v0, stim, 0.02)
    v = v0[None]
    for k in range(30):
        torch.testing.assert_close(out[k], v[0], rtol=0, atol=0)
        v = (v + 0.02 * model.derivative(v, stim[k : k + 1])).detach().clamp(-100, 100)
    blown = TruthModel(n, src, tgt, np.full(5, 1e9), np.full(n, 1e-3), np.zeros(n), np.array([0]), np.array([0]))
    out = rollout(blown, torch.ones(n), torch.ones(20, 1), 1.0)
    assert torch.isfinite(out).all() and out.abs().max() <= 100
