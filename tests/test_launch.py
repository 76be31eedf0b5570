"""neuralgraph.launch: a run started from Python is the CLI's run, and a finished one is reused."""

from __future__ import annotations

import pytest

from neuralgraph import launch


def test_run_then_reuse(tmp_path, cache_dir, capsys):
    run_dir = tmp_path / "run"
    metrics = launch.run(run_dir, "tiny_metabolism", "training.data_augmentation_loop=20", "plots=false")
    assert launch.is_finished(run_dir)
    assert metrics["status"] in {"converged", "partial", "failed"}
    assert launch.start(run_dir, "tiny_metabolism") is None  # finished: not trained again
    assert "reusing" in capsys.readouterr().out
    assert launch.finish(None, run_dir) == metrics


def test_failed_run_raises_with_its_error(tmp_path, cache_dir):
    with pytest.raises(RuntimeError, match="simulation.n_metabolites"):
        launch.run(tmp_path / "bad", "tiny_metabolism", "simulation.n_metabolites=-1")
