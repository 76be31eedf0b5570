"""The metabolism simulator: S constructors, exact derivatives, reproducibility, rank, identifiability."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from neuralgraph.families.metabolism.config import MetabolismSimulation
from neuralgraph.errors import ConfigError
from neuralgraph.metrics import effective_rank
from neuralgraph.families.metabolism.family import simulate as sim


def small(**kw):
    cfg = OmegaConf.structured(MetabolismSimulation)
    base = dict(n_metabolites=12, n_reactions=12, n_frames=200, substeps=2)
    base.update(kw)
    for key, value in base.items():
        cfg[key] = value
    return cfg


def test_random_reactions_conserve_mass_and_respect_sizes():
    rng = np.random.default_rng(1)
    net = sim.random_network(30, 200, 4, rng)
    assert np.allclose(net.S.sum(axis=0), 0.0)  # every column sums to zero
    n_nonzero = (net.S != 0).sum(axis=0)
    assert n_nonzero.min() >= 2 and n_nonzero.max() <= 4
    assert set(np.unique(net.sub_s)) <= {1.0, 2.0}
    # substrate edges are exactly the negative entries, with |S| as the order
    assert np.allclose(-net.S[net.sub_met, net.sub_rxn], net.sub_s)
    assert len(net.sub_met) == int((net.S < 0).sum())


def test_cycles_are_food_plus_catalyst_and_leave_the_remainder_empty():
    rng = np.random.default_rng(2)
    net = sim.cycle_network(10, 8, 3, rng)  # 2 cycles = 6 reactions, 2 left empty
    assert set(np.unique(net.S)) <= {-1.0, 0.0, 1.0}
    assert np.allclose(net.S.sum(axis=0), 0.0)
    per_rxn = np.bincount(net.sub_rxn, minlength=8)
    assert list(per_rxn) == [2] * 6 + [0, 0]
    for j in range(6):  # the catalyst (+1) is also a substrate; the food (−1) is the other one
        subs = set(net.sub_met[net.sub_rxn == j])
        assert subs == set(np.nonzero(net.S[:, j])[0])


def test_stored_target_is_the_exact_derivative():
    cfg = small(n_frames=50)
    out = sim.simulate(cfg)
    net = sim.Network(out["S"].astype(float), out["sub_met"], out["sub_rxn"], out["sub_s"].astype(float))
    lam = out["homeostatic_lambda"][out["types"]]
    base = out["homeostatic_baseline"][out["types"]]
    x = out["x"][0].astype(np.float64)
    y = sim.derivative(x, net, 10.0 ** out["log_k"], lam, base, None, None)
    assert np.allclose(y, out["y"][0], rtol=1e-5, atol=1e-6)


def test_derivative_matches_finite_difference_of_a_fine_trajectory():
    # With many small substeps the trajectory follows the ODE: (x[t+1] - x[t]) / dt ≈ y(t + dt/2).
    cfg = small(n_frames=40, delta_t=0.01, substeps=20)
    out = sim.simulate(cfg)
    x, y = out["x"][0].astype(np.float64), out["y"][0].astype(np.float64)
    fd = np.diff(x, axis=0) / 0.01
    mid = 0.5 * (y[1:] + y[:-1])
    assert np.max(np.abs(fd - mid)) < 1e-2 * np.max(np.abs(y))


def test_mass_action_rate_by_hand():
    # Reaction 0: A + B -> 2B, v = k c_A c_B; dc_A/dt = −v, dc_B/dt = +v.
    S = np.array([[-1.0], [1.0]])
    net = sim.Network(S, np.array([0, 1]), np.array([0, 0]), np.array([1.0, 1.0]))
    c = np.array([[2.0, 3.0]])
    d = sim.derivative(c, net, np.array([0.5]), np.zeros(2), np.zeros(2), None, None)
    assert np.allclose(d, [[-3.0, 3.0]])


def test_flux_limit_prevents_overdraft():
    S = np.array([[-2.0], [1.0]])
    net = sim.Network(S, np.array([0]), np.array([0]), np.array([2.0]))
    c = np.array([[1.0, 0.0]])
    dt = 1.0
    d = sim.derivative(c, net, np.array([10.0]), np.zeros(2), np.zeros(2), None, dt)
    # Unlimited, A would go to 1 - 2·10 < 0; limited, consumption in one step equals what is there.
    assert c[0, 0] + dt * d[0, 0] == pytest.approx(0.0)


def test_reproducible_by_seed():
    a, b = sim.simulate(small(seed=3)), sim.simulate(small(seed=3))
    c = sim.simulate(small(seed=4))
    for key in ("x", "y", "S", "log_k"):
        assert np.array_equal(a[key], b[key])
    assert not np.array_equal(a["x"], c["x"])


def test_activity_rank_is_reported_from_the_training_run():
    out = sim.simulate(small())
    assert out["activity_rank_99"] == effective_rank(out["x"][0], 0.99)
    assert 1 <= out["activity_rank_90"] <= out["activity_rank_99"] <= 12


def test_empty_and_twin_reactions_are_flagged_unidentifiable():
    out = sim.simulate(small(n_reactions=13))  # 4 cycles of 3 + one empty reaction
    w = out["null_weight"][:13]
    assert w[12] == pytest.approx(1.0)
    # Independent check of the Gram matrix against the explicit design matrix.
    net = sim.Network(out["S"].astype(float), out["sub_met"], out["sub_rxn"], out["sub_s"].astype(float))
    x = out["x_clean"][0].astype(np.float64)[:30]
    gram = sim.design_gram(x, net, out["types"], 2)
    rows = []
    for f in range(x.shape[0]):
        m = np.array([np.prod(x[f, net.sub_met[net.sub_rxn == j]]) if (net.sub_rxn == j).any() else 1.0
                      for j in range(13)])
        for i in range(12):
            t = out["types"][i]
            lam_cols = [-x[f, i] if t == tt else 0.0 for tt in range(2)]
            off_cols = [1.0 if t == tt else 0.0 for tt in range(2)]
            rows.append(list(net.S[i] * m) + lam_cols + off_cols)
    a = np.array(rows)
    assert np.allclose(gram, a.T @ a, rtol=1e-8, atol=1e-8)


def test_twin_reactions_share_a_null_direction():
    # Two reactions with the same substrate pair and opposite roles: only k1 − k2 is determined.
    S = np.array([[-1.0, 1.0], [1.0, -1.0], [0.0, 0.0]])
    net = sim.Network(S, np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1]), np.ones(4))
    x = np.random.default_rng(0).uniform(1, 2, size=(50, 3))
    from neuralgraph.metrics import null_space_weight

    w = null_space_weight(sim.design_gram(x, net, np.zeros(3, dtype=int), 1))
    assert w[0] == pytest.approx(0.5) and w[1] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "key,value,needle",
    [
        ("n_metabolites", -5, "simulation.n_metabolites"),
        ("n_frames", 0, "simulation.n_frames"),
        ("log_k_min", 0.5, "log_k_min"),
        ("homeostatic_lambda", [0.1], "homeostatic_lambda"),
        ("delta_t", -1.0, "simulation.delta_t"),
    ],
)
def test_bad_values_name_the_key(key, value, needle):
    cfg = small()
    cfg[key] = value
    with pytest.raises(ConfigError, match=needle):
        sim.simulate(cfg)


def test_mlp_rate_law_and_measurement_noise():
    out = sim.simulate(small(rate_law="mlp", stoichiometry="random", measurement_noise_level=0.01, n_frames=60))
    assert "null_weight" not in out and "rate_mlp_w1" in out
    x = out["x"][0].astype(np.float64)
    # targets are the forward finite differences of the noisy observations
    assert np.allclose(out["y"][0][:-1], np.diff(x, axis=0) / 0.1, rtol=1e-3, atol=1e-3)
    assert not np.array_equal(out["x"], out["x_clean"])
