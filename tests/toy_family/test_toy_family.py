"""A fourth family written outside the package: found through ``NEURALGRAPH_FAMILIES``, composed
from the conf folder inside its package, trained by the shared pipeline, in-process and from the
command line.

Nothing outside ``tests/toy_family/`` names this family: the test only puts the folder on the
import path and names the package in the environment; Hydra's search path gets the family's
``toy/conf/`` from NeuralGraph's search-path plugin (``hydra_plugins/neuralgraph_searchpath``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

HERE = Path(__file__).resolve().parent
FAST = ("progress=false", "device=cpu", "num_threads=1")


@pytest.fixture
def toy_env(monkeypatch, tmp_path):
    """The toy package importable and named in the environment; a private dataset cache."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("NEURALGRAPH_FAMILIES", "toy")
    monkeypatch.setenv("NEURALGRAPH_CACHE", str(tmp_path / "cache"))
    from neuralgraph.config import register_configs

    register_configs()


def compose(*overrides: str):
    from neuralgraph.launch import compose_regime

    return compose_regime("tiny_toy", *FAST, *overrides)


def test_the_toy_family_is_discovered(toy_env):
    from neuralgraph.family import family_packages, family_schemas, get_family

    assert family_packages()["toy"] == "toy"
    assert set(family_schemas("toy")) == {"simulation", "model", "training"}
    family = get_family("toy")
    assert family.name == "toy" and family.truth_free is None


def test_the_toy_regime_composes_into_typed_blocks(toy_env):
    from omegaconf import OmegaConf

    from neuralgraph.config.base import TrainingBase
    from neuralgraph.train import typed

    cfg = typed(compose("training.lr_A=0.03"))
    assert type(cfg.simulation).__name__ == "ToySimulation" and cfg.simulation.family == "toy"
    assert isinstance(cfg.training, TrainingBase) and cfg.training.lr_A == 0.03
    assert cfg.reward_key == "A_R2" and cfg.instructions == "toy.md"
    with pytest.raises(Exception, match="simulation.n_nodes"):
        typed(compose("simulation.n_nodes=0"))  # the range check lives on the toy's own dataclass
    assert OmegaConf.is_config(compose())


def test_the_toy_family_trains_in_process(toy_env, tmp_path):
    from neuralgraph import rundir
    from neuralgraph.datacache import load_or_simulate
    from neuralgraph.family import get_family
    from neuralgraph.train import run, typed

    cfg = compose("plots=false")
    metrics = run(cfg, tmp_path / "run")
    assert metrics["status"] == "converged"
    assert metrics["A_R2"] > 0.99
    assert metrics["n_steps"] == 250  # 400 frames · 50 // 16 · 0.2

    run_dir = tmp_path / "run"
    for name in ("analysis.log", "metrics.json", "results.npz", "model.pt"):
        assert (run_dir / name).exists(), name
    assert json.loads((run_dir / "metrics.json").read_text())["A_R2"] == pytest.approx(metrics["A_R2"])
    results = rundir.read_results(run_dir)
    assert set(results) == {"A_true", "A_learned"}
    assert np.allclose(results["A_learned"], results["A_true"], atol=1e-2)

    # The checkpoint alone rebuilds the trained model.
    typed_cfg = typed(cfg)
    family = get_family("toy")
    arrays, _, cached = load_or_simulate(typed_cfg.cache_dir, "toy", typed_cfg.simulation, family.simulate)
    assert cached
    fresh, _ = family.build(arrays, typed_cfg, torch.device("cpu"))
    fresh.load_state_dict(torch.load(run_dir / "model.pt", weights_only=False)["state_dict"])
    again, _ = family.evaluate(fresh, arrays, typed_cfg, torch.device("cpu"))
    assert again["A_R2"] == metrics["A_R2"]


def test_the_toy_family_trains_from_the_command_line(tmp_path):
    repo = HERE.parent.parent
    env = dict(os.environ, NEURALGRAPH_FAMILIES="toy", NEURALGRAPH_CACHE=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([str(HERE), str(repo), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1")
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "neuralgraph.train", "+regime=tiny_toy", *FAST,
         f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "converged" and metrics["A_R2"] > 0.99
    assert (run_dir / ".hydra" / "config.yaml").read_text().count("family: toy") == 2
    for name in ("loss.png", "A.png"):
        assert (run_dir / "plots" / name).stat().st_size > 1000, name
