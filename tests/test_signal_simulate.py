"""Signal simulator: connectivity constructors, file loading, equations, targets, inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from omegaconf import OmegaConf

from neuralgraph.errors import ConfigError, DataError
from neuralgraph.families.signal import simulate as S
from neuralgraph.families.signal.config import SignalSimulation


def sim_cfg(**kw):
    """A typed simulation block (strings become enum members, as in a run)."""
    return OmegaConf.to_object(OmegaConf.structured(SignalSimulation(**kw)))


def make_W(**kw):
    cfg = sim_cfg(**kw)
    return S.make_connectivity(cfg, np.random.default_rng(0))


# ---- connectivity --------------------------------------------------------------------------


def test_chaotic_variance_and_zero_diagonal():
    W = make_W(n_neurons=400, connectivity_type="chaotic")
    assert np.all(np.diag(W) == 0)
    off = W[~np.eye(400, dtype=bool)]
    assert abs(off.var() * 400 - 1.0) < 0.05
    assert abs(off.mean()) < 0.01


@pytest.mark.parametrize("rank", [1, 5, 20])
def test_low_rank_has_the_rank(rank):
    n = 60
    cfg = sim_cfg(n_neurons=n, connectivity_type="low_rank", connectivity_rank=rank)
    rng = np.random.default_rng(3)
    W = S.make_connectivity(cfg, rng)
    # Zeroing the diagonal perturbs the rank-r product; rebuild the product from the same draws.
    rng = np.random.default_rng(3)
    U, V = rng.standard_normal((n, rank)), rng.standard_normal((rank, n))
    P = U @ V / np.sqrt(rank * n)
    off = ~np.eye(n, dtype=bool)
    np.testing.assert_allclose(W[off], P[off])
    assert np.linalg.matrix_rank(P) == rank
    assert np.all(np.diag(W) == 0)


@pytest.mark.parametrize("kind", ["Cauchy", "Lorentz"])
def test_cauchy_truncated_and_scaled(kind):
    n = 300
    W = make_W(n_neurons=n, connectivity_type=kind)
    assert np.all(np.diag(W) == 0)
    assert np.abs(W).max() <= 25 * n ** -0.7 + 1e-12
    # Heavy tails: many entries beyond 3 "sigma" of a normal with the same IQR.
    iqr = np.subtract(*np.percentile(W, [75, 25]))
    assert np.mean(np.abs(W) > 3 * iqr / 1.349) > 0.05


def test_cauchy_exponents():
    assert [S.cauchy_exponent(n) for n in (1000, 3000, 5000, 8000, 10000)] == [0.7, 0.675, 0.67, 0.66, 0.5]


def test_sparsity_fraction():
    W = make_W(n_neurons=200, connectivity_filling_factor=0.2)
    off = ~np.eye(200, dtype=bool)
    assert abs(np.mean(W[off] != 0) - 0.2) < 0.02


@pytest.mark.parametrize("factor", [0.5, 0.8])
def test_dale_law_column_signs(factor):
    n = 50
    W = make_W(n_neurons=n, Dale_law=True, Dale_law_factor=factor)
    n_exc = int(n * factor)
    assert np.all(W[:, :n_exc] >= 0)
    assert np.all(W[:, n_exc:] <= 0)
    assert np.all(np.diag(W) == 0)
    # Magnitudes are those of the chaotic draw.
    W0 = make_W(n_neurons=n)
    np.testing.assert_allclose(np.abs(W), np.abs(W0))


def test_spectral_radius_matches_scipy():
    W = make_W(n_neurons=80)
    assert S.spectral_radius(W) == pytest.approx(np.max(np.abs(scipy.linalg.eigvals(W))), rel=1e-10)


# ---- connectivity from a file -------------------------------------------------------------------


def test_file_npy_and_pt(tmp_path):
    rng = np.random.default_rng(1)
    W = rng.standard_normal((12, 12))
    np.fill_diagonal(W, 0)
    np.save(tmp_path / "w.npy", W)
    torch.save(torch.tensor(W), tmp_path / "w.pt")
    torch.save({"W": torch.tensor(W)}, tmp_path / "wd.pt")
    for name in ("w.npy", "w.pt", "wd.pt"):
        got = make_W(n_neurons=12, connectivity_type="file", connectivity_file=str(tmp_path / name))
        np.testing.assert_allclose(got, W, rtol=1e-6)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((12, 10)), "square"),
        (np.zeros((10, 10)), "n_neurons=12"),
        (np.zeros(144), "2-D"),
        (np.where(np.eye(12) > 0, np.nan, 0.0), "NaN"),
    ],
)
def test_file_errors(tmp_path, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(DataError, match=message):
        make_W(n_neurons=12, connectivity_type="file", connectivity_file=str(path))


def test_file_missing_and_suffix(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        make_W(n_neurons=4, connectivity_type="file", connectivity_file=str(tmp_path / "nope.npy"))
    (tmp_path / "w.csv").write_text("1,2\n3,4\n")
    with pytest.raises(DataError, match=".pt or .npy"):
        make_W(n_neurons=2, connectivity_type="file", connectivity_file=str(tmp_path / "w.csv"))


def test_file_without_path_is_a_config_error():
    with pytest.raises(ConfigError, match="connectivity_file"):
        sim_cfg(connectivity_type="file")


# ---- equations ----------------------------------------------------------------------------------


def _loop_derivative(model, W, p, types, u, e=None, mode="additive", act=None):
    """Element-by-element reference of the three equations (independent of the vectorised code)."""
    n = len(u)
    out = np.zeros(n)
    for i in range(n):
        msg = 0.0
        for j in range(n):
            if model == "PDE_N2":
                psi = np.tanh(u[j])
            elif model == "PDE_N4":
                psi = np.tanh((u[j] - p["h"][j]) / p["w"][j])
            else:
                name, amp, slope = act[types[i]]
                x = u[j] / slope
                f = {"tanh": np.tanh(x), "relu": max(x, 0.0), "sigmoid": 1 / (1 + np.exp(-x)), "identity": x}[name]
                psi = amp * f
            msg += W[i, j] * psi
        drive = p["g"][i] * msg
        if e is not None:
            drive = drive * e[i] if mode == "multiplicative" else drive + e[i]
        if model == "PDE_N2":
            own = -p["c"][i] * u[i] + p["s"][i] * np.tanh(u[i])
        elif model == "PDE_N4":
            own = -p["a"][i] * u[i] + p["b"][i] + p["s"][i] * np.tanh(u[i])
        else:
            own = -p["c"][i] * u[i]
        out[i] = own + drive
    return out


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_equations_match_loops(mode):
    rng = np.random.default_rng(5)
    n = 8
    types = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    W = rng.standard_normal((n, n)) / 3
    np.fill_diagonal(W, 0)
    u = rng.standard_normal(n) * 2
    e = rng.uniform(0.5, 1.5, n)
    cases = {
        "PDE_N2": dict(params=[[10.0, 1.0, 1.0], [5.0, 2.0, 0.5]]),
        "PDE_N4": dict(params=[[1.0, 0.1, 10.0, 1.0, 1.0, 0.0], [2.0, -0.2, 5.0, 2.0, 4.0, 0.5]]),
        "PDE_N11": dict(params=[[7.0, 1.0], [3.0, 2.0]], activation=["tanh", "relu"],
                        activation_amplitude=[1.0, 0.5], activation_slope=[1.0, 2.0]),
    }
    for model, kw in cases.items():
        cfg = sim_cfg(signal_model_name=model, n_neurons=n, n_neuron_types=2, external_input_type="oscillatory",
                      external_input_mode=mode, **kw)
        dyn = S.build_dynamics(cfg, W, types)
        act = list(zip(kw.get("activation", []), kw.get("activation_amplitude", []), kw.get("activation_slope", [])))
        expected = _loop_derivative(model, W, dyn.p, types, u, e, mode, act)
        np.testing.assert_allclose(dyn(u, e), expected, rtol=1e-10, atol=1e-12)


def test_param_row_length_is_checked():
    with pytest.raises(ConfigError, match="PDE_N2"):
        sim_cfg(signal_model_name="PDE_N2", params=[[1.0, 2.0]])
    with pytest.raises(ConfigError, match="params has 3 rows"):
        sim_cfg(n_neuron_types=2, params=[[7.0, 1.0]] * 3)


@pytest.mark.parametrize(
    "kw, key",
    [
        ({"n_neurons": 1}, "simulation.n_neurons"),
        ({"n_neuron_types": 200}, "simulation.n_neuron_types"),
        ({"n_frames": 1}, "simulation.n_frames"),
        ({"delta_t": 0.0}, "simulation.delta_t"),
        ({"start_frame": 5}, "simulation.start_frame"),
        ({"connectivity_type": "low_rank", "connectivity_rank": 0}, "simulation.connectivity_rank"),
        ({"connectivity_filling_factor": 0.0}, "simulation.connectivity_filling_factor"),
        ({"Dale_law_factor": 1.5}, "simulation.Dale_law_factor"),
        ({"noise_model_level": -1.0}, "simulation.noise_model_level"),
        ({"activation_slope": [0.0]}, "simulation.activation_slope"),
        ({"n_neuron_types": 2, "activation": ["tanh"] * 3}, "simulation.activation"),
        ({"signal_model_name": "PDE_N4", "params": [[1.0, 0.0, 4.0, 1.0, 0.0, 0.0]]}, "width w"),
    ],
)
def test_simulation_block_checks_name_the_key(kw, key):
    with pytest.raises(ConfigError, match=key):
        sim_cfg(**kw)


# ---- integration and targets -----------------------------------------------------------------


def test_targets_are_exact_and_euler_consistent():
    cfg = sim_cfg(n_neurons=16, n_frames=50, start_frame=-20)
    a = S.simulate(cfg)
    assert a["u"].shape == (51, 16) and a["du"].shape == (51, 16) and a["u"].dtype == np.float32
    dyn = S.build_dynamics(cfg, a["W"].astype(np.float64), a["types"])
    np.testing.assert_allclose(a["du"], dyn(a["u"].astype(np.float64)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(a["u"][1:], a["u"][:-1] + 0.1 * a["du"][:-1], rtol=1e-4, atol=1e-4)


def test_process_noise_keeps_exact_targets():
    cfg = sim_cfg(n_neurons=16, n_frames=50, noise_model_level=0.3)
    a = S.simulate(cfg)
    dyn = S.build_dynamics(cfg, a["W"].astype(np.float64), a["types"])
    np.testing.assert_allclose(a["du"], dyn(a["u"].astype(np.float64)), rtol=1e-4, atol=1e-4)
    resid = a["u"][1:] - a["u"][:-1] - 0.1 * a["du"][:-1]
    assert abs(resid.std() - 0.3) < 0.05  # the noise is what separates Euler from the data


def test_measurement_noise_gives_finite_differences():
    cfg = sim_cfg(n_neurons=10, n_frames=40, measurement_noise_level=0.1)
    a = S.simulate(cfg)
    assert a["u"].shape == (40, 10)
    clean = S.simulate(sim_cfg(n_neurons=10, n_frames=40))
    assert 0.05 < np.std(a["u"] - clean["u"][:-1]) < 0.15


def test_trials_start_afresh_and_are_never_paired():
    one = S.simulate(sim_cfg(n_neurons=12, n_frames=89, start_frame=-30))
    cfg = sim_cfg(n_neurons=12, n_frames=89, start_frame=-30, n_trials=3)
    a = S.simulate(cfg)
    np.testing.assert_array_equal(a["trial_bounds"], [0, 30, 60, 90])
    np.testing.assert_array_equal(one["trial_bounds"], [0, 90])
    # the first trial is the single-trial run (same draws) up to its end
    np.testing.assert_array_equal(a["u"][:30], one["u"][:30])
    dyn = S.build_dynamics(cfg, a["W"].astype(np.float64), a["types"])
    np.testing.assert_allclose(a["du"], dyn(a["u"].astype(np.float64)), rtol=1e-4, atol=1e-4)
    euler_gap = np.abs(a["u"][1:] - a["u"][:-1] - 0.1 * a["du"][:-1]).max(axis=1)
    assert np.all(euler_gap[[29, 59]] > 1e-2) and np.all(np.delete(euler_gap, [29, 59]) < 1e-3)


def test_trials_with_measurement_noise_drop_each_trials_last_frame():
    cfg = sim_cfg(n_neurons=8, n_frames=59, start_frame=-10, n_trials=2, measurement_noise_level=0.01)
    a = S.simulate(cfg)
    np.testing.assert_array_equal(a["trial_bounds"], [0, 29, 58])
    assert a["u"].shape == (58, 8) and a["du"].shape == (58, 8)
    # within a trial, the target is the forward difference of the observations
    np.testing.assert_allclose(a["du"][:28], np.diff(a["u"][:29], axis=0) / 0.1, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(a["du"][29:57], np.diff(a["u"][29:], axis=0) / 0.1, rtol=1e-3, atol=1e-3)


def test_trials_must_fit_the_frames():
    with pytest.raises(ConfigError, match="n_trials"):
        sim_cfg(n_frames=10, n_trials=4)


def test_burn_in_changes_the_start():
    a = S.simulate(sim_cfg(n_neurons=10, n_frames=5, start_frame=0))
    b = S.simulate(sim_cfg(n_neurons=10, n_frames=5, start_frame=-50))
    assert not np.allclose(a["u"][0], b["u"][0])


def test_oscillatory_input_formula():
    cfg = sim_cfg(n_neurons=6, n_frames=30, external_input_type="oscillatory", oscillation_max_amplitude=2.0,
                  oscillation_frequency=0.1)
    a = S.simulate(cfg)
    e = a["e"].astype(np.float64)
    amp = e[0]  # cos(0) = 1
    assert np.all(np.abs(amp) <= 2.0)
    t = np.arange(31) * 0.1
    np.testing.assert_allclose(e, amp[None] * np.cos(2 * np.pi * 0.1 * t)[:, None], atol=1e-5)


@pytest.mark.parametrize("mode, neutral", [("additive", 0.0), ("multiplicative", 1.0)])
def test_visual_input(mode, neutral):
    cfg = sim_cfg(n_neurons=20, n_frames=40, external_input_type="visual", external_input_mode=mode,
                  image_width=4, n_images=8)
    a = S.simulate(cfg)
    e = a["e"]
    assert a["images"].shape == (8, 4, 4)
    assert e[:, :16].min() >= 0.5 - 1e-6 and e[:, :16].max() <= 1.5 + 1e-6
    np.testing.assert_allclose(e[:, 16:], neutral)
    np.testing.assert_allclose(e[0, :16], a["images"][0].ravel())
    assert len({tuple(np.round(row, 5)) for row in e[:, :16]}) == 8  # every image is shown


def test_effective_ranks_against_svd():
    a = S.simulate(sim_cfg(n_neurons=30, n_frames=300))
    s = np.linalg.svd(a["u"].astype(np.float64), compute_uv=False)
    cum = np.cumsum(s**2) / np.sum(s**2)
    assert a["effective_rank_90"] == int(np.argmax(cum >= 0.90)) + 1
    assert a["effective_rank_99"] == int(np.argmax(cum >= 0.99)) + 1
    assert a["spectral_radius"] == pytest.approx(S.spectral_radius(a["W"].astype(np.float64)), rel=1e-5)


def test_truth_rollout_reproduces_noise_free_data():
    cfg = sim_cfg(n_neurons=10, n_frames=40, external_input_type="oscillatory")
    a = S.simulate(cfg)
    dyn = S.build_dynamics(cfg, a["W"].astype(np.float64), a["types"])
    u0 = a["u"][0].astype(np.float64)
    out = S.rollout(dyn, u0, 40, 0.1, a["e"].astype(np.float64))
    assert out.shape == (41, 10) and np.array_equal(out[0], u0)
    np.testing.assert_allclose(out, a["u"], rtol=1e-4, atol=1e-4)


def test_seed_reproducible():
    a = S.simulate(sim_cfg(n_neurons=10, n_frames=20, noise_model_level=0.1))
    b = S.simulate(sim_cfg(n_neurons=10, n_frames=20, noise_model_level=0.1))
    np.testing.assert_array_equal(a["u"], b["u"])


def test_transfer_condition_against_numpy():
    cfg = sim_cfg(n_neurons=15, n_frames=200, noise_model_level=0.5)
    a = S.simulate(cfg)
    x = np.tanh(a["u"].astype(np.float64))
    x -= x.mean(axis=0)
    s = np.linalg.svd(x, compute_uv=False)
    assert a["transfer_condition"] == pytest.approx(s[0] / s[-1], rel=1e-3)
