"""The metabolism simulator: S constructors, exact derivatives, reproducibility, rank, identifiability."""

from __future__ import annotations

import numpy as np
import pytest

from neuralgraph.errors import ConfigError
from neuralgraph.families.metabolism import simulate as sim
from neuralgraph.families.metabolism.config import MetabolismSimulation, RateLaw, Stoichiometry
from neuralgraph.metrics import effective_rank


def small(**kw):
    return MetabolismSimulation(**{"n_metabolites": 12, "n_reactions": 12, "n_frames": 200, "substeps": 2, **kw})


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
    "values,needle",
    [
        ({"n_metabolites": -5}, "simulation.n_metabolites=-5"),
        ({"n_frames": 0}, "simulation.n_frames=0"),
        ({"log_k_min": 0.5}, "simulation.log_k_min=0.5"),
        ({"homeostatic_lambda": [0.1]}, "simulation.homeostatic_lambda"),
        ({"homeostatic_lambda": [0.1, -0.1]}, "simulation.homeostatic_lambda"),
        ({"delta_t": -1.0}, "simulation.delta_t=-1.0"),
        ({"n_test_runs": -1}, "simulation.n_test_runs=-1"),
        ({"noise_model_level": -0.1}, "simulation.noise_model_level"),
        ({"rate_mlp_gain": 0.0}, "simulation.rate_mlp_gain"),
        ({"concentration_min": 5.0, "concentration_max": 2.0}, "simulation.concentration_min"),
        ({"n_metabolite_types": 13, "homeostatic_lambda": [0.1] * 13, "homeostatic_baseline": [1.0] * 13},
         "simulation.n_metabolite_types=13"),
        ({"cycle_length": 13}, "simulation.cycle_length=13"),
        ({"stoichiometry": Stoichiometry.random, "max_metabolites_per_reaction": 1},
         "simulation.max_metabolites_per_reaction=1"),
        ({"stoichiometry": Stoichiometry.random, "max_metabolites_per_reaction": 20}, "simulation.n_metabolites=12"),
        ({"stoichiometry": Stoichiometry.file}, "simulation.stoichiometry_file"),
    ],
)
def test_bad_values_name_the_key(values, needle):
    with pytest.raises(ConfigError, match=needle):
        small(**values)


def test_mlp_rate_law_and_measurement_noise():
    out = sim.simulate(small(rate_law=RateLaw.mlp, stoichiometry=Stoichiometry.random, measurement_noise_level=0.01,
                             n_frames=60))
    assert "null_weight" not in out and "rate_mlp_w1" in out
    x = out["x"][0].astype(np.float64)
    # targets are the forward finite differences of the noisy observations
    assert np.allclose(out["y"][0][:-1], np.diff(x, axis=0) / 0.1, rtol=1e-3, atol=1e-3)
    assert not np.array_equal(out["x"], out["x_clean"])


def test_noisy_simulation_equals_a_hand_written_euler_loop():
    # The random stream: S, k, c(0), process noise after each frame (the frame after the last
    # stored one included), then measurement noise; exact equality, not closeness.
    cfg = small(n_frames=30, noise_model_level=0.05, measurement_noise_level=0.01)
    out = sim.simulate(cfg)
    rng = np.random.default_rng(cfg.seed)
    net = sim.network(cfg, rng)
    k = 10.0 ** rng.uniform(cfg.log_k_min, cfg.log_k_max, size=12)
    types = out["types"]
    lam, base = np.asarray(cfg.homeostatic_lambda)[types], np.asarray(cfg.homeostatic_baseline)[types]
    c = rng.uniform(cfg.concentration_min, cfg.concentration_max, size=(2, 12))
    x, y = np.empty((2, 31, 12)), np.empty((2, 31, 12))
    h = cfg.delta_t / 2
    for t in range(31):
        x[:, t] = c
        for s in range(2):
            d = sim.derivative(c, net, k, lam, base, None, None)
            if s == 0:
                y[:, t] = d
            c = np.maximum(c + h * d, 0.0)
        c = np.maximum(c + 0.05 * rng.standard_normal(c.shape), 0.0)
    assert np.array_equal(out["x_clean"], x.astype(np.float32))
    noisy = np.maximum(x + 0.01 * rng.standard_normal(x.shape), 0.0)
    assert np.array_equal(out["x"], noisy.astype(np.float32))
    # with measurement noise the targets are the forward differences of what was observed
    assert np.array_equal(out["y"][:, :-1], (np.diff(noisy, axis=1) / cfg.delta_t).astype(np.float32))
    assert np.array_equal(out["y"][:, -1], out["y"][:, -2])
    clean = sim.simulate(small(n_frames=30, noise_model_level=0.05))  # same stream without measurement noise
    assert np.array_equal(clean["y"], y.astype(np.float32))


def test_trials_start_from_fresh_states_and_are_pooled_for_training():
    out = sim.simulate(small(n_frames=30, n_trials=3, n_test_runs=2))
    assert out["x"].shape == (5, 31, 12) and int(out["n_trials"]) == 3
    assert len({tuple(out["x"][r, 0]) for r in range(5)}) == 5  # five different initial states
    pooled = sim.training_frames(out)
    assert pooled.shape == (93, 12) and np.array_equal(pooled[31:62], out["x"][1])
    assert np.array_equal(sim.training_frames(out, "y")[62:], out["y"][2])
    assert out["activity_rank_99"] == effective_rank(pooled, 0.99)


def test_one_trial_is_the_single_training_run():
    out = sim.simulate(small(n_frames=30))
    assert np.array_equal(sim.training_frames(out), out["x"][0])
    legacy = {k: v for k, v in out.items() if k != "n_trials"}  # a dataset written before trials existed
    assert sim.n_trials(legacy) == 1
