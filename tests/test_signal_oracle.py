"""The signal family's known-law oracle against independent least squares on hand-built cases,
and data problems reported as such (a settled network is data-limited, a blow-up names its cause)."""

from __future__ import annotations

import numpy as np
import pytest

from neuralgraph.errors import ConfigError
from neuralgraph.families.signal import oracle
from neuralgraph.families.signal.config import InputMode, SignalModelName, SignalSimulation, Transfer
from neuralgraph.families.signal.simulate import SignalDynamics, build_dynamics, simulate
from neuralgraph.launch import compose_regime
from neuralgraph.train import run


def _random_W(rng: np.random.Generator, n: int) -> np.ndarray:
    W = rng.standard_normal((n, n)) / np.sqrt(n)
    np.fill_diagonal(W, 0.0)
    return W


def _pde_n11(W: np.ndarray, g: float = 3.0, c: float = 1.0, **kw) -> SignalDynamics:
    n = W.shape[0]
    p = {"g": np.full(n, g), "c": np.full(n, c)}
    kw.setdefault("activation", (Transfer.tanh,))
    kw.setdefault("amplitude", np.ones(len(kw["activation"])))
    kw.setdefault("slope", np.ones(len(kw["activation"])))
    return SignalDynamics(model=SignalModelName.PDE_N11, W=W, types=kw.pop("types", np.zeros(n, int)), p=p, **kw)


def _lstsq_rows(X: np.ndarray, Y: np.ndarray, rho: float = 0.0) -> np.ndarray:
    """Independent reference: numpy lstsq per row over the columns j != i (ridge as augmented rows)."""
    n = Y.shape[1]
    W = np.zeros((n, X.shape[1]))
    for i in range(n):
        keep = np.arange(X.shape[1]) != i
        A, b = X[:, keep], Y[:, i]
        if rho > 0:
            A = np.vstack([A, np.sqrt(rho) * np.eye(A.shape[1])])
            b = np.concatenate([b, np.zeros(A.shape[1])])
        W[i, keep] = np.linalg.lstsq(A, b, rcond=None)[0]
    return W


def test_noise_free_recovery_to_1e6_and_agreement_with_numpy():
    rng = np.random.default_rng(0)
    n, T = 10, 300
    W = _random_W(rng, n)
    dyn = _pde_n11(W)
    u = 2.0 * rng.standard_normal((T, n))
    du = dyn(u)
    W_hat, _ = oracle.fit_weights(dyn, u, du, None, ridge=1e-14)
    np.testing.assert_allclose(W_hat, W, atol=1e-6)
    # the same problem written by hand: (du + c u) / g = tanh(u) Wᵀ
    Y = (du + u) / 3.0
    np.testing.assert_allclose(W_hat, _lstsq_rows(np.tanh(u), Y), atol=1e-8)


def test_ridge_matches_the_augmented_problem_with_the_stated_rho():
    rng = np.random.default_rng(1)
    n, T = 8, 200
    dyn = _pde_n11(_random_W(rng, n))
    u = rng.standard_normal((T, n))
    du = dyn(u) + 0.05 * rng.standard_normal((T, n))  # noisy targets: the ridge matters
    ridge = 0.05
    X = np.tanh(u)
    rho = ridge * np.mean(np.sum(X**2, axis=0))
    W_hat, _ = oracle.fit_weights(dyn, u, du, None, ridge=ridge)
    np.testing.assert_allclose(W_hat, _lstsq_rows(X, (du + u) / 3.0, rho), rtol=1e-9, atol=1e-12)


def test_receiver_types_and_additive_input():
    rng = np.random.default_rng(2)
    n, T = 12, 400
    W = _random_W(rng, n)
    types = np.repeat([0, 1], n // 2)
    dyn = _pde_n11(W, activation=(Transfer.tanh, Transfer.sigmoid), amplitude=np.array([1.0, 2.0]),
                   slope=np.array([1.0, 0.5]), types=types, has_input=True)
    u = rng.standard_normal((T, n))
    e = rng.standard_normal((T, n))
    W_hat, _ = oracle.fit_weights(dyn, u, dyn(u, e), e, ridge=1e-14)
    np.testing.assert_allclose(W_hat, W, atol=1e-6)


def test_multiplicative_input():
    rng = np.random.default_rng(3)
    n, T = 8, 300
    W = _random_W(rng, n)
    dyn = _pde_n11(W, has_input=True, mode=InputMode.multiplicative)
    u = rng.standard_normal((T, n))
    e = 1.0 + 0.5 * rng.random((T, n))
    W_hat, _ = oracle.fit_weights(dyn, u, dyn(u, e), e, ridge=1e-14)
    np.testing.assert_allclose(W_hat, W, atol=1e-6)


def test_weak_neurons_are_the_ones_the_data_cannot_separate():
    rng = np.random.default_rng(4)
    n, T = 10, 300
    u = rng.standard_normal((T, n))
    u[:, 7] = u[:, 3]  # two senders with identical activity: only the sum of their weights is seen
    rank, n_weak = oracle.weak_neurons(np.tanh(u))
    assert rank == n - 1 and n_weak == 2


def test_simulated_data_oracle_recovers_w_and_reports_rank():
    sim = SignalSimulation(n_neurons=20, n_frames=600, start_frame=-100, params=[[7.0, 1.0]], seed=3,
                           noise_model_level=0.5)
    arrays = simulate(sim)
    dyn = build_dynamics(sim, arrays["W"].astype(np.float64), arrays["types"])
    metrics, W_hat = oracle.oracle_metrics(dyn, arrays)
    assert metrics["oracle_connectivity_R2"] > 0.999
    assert metrics["oracle_design_rank"] == 20 and metrics["oracle_n_weak_neurons"] == 0
    assert "data_limited_reason" not in metrics
    assert W_hat.shape == (20, 20) and np.all(np.diag(W_hat) == 0)


def _excitatory_file(tmp_path, n: int, scale: float) -> str:
    """An all-excitatory (unbalanced) connectome: weights ~ U(0.5, 1.5)·scale/n, rows summing to ≈ scale."""
    W = np.random.default_rng(0).uniform(0.5, 1.5, (n, n)) * scale / n
    np.fill_diagonal(W, 0.0)
    path = tmp_path / "W.npy"
    np.save(path, W)
    return str(path)


def test_settled_network_is_data_limited_not_diverged(tmp_path, cache_dir):
    """Activity at a saturated fixed point: du/dt ≈ 1e-15 used to 'diverge' the run."""
    path = _excitatory_file(tmp_path, 20, 3.0)
    cfg = compose_regime(
        "tiny_signal", "device=cpu", "progress=false", "plots=false", "simulation.signal_model_name=PDE_N11",
        "simulation.n_neuron_types=1", "simulation.params=[[7.0,1.0]]", "simulation.n_neurons=20",
        "simulation.noise_model_level=0", "simulation.start_frame=-1000", "simulation.connectivity_type=file",
        f"simulation.connectivity_file={path}", "training.data_augmentation_loop=20",
    )
    metrics = run(cfg, tmp_path / "run")
    assert metrics["status"] == "data_limited"
    assert "fixed point" in metrics["data_limited_reason"] and "\n" not in metrics["data_limited_reason"]
    assert metrics["target_motion"] < oracle.SETTLED


def test_blow_up_names_spectral_radius_gain_and_fix(tmp_path):
    path = _excitatory_file(tmp_path, 20, 3.0)
    sim = SignalSimulation(n_neurons=20, n_frames=200, start_frame=-100, params=[[7.0, 1.0]],
                           activation=[Transfer.relu], connectivity_type="file", connectivity_file=path)
    with pytest.raises(ConfigError) as err:
        simulate(sim)
    text = str(err.value)
    assert "spectral radius of W 2.93 x gain g 7 = 20.5" in text and "divide W by at least 20.5" in text
    assert "\n" not in text
