"""The metabolism known-law oracle against an independent dense least squares, and on simulated data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralgraph.families.metabolism import oracle, readout
from neuralgraph.families.metabolism import simulate as sim
from neuralgraph.families.metabolism.config import MetabolismSimulation, RateLaw, Stoichiometry
from neuralgraph.families.metabolism.family import FAMILY
from neuralgraph.launch import compose_regime
from neuralgraph.train import typed


def hand_built(rng: np.random.Generator, n_frames: int = 60):
    """4 metabolites, 3 reactions (orders 1 and 2), 2 types; x random, y from the law in float64."""
    S = np.array([[-1, 0, 2], [-2, -1, 0], [1, 1, -1], [2, 0, -1]], dtype=np.float64)
    sub_met, sub_rxn, sub_s = np.array([0, 1, 1, 2, 3]), np.array([0, 0, 1, 2, 2]), np.array([1.0, 2, 1, 1, 1])
    k, lam, base = np.array([0.05, 0.2, 0.01]), np.array([0.3, 0.1]), np.array([4.0, 6.0])
    types = np.array([0, 0, 1, 1])
    x = rng.uniform(0.1, 3.0, size=(n_frames, 4))
    h = np.ones((n_frames, 3))
    for m, r, s in zip(sub_met, sub_rxn, sub_s):
        h[:, r] *= x[:, m] ** s
    y = (h * k) @ S.T - lam[types] * (x - base[types])
    arrays = {"S": S, "sub_met": sub_met, "sub_rxn": sub_rxn, "sub_s": sub_s, "types": types,
              "homeostatic_lambda": lam, "homeostatic_baseline": base}
    return arrays, x, y, h, np.concatenate([k, lam, lam * base])


def dense_design(arrays, x, h, row_scale):
    """The full (frames·metabolites) × (k, λ, o) design, row by row."""
    S, types = arrays["S"], arrays["types"]
    rows = []
    for f in range(x.shape[0]):
        for i in range(x.shape[1]):
            lam_col, off_col = np.zeros(2), np.zeros(2)
            lam_col[types[i]], off_col[types[i]] = -x[f, i], 1.0
            rows.append(np.concatenate([S[i] * h[f], lam_col, off_col]) / row_scale[i])
    return np.array(rows)


def test_noise_free_hand_built_case_recovers_the_truth():
    arrays, x, y, _, truth = hand_built(np.random.default_rng(0))
    result = oracle.fit(x, y, arrays, oracle.reaction_terms(arrays["S"]), np.ones(4))
    np.testing.assert_allclose(result.theta, truth, rtol=1e-9)
    assert result.weak_share.max() < 1e-6


def test_noisy_fit_equals_numpy_lstsq_on_the_dense_design():
    rng = np.random.default_rng(1)
    arrays, x, y, h, _ = hand_built(rng)
    y = y + 0.05 * rng.standard_normal(y.shape)
    row_scale = np.array([1.0, 2.0, 0.5, 3.0])
    result = oracle.fit(x, y, arrays, oracle.reaction_terms(arrays["S"]), row_scale)
    X = dense_design(arrays, x, h, row_scale)
    expected = np.linalg.lstsq(X, (y / row_scale).ravel(), rcond=None)[0]
    np.testing.assert_allclose(result.theta, expected, rtol=1e-8)
    assert np.allclose(np.linalg.svd(X / np.linalg.norm(X, axis=0), compute_uv=False), result.sigma)


def test_learned_stoichiometry_unknowns_are_the_edge_products():
    arrays, x, y, _, truth = hand_built(np.random.default_rng(2))
    met, rxn = np.nonzero(arrays["S"])
    result = oracle.fit(x, y, arrays, oracle.edge_terms(met, rxn), np.ones(4))
    np.testing.assert_allclose(result.theta[: len(met)], arrays["S"][met, rxn] * truth[rxn], rtol=1e-8)


def simulated(**kw):
    return sim.simulate(MetabolismSimulation(n_metabolites=12, n_reactions=13, n_frames=300, substeps=2, **kw))


@pytest.mark.parametrize("kw", [{}, {"rate_law": RateLaw.mlp}, {"stoichiometry": Stoichiometry.random}])
def test_simulated_noise_free_data_give_every_identifiable_k_to_1e6_dex(kw):
    arrays = simulated(**kw)
    ok = readout.identifiable(arrays)
    metrics, results = oracle.rate_constants(arrays, np.ones(12), ok)
    assert np.max(np.abs(results["oracle_log_k"] - arrays["log_k"])[ok]) < 1e-6
    for t, lam in enumerate(arrays["homeostatic_lambda"]):
        assert metrics[f"oracle_homeostasis_slope_t{t}"] == pytest.approx(-lam, rel=1e-5)
        assert metrics[f"oracle_homeostasis_offset_t{t}"] == pytest.approx(lam * arrays["homeostatic_baseline"][t],
                                                                             rel=1e-5)


def test_twin_reactions_are_weak_directions():
    arrays = simulated()
    S = arrays["S"].copy()
    S[:, 1] = S[:, 0]  # reaction 1 copies reaction 0's column; give it reaction 0's substrates too
    twin = {**arrays, "S": S}
    keep = arrays["sub_rxn"] != 1
    twin["sub_met"] = np.concatenate([arrays["sub_met"][keep], arrays["sub_met"][arrays["sub_rxn"] == 0]])
    twin["sub_rxn"] = np.concatenate([arrays["sub_rxn"][keep], np.ones((arrays["sub_rxn"] == 0).sum(), dtype=np.int64)])
    twin["sub_s"] = np.ones(len(twin["sub_met"]))
    metrics, results = oracle.rate_constants(twin, np.ones(12), np.ones(13, dtype=bool))
    assert results["oracle_weak_share"][[0, 1]].min() > 0.4
    assert metrics["oracle_n_weak_reactions"] == 2


def test_evaluate_reports_the_oracle_beside_the_learned_score():
    cfg = typed(compose_regime("tiny_metabolism", "simulation.n_frames=60"))
    arrays = sim.simulate(cfg.simulation)
    model, _ = FAMILY.build(arrays, cfg, torch.device("cpu"))
    metrics, results = FAMILY.evaluate(model, arrays, cfg, torch.device("cpu"))
    assert metrics["oracle_rate_constants_R2"] > 0.999999
    assert "data_limited_reason" not in metrics
    assert results["oracle_log_k"].shape == arrays["log_k"].shape


def test_no_oracle_when_the_flux_limiter_makes_the_law_nonlinear_in_k():
    cfg = typed(compose_regime("tiny_metabolism", "simulation.n_frames=30", "simulation.flux_limit=true"))
    arrays = sim.simulate(cfg.simulation)
    model, _ = FAMILY.build(arrays, cfg, torch.device("cpu"))
    metrics, results = FAMILY.evaluate(model, arrays, cfg, torch.device("cpu"))
    assert "rate_constants_R2" in metrics and not any(k.startswith("oracle_") for k in [*metrics, *results])
