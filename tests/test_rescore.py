"""benchmarks/rescore.py scores a finished run directory again: the same numbers as the run wrote."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from neuralgraph.rundir import read_metrics
from tests.conftest import REPO, cli_env


def _rescore_module():
    spec = importlib.util.spec_from_file_location("rescore", REPO / "benchmarks" / "rescore.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rescore_reproduces_the_runs_metrics(cli, cache_dir, tmp_path):
    out = tmp_path / "run"
    proc = cli("+regime=tiny_metabolism", "training.data_augmentation_loop=20", "progress=false", "plots=false",
               f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    written = read_metrics(out)
    again = _rescore_module().rescore(out)
    for key in ("rate_constants_R2", "test_pearson"):
        assert again[key] == pytest.approx(written[key], rel=1e-6, abs=1e-9), key
    # The command line prints one line per run and writes --out.
    report = tmp_path / "scores.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "rescore.py"), str(out), "--keys",
                           "rate_constants_R2", "--out", str(report)], env=cli_env(cache_dir), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "rate_constants_R2" in proc.stdout and report.exists()


def test_rescore_refuses_a_run_without_a_regime(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "overrides.yaml").write_text("- data=recording\n")
    with pytest.raises(SystemExit, match=r"\+regime="):
        _rescore_module().rescore(tmp_path)
