"""neuralgraph.launch: a run started from Python is the CLI's run, and a finished one is reused."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from neuralgraph import launch

OVERRIDES = ("training.data_augmentation_loop=20", "plots=false")


def test_run_then_reuse(tmp_path, cache_dir, capsys):
    run_dir = tmp_path / "run"
    metrics = launch.run(run_dir, "tiny_metabolism", *OVERRIDES)
    assert launch.is_finished(run_dir)
    assert metrics["status"] in {"converged", "partial", "failed"}
    assert launch.start(run_dir, "tiny_metabolism") is None  # finished: not trained again
    assert "reusing" in capsys.readouterr().out
    assert launch.finish(None, run_dir) == metrics
    # compose_regime gives the in-process tests the very config the child process ran with.
    ran = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    composed = launch.compose_regime("tiny_metabolism", "progress=false", "num_threads=1", *OVERRIDES)
    assert OmegaConf.to_container(composed) == OmegaConf.to_container(ran)


def test_failed_run_raises_with_its_error(tmp_path, cache_dir):
    with pytest.raises(RuntimeError, match="simulation.n_metabolites"):
        launch.run(tmp_path / "bad", "tiny_metabolism", "simulation.n_metabolites=-1")
