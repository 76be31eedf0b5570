"""The dataset cache: keyed by the simulation config and the contents of its input files."""

from __future__ import annotations

import numpy as np

from neuralgraph.datacache import config_hash, dataset_dir, file_digests, load_or_simulate
from neuralgraph.families.metabolism.config import MetabolismSimulation
from neuralgraph.families.signal.config import SignalSimulation


def _fake_simulate(sim):
    """Stands for a simulator: the dataset is the matrix the file holds now."""
    return {"W": np.load(sim.connectivity_file)}


def test_overwriting_the_connectivity_file_changes_the_cache_entry(tmp_path):
    path = tmp_path / "W.npy"
    np.save(path, np.eye(3))
    sim = SignalSimulation(n_neurons=3, connectivity_type="file", connectivity_file=str(path))
    first, folder_1, cached = load_or_simulate(tmp_path / "cache", "signal", sim, _fake_simulate)
    assert not cached
    again, _, cached = load_or_simulate(tmp_path / "cache", "signal", sim, _fake_simulate)
    assert cached and np.array_equal(again["W"], np.eye(3))

    np.save(path, 2 * np.eye(3))  # same path, same config, new contents
    second, folder_2, cached = load_or_simulate(tmp_path / "cache", "signal", sim, _fake_simulate)
    assert not cached and folder_2 != folder_1
    assert np.array_equal(second["W"], 2 * np.eye(3))


def test_every_file_key_counts_generically(tmp_path):
    """metabolism's stoichiometry_file is covered without the cache knowing the family."""
    path = tmp_path / "S.npy"
    np.save(path, np.array([[-1, 1], [1, -1]]))
    sim = MetabolismSimulation(stoichiometry="file", stoichiometry_file=str(path), n_metabolites=2, n_reactions=2)
    before = config_hash(sim)
    assert set(file_digests({"stoichiometry_file": str(path), "other": "x", "empty_file": ""})) == {"stoichiometry_file"}
    np.save(path, np.array([[-2, 1], [1, -1]]))
    assert config_hash(sim) != before


def test_configs_without_files_keep_their_hash(tmp_path):
    sim = SignalSimulation()
    assert file_digests({"connectivity_file": ""}) == {}
    assert dataset_dir(tmp_path, "signal", sim) == dataset_dir(tmp_path, "signal", SignalSimulation())


def test_a_missing_file_hashes_as_missing(tmp_path):
    assert file_digests({"connectome_file": str(tmp_path / "absent.json")}) == {"connectome_file": "missing"}
