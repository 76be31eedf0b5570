"""`python -m neuralgraph.report`: one table over a ucb_llm and an Optuna sweep of the toy app."""

import subprocess
import sys

import pandas as pd
import pytest
from sweeper_helpers import ROOT, app_env, run_app

from neuralgraph.report import collect, main


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    ucb, optuna = base / "ucb", base / "optuna"
    run_app(ucb, "hydra.sweeper.n_iterations=4", "hydra.sweeper.n_parallel=2")
    run_app(optuna, "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2", sweeper="optuna_regime")
    return ucb, optuna


def test_table_over_both_sweeps(sweeps):
    ucb, optuna = sweeps
    df = collect([ucb, optuna])
    assert len(df) == 6
    assert set(df["reward_key"]) == {"score"}
    by_sweep = dict(tuple(df.groupby("sweep")))
    assert list(by_sweep[str(ucb)]["iteration"]) == [1, 2, 3, 4]  # from the tree
    assert list(by_sweep[str(optuna)]["iteration"]) == [1, 2]  # from job numbers
    assert {"training.lr_k", "training.batch_size", "test_pearson"} <= set(df.columns)
    for group in by_sweep.values():
        assert (group["best_so_far"].diff().dropna() >= 0).all()


def test_cli_writes_csv_curve_and_tree(sweeps, tmp_path):
    ucb, optuna = sweeps
    proc = subprocess.run([sys.executable, "-m", "neuralgraph.report", str(ucb), str(optuna),
                           "--out", str(tmp_path / "rep")], cwd=ROOT, env=app_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "best in" in proc.stdout
    assert len(pd.read_csv(tmp_path / "rep" / "runs.csv")) == 6
    assert (tmp_path / "rep" / "best_so_far.png").stat().st_size > 0
    assert (tmp_path / "rep" / "tree_ucb.png").stat().st_size > 0
    assert not (tmp_path / "rep" / "tree_optuna.png").exists()


def test_missing_directory_is_named(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err


def test_empty_directory_is_named(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "no run directories" in capsys.readouterr().err
