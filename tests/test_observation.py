"""Simulated data observed as an instrument records them (``data.measurement_noise``,
``data.derivative``): the estimators on known signals, the layout of each family's trials, the
refusals, and a run whose learner and oracle both see the observations."""

from __future__ import annotations

import numpy as np
import pytest

from neuralgraph.errors import ConfigError
from neuralgraph.family import Observed, get_family
from neuralgraph.launch import compose_regime
from neuralgraph.sources.simulated.config import ObservedDerivative, SimulatedData
from neuralgraph.sources.simulated.observe import observe, segments
from neuralgraph.train import run, typed

FAST = ("num_threads=1", "plots=false", "progress=false", "resume=false")


def sines(n_frames=400, dt=0.05, n=3):
    t = dt * np.arange(n_frames)[:, None]
    freq = np.array([0.5, 1.0, 1.5])[:n]
    return np.sin(freq * t), freq * np.cos(freq * t), dt


@pytest.mark.parametrize("how, tol", [("finite_difference", 5e-3), ("savgol", 1e-3), ("spline", 1e-2)])
def test_noise_free_estimates_match_the_exact_derivative(how, tol):
    x, dx, dt = sines()
    arrays = {"u": x.astype(np.float32), "du": dx.astype(np.float32), "trial_bounds": np.array([0, 200, 400])}
    data = SimulatedData(derivative=ObservedDerivative(how))
    out = observe(arrays, Observed("u", "du", bounds="trial_bounds"), data, dt, seed=1)
    inner = np.r_[5:195, 205:395]  # away from the trial edges, where one-sided estimates are worst
    assert np.abs(out["du"][inner] - dx[inner]).max() < tol
    assert out["u"].dtype == np.float32 and out is not arrays and arrays["du"] is not out["du"]


def test_noise_is_relative_to_each_node_and_smoothing_removes_most_of_it():
    x, dx, dt = sines(n_frames=2000, dt=0.01)
    arrays = {"x": np.stack([x, 3 * x]), "y": np.stack([dx, 3 * dx])}  # runs first, as metabolism stores
    observed = Observed("x", "y", runs_axis=True)
    raw = observe(arrays, observed, SimulatedData(derivative=ObservedDerivative.finite_difference,
                                                   measurement_noise=0.05), dt, seed=3)
    noise = raw["x"] - arrays["x"]
    spread = arrays["x"].reshape(-1, 3).std(axis=0)
    assert np.allclose(noise.reshape(-1, 3).std(axis=0) / spread, 0.05, rtol=0.1)  # 5 % of each node's std
    assert np.allclose(noise[1].std(axis=0) / noise[0].std(axis=0), 1.0, rtol=0.15)  # the runs share σ_i
    smooth = observe(arrays, observed, SimulatedData(derivative=ObservedDerivative.spline, measurement_noise=0.05),
                     dt, seed=3)
    err = lambda est: np.sqrt(np.mean((est["y"] - arrays["y"]) ** 2))  # noqa: E731
    assert err(smooth) < 0.2 * err(raw)  # differencing amplifies the noise; the spline does not
    again = observe(arrays, observed, SimulatedData(derivative=ObservedDerivative.finite_difference,
                                                     measurement_noise=0.05), dt, seed=3)
    assert np.array_equal(again["x"], raw["x"])  # the same seed, the same draw


def test_each_family_names_its_trials():
    assert segments({"u": np.zeros((10, 2)), "trial_bounds": np.array([0, 4, 10])},
                    get_family("signal").observed) == [(-1, slice(0, 4)), (-1, slice(4, 10))]
    assert segments({"x": np.zeros((3, 5, 2))}, get_family("metabolism").observed) == [
        (0, slice(None)), (1, slice(None)), (2, slice(None))]
    assert segments({"x": np.zeros((7, 2))}, get_family("flyvis").observed) == [(-1, slice(0, 7))]


def test_exact_derivatives_with_noise_are_refused():
    with pytest.raises(ConfigError, match="data.measurement_noise=0.01 needs an estimated derivative"):
        SimulatedData(measurement_noise=0.01)
    with pytest.raises(ConfigError, match="data.measurement_noise"):
        SimulatedData(derivative=ObservedDerivative.spline, measurement_noise=-1.0)


def test_a_run_on_observed_data_trains_and_its_oracle_sees_the_same_data(tmp_path):
    exact = run(compose_regime("tiny_signal", *FAST, "training.data_augmentation_loop=5"), tmp_path / "exact")
    cfg = compose_regime("tiny_signal", *FAST, "training.data_augmentation_loop=5", "data.derivative=spline",
                         "data.measurement_noise=0.01")
    assert typed(cfg).data.derivative == ObservedDerivative.spline
    observed = run(cfg, tmp_path / "observed")
    assert observed["status"] != "diverged" and np.isfinite(observed["connectivity_R2"])
    # The oracle fits the same estimated derivatives the learner trains on, so it falls with them
    # (in this tiny regime, whose process noise dwarfs the drift, to data_limited).
    assert exact["oracle_connectivity_R2"] > 0.99 > observed["oracle_connectivity_R2"]
    assert observed["dataset"] == exact["dataset"]  # one cached simulation, observed anew


def test_short_trials_and_double_noise_are_refused_by_name():
    x, dx, dt = sines(n_frames=5)
    with pytest.raises(ConfigError, match="data.derivative=savgol needs at least 7 frames per trial; a trial of "
                                          "this simulation has 5"):
        observe({"u": x, "du": dx}, Observed("u", "du"), SimulatedData(derivative=ObservedDerivative.savgol), dt, 1)
    from neuralgraph.sources.simulated.source import SOURCE

    cfg = typed(compose_regime("tiny_signal", "data.derivative=spline", "simulation.measurement_noise_level=0.01"))
    with pytest.raises(ConfigError, match="set simulation.measurement_noise_level=0 and use data.measurement_noise"):
        SOURCE.check(cfg, get_family("signal"))
    SOURCE.check(typed(compose_regime("tiny_signal", "data.derivative=spline")), get_family("signal"))
