"""Fly visual system simulator: lattice sizes against the published ones, W, targets, reproducibility.

Reads the connectome file that ships with NeuralGraph (``neuralgraph/data/flyvis/``, copied from
the flyvis 1.2.0 wheel); the tests are skipped, with the reason, if it is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from neuralgraph.errors import ConfigError, DataError
from neuralgraph.families.flyvis import simulate as fs
from neuralgraph.families.flyvis.config import FlyVisSimulation

pytestmark = pytest.mark.skipif(
    not fs.connectome_available(),
    reason=f"flyvis connectome JSON not installed; run `{fs.INSTALL_HINT}`",
)


def tiny_cfg(**kw):
    base = dict(extent=1, n_frames=120, n_test_frames=40, n_burn_in=20, segment_frames=30)
    base.update(kw)
    return FlyVisSimulation(**base)


@pytest.fixture(scope="module")
def tiny():
    return fs.simulate(tiny_cfg())


@pytest.fixture(scope="module")
def raw_json():
    return json.loads(fs.find_connectome_file().read_text())


# Published sizes: flyvis docs (extent 15: 721 columns, 45,669 neurons, 1,513,231 synapses) and the
# extent-8 network of flyvis-gnn/NeuralGraph (217 columns, 13,741 neurons, 434,112 edges, 1,736 inputs).
@pytest.mark.parametrize(
    "extent, columns, neurons, synapses, inputs",
    [(8, 217, 13741, 434112, 1736), (15, 721, 45669, 1513231, 5768)],
)
def test_lattice_counts_match_published(extent, columns, neurons, synapses, inputs):
    lat = fs.load_lattice(extent)
    assert len(lat.columns) == columns
    assert lat.n_neurons == neurons
    assert lat.n_edges == synapses
    assert len(lat.input_nodes) == inputs


@pytest.mark.parametrize("extent", [0, 1, 2, 3])
def test_small_lattices_are_consistent(extent, raw_json):
    lat = fs.load_lattice(extent)
    assert len(lat.columns) == 3 * extent * (extent + 1) + 1
    n_types = len(raw_json["nodes"])
    assert lat.node_type.max() == n_types - 1
    # one neuron per column for every stride-1 type
    counts = np.bincount(lat.node_type, minlength=n_types)
    for t, node in enumerate(raw_json["nodes"]):
        if node["pattern"] == ["stride", [1, 1]]:
            assert counts[t] == len(lat.columns)
    # no duplicate (pre, post) pairs; every synapse count positive
    pairs = lat.edge_tgt.astype(np.int64) * lat.n_neurons + lat.edge_src
    assert len(np.unique(pairs)) == len(pairs)
    assert (lat.edge_count > 0).all()


def test_edges_follow_the_file_offsets(raw_json):
    """Each synapse's column offset and type pair appear in the file (or in the filled hull)."""
    lat = fs.load_lattice(2)
    names = [n["name"] for n in raw_json["nodes"]]
    spec = fs.read_connectome(fs.find_connectome_file())
    for k in np.random.default_rng(0).choice(lat.n_edges, 300, replace=False):
        s, t, f = lat.edge_src[k], lat.edge_tgt[k], lat.edge_filter[k]
        assert names[lat.node_type[s]] == raw_json["edges"][f]["src"]
        assert names[lat.node_type[t]] == raw_json["edges"][f]["tar"]
        du, dv = lat.columns[lat.node_col[t]] - lat.columns[lat.node_col[s]]
        offs = spec.offsets[f]
        row = offs[(offs[:, 0] == du) & (offs[:, 1] == dv)]
        assert len(row) == 1 and row[0, 2] == lat.edge_count[k]
        assert np.sign(raw_json["edges"][f]["alpha"]) == lat.edge_sign[k]


def test_hull_fill_adds_interior_points_only():
    offs = np.array([[0, 0, 5.0], [4, 0, 2.0], [0, 4, 3.0], [4, 4, 1.0]])
    filled = fs._hull_fill(offs, 1.0)
    added = {(int(a), int(b)) for a, b, _ in filled[4:]}
    assert (2, 2) in added and (1, 3) in added
    assert all(0 <= a <= 4 and 0 <= b <= 4 for a, b in added)
    assert np.all(filled[4:, 2] == 1.0)
    np.testing.assert_array_equal(filled[:4], offs)


def test_W_is_sign_count_strength(tiny, raw_json):
    W, sign, count = tiny["W"], tiny["edge_sign"], tiny["edge_count"]
    strength = tiny["strength"][tiny["edge_filter"]]
    np.testing.assert_allclose(W, sign * count * strength, rtol=1e-6)
    assert np.all(np.sign(W) == sign)
    assert np.all(tiny["strength"] > 0)
    alphas = np.array([np.sign(e["alpha"]) for e in raw_json["edges"]])
    np.testing.assert_array_equal(sign, alphas[tiny["edge_filter"]])
    # the spectral-radius cap holds
    rho = fs.spectral_radius_abs(len(tiny["node_type"]), tiny["edge_src"], tiny["edge_tgt"], W.astype(np.float64))
    assert rho <= 0.9 + 1e-6


def test_ground_truth_is_per_type(tiny):
    types = tiny["node_type"]
    np.testing.assert_allclose(tiny["tau"], tiny["tau_type"][types])
    np.testing.assert_allclose(tiny["V_rest"], tiny["V_rest_type"][types])
    assert tiny["tau_type"].min() >= 0.05 and tiny["tau_type"].max() <= 0.25


def test_targets_are_exact_derivatives(tiny):
    """y = (−x + V_rest + W ReLU(x) + I)/τ, recomputed with a dense matrix."""
    n = len(tiny["node_type"])
    W = np.zeros((n, n))
    np.add.at(W, (tiny["edge_tgt"], tiny["edge_src"]), tiny["W"].astype(np.float64))
    x = tiny["x"].astype(np.float64)
    drive = np.zeros_like(x)
    inp = tiny["input_nodes"]
    drive[:, inp] = tiny["stimulus"][:, tiny["node_col"][inp]]
    y = (-x + tiny["V_rest"] + np.maximum(x, 0) @ W.T + drive) / tiny["tau"]
    np.testing.assert_allclose(tiny["y"], y, rtol=1e-4, atol=1e-4)


def test_integrate_is_the_loop_it_replaced():
    """The shared Euler integrator follows the simulator's former hand-written loop: burn-in not
    recorded, (x, dx/dt) recorded before each step, noise after every step (the last one included,
    so the random stream left for the test movie is the same)."""
    lat = fs.load_lattice(1)
    rng = np.random.default_rng(5)
    gt = fs.draw_ground_truth(lat, tiny_cfg(), rng)
    stim, _ = fs.make_stimulus(fs.hex_xy(lat.columns), 60, 0.02, list(fs.STIMULUS_KINDS), 20, 0.5, rng)
    noise = np.random.default_rng(9)
    x, y = fs.integrate(lat, gt, stim, 0.02, 0.05, 15, noise, 1.0)
    after = np.random.default_rng(9)
    n, b = lat.n_neurons, 15
    W = np.zeros((n, n))
    np.add.at(W, (lat.edge_tgt, lat.edge_src), gt.W)
    tau, v_rest = gt.tau_type[lat.node_type], gt.v_rest_type[lat.node_type]
    v, drive = v_rest.copy(), np.zeros(n)
    for k in range(len(stim)):
        drive[lat.input_nodes] = stim[k, lat.node_col[lat.input_nodes]]
        dv = (-v + v_rest + W @ np.maximum(v, 0.0) + drive) / tau
        if k >= b:
            np.testing.assert_allclose(x[k - b], v.astype(np.float32), rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(y[k - b], dv.astype(np.float32), rtol=1e-5, atol=1e-6)
        v = v + 0.02 * dv
        v += 0.05 * after.standard_normal(n)
    assert x.shape == (len(stim) - b, n)
    assert noise.standard_normal() == after.standard_normal()


def test_euler_step_without_noise():
    a = fs.simulate(tiny_cfg(noise_model_level=0.0))
    dt = 0.02
    np.testing.assert_allclose(a["x"][1:], a["x"][:-1] + dt * a["y"][:-1], atol=1e-5)


def test_reproducible_and_seeded(tiny):
    again = fs.simulate(tiny_cfg())
    for key in ("x", "y", "stimulus", "W", "tau", "x_test"):
        np.testing.assert_array_equal(tiny[key], again[key])
    other = fs.simulate(tiny_cfg(seed=7))
    assert not np.allclose(tiny["W"], other["W"])


def test_stimulus_kinds_and_range():
    xy = fs.hex_xy(fs.hex_columns(3))
    rng = np.random.default_rng(0)
    for kind in fs.STIMULUS_KINDS:
        movie, kinds = fs.make_stimulus(xy, 60, 0.02, [kind], 30, 0.5, rng)
        assert movie.shape == (60, len(xy)) and movie.dtype == np.float32
        assert movie.min() >= 0 and movie.max() <= 1
        assert movie.std() > 0, kind
        assert set(kinds.tolist()) == {fs.STIMULUS_KINDS.index(kind)}


def test_bad_config_and_missing_file(monkeypatch):
    with pytest.raises(ConfigError, match="tau_min"):
        tiny_cfg(tau_min=0.01)
    with pytest.raises(ConfigError, match="unknown kind"):
        tiny_cfg(stimuli=["movie"])
    with pytest.raises(ConfigError, match="simulation.stimuli is empty"):
        tiny_cfg(stimuli=[])
    with pytest.raises(ConfigError, match="simulation.segment_frames"):
        tiny_cfg(segment_frames=0)
    with pytest.raises(DataError, match="connectome_file"):
        fs.find_connectome_file("/nonexistent/file.json")
    monkeypatch.setattr(fs.resources, "connectome_file", lambda: Path("/nonexistent/fib25-fib19_v2.2.json"))
    with pytest.raises(DataError, match="reinstall neuralgraph"):
        fs.find_connectome_file()


def test_flyvis_is_never_imported(tiny):
    import sys

    assert "flyvis" not in sys.modules
