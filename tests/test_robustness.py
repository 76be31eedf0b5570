"""benchmarks/robustness.py: the runs it asks for and the table, CSV and figure it writes (runs faked)."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _module():
    spec = importlib.util.spec_from_file_location("robustness", REPO / "benchmarks" / "robustness.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_grid_of_runs_table_and_figure(tmp_path, monkeypatch):
    bench = _module()
    calls = []

    def fake_run(run_dir, regime, *overrides):
        calls.append((regime, overrides))
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        seed = int(overrides[0].split("=")[1])
        if seed == 3:  # a draw the data cannot support
            return {"status": "data_limited", "connectivity_R2": 0.2, "oracle_connectivity_R2": 0.5,
                    "data_limited_reason": "the activity settles to a fixed point"}
        return {"status": "converged", "connectivity_R2": 0.999 if seed == 1 else 0.95,
                "oracle_connectivity_R2": 0.9999}

    monkeypatch.setattr(bench.launch, "run", fake_run)
    monkeypatch.setattr(bench, "primary_metric", lambda regime: "connectivity_R2")
    seals = tmp_path / "sealed.yaml"
    bench.sealed.seal("tiny_signal", [3], path=seals, results=tmp_path / "no_results", commit="abc1234")
    argv = ["--regimes", "tiny_signal", "--sim-seeds", "1", "2", "3", "--train-seeds", "42", "7", "--jobs", "2",
            "--out", str(tmp_path), "--runs", str(tmp_path / "runs"), "--sealed", str(seals)]
    with pytest.raises(bench.sealed.SealError, match="commit sealed.yaml before running sealed seeds"):
        bench.main(argv)  # the seal is not committed: nothing runs
    assert calls == []
    monkeypatch.setattr(bench.sealed, "require_committed", lambda path: None)
    rows = bench.main(argv)
    assert len(calls) == 6 and all("plots=false" in o for _, o in calls)
    assert {o[1] for _, o in calls} == {"training.seed=42", "training.seed=7"}
    with open(tmp_path / "robustness.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 6 and {r["held_out"] for r in table if r["sim_seed"] == "3"} == {"True"}
    tuning = bench.summary([r for r in rows if not r["held_out"]])
    assert tuning["learned_worst"] == 0.95 and tuning["below_099_with_oracle"] == 2
    assert tuning["below_09_with_oracle"] == 0 and tuning["data_limited"] == 0
    text = (tmp_path / "robustness.md").read_text()
    assert "held out (sealed): 3" in text and "fixed point" in text and "seeds: 1 2" in text
    assert (tmp_path / "robustness.png").stat().st_size > 0


def test_more_metrics_as_columns_with_the_homeostasis_slope_error(tmp_path, monkeypatch):
    bench = _module()

    def fake_run(run_dir, regime, *overrides):
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        seed = int(overrides[0].split("=")[1])
        return {"status": "converged", "rate_constants_R2": 0.99, "oracle_rate_constants_R2": 1.0,
                "test_pearson": 0.9 + 0.01 * seed,
                "homeostasis_slope_t0": -0.0012, "homeostasis_slope_true_t0": -0.001,
                "homeostasis_slope_t1": -0.002 * (1 + 0.1 * seed), "homeostasis_slope_true_t1": -0.002}

    monkeypatch.setattr(bench.launch, "run", fake_run)
    monkeypatch.setattr(bench, "primary_metric", lambda regime: "rate_constants_R2")
    rows = bench.main(["--regimes", "oscillatory_rank50", "--sim-seeds", "1", "3", "--train-seeds", "42",
                       "--jobs", "1", "--out", str(tmp_path), "--runs", str(tmp_path / "runs"),
                       "--also", "test_pearson", "homeostasis_slope_err"])
    # seed 1: types off by 20 % and 10 % -> 0.2; seed 3: 20 % and 30 % -> 0.3
    assert [round(r["homeostasis_slope_err"], 6) for r in rows] == [0.2, 0.3]
    assert [r["test_pearson"] for r in rows] == [0.91, 0.93]
    with open(tmp_path / "robustness.csv") as fh:
        assert {"test_pearson", "homeostasis_slope_err"} <= set(next(csv.DictReader(fh)))
    text = (tmp_path / "robustness.md").read_text()
    # mean / worst per seed set: the smallest score, the largest error
    assert "| 0.9200 / 0.9100 | 0.2500 / 0.3000 |" in text
    assert bench.worst("x_err", [0.1, float("nan"), 0.3]) == 0.3 and bench.worst("x", [0.1, 0.3]) == 0.1


def test_rescore_evaluates_finished_runs_again_and_recomputes_their_status(tmp_path, monkeypatch):
    import json

    bench = _module()
    run = tmp_path / "runs" / "tiny_signal_rnn" / "sim15_train42"
    run.mkdir(parents=True)
    (run / "results.npz").write_bytes(b"")
    (run / "metrics.json").write_text(json.dumps({"status": "partial", "connectivity_R2": 0.83,
                                                  "oracle_connectivity_R2": 1.0, "test_R2": 0.99}))
    (run / bench.WALL_FILE).write_text("8.0\n")
    monkeypatch.setattr(bench.launch, "run", lambda *a: (_ for _ in ()).throw(AssertionError("retrained")))
    monkeypatch.setattr(bench, "primary_metric", lambda regime: "connectivity_R2")
    monkeypatch.setattr(bench, "evaluate_again", lambda run_dir: {"connectivity_R2": 0.91,
                                                                  "oracle_connectivity_R2": 1.0})
    rows = bench.main(["--regimes", "tiny_signal_rnn", "--sim-seeds", "15", "--train-seeds", "42", "--jobs", "1",
                       "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs"), "--rescore",
                       "--also", "test_R2"])
    assert rows[0]["learned"] == 0.91 and rows[0]["status"] == "converged" and rows[0]["wall_s"] == 8.0
    assert rows[0]["test_R2"] == 0.99  # a metric the new evaluation did not return stays as stored
    assert "--rescore" in (tmp_path / "out" / "robustness.md").read_text()
    assert json.loads((run / "metrics.json").read_text())["connectivity_R2"] == 0.83  # left as written


def test_a_seal_refuses_seeds_with_results_and_seeds_sealed_already(tmp_path):
    sealed = _module().sealed
    results, runs, path = tmp_path / "results", tmp_path / "runs", tmp_path / "sealed.yaml"
    (results / "old").mkdir(parents=True)
    (results / "old" / "robustness.csv").write_text("regime,sim_seed,train_seed\nsignal_chaotic,4,42\n")
    (results / "old" / "table.md").write_text("| `signal_chaotic` | 5 (held out) | 42 | 0.99 |\n")
    (runs / "signal_chaotic" / "sim6_train42").mkdir(parents=True)
    assert sealed.seeds_with_results("signal_chaotic", results, runs) == {4, 5, 6}
    for seed in (4, 5, 6):
        with pytest.raises(sealed.SealError, match=f"seed\\(s\\) {seed} already have results"):
            sealed.seal("signal_chaotic", [seed, 9], path=path, results=results, runs=runs, commit="abc1234")
    assert not path.exists()  # a refused seal writes nothing
    made = sealed.seal("signal_chaotic", [9, 8], path=path, results=results, runs=runs, commit="abc1234")
    assert made.seeds == (8, 9) and made.commit == "abc1234"
    seals = sealed.read_seals(path)
    assert sealed.held_out(seals, "signal_chaotic", 9) and not sealed.held_out(seals, "signal_chaotic", 4)
    assert not sealed.held_out(seals, "tiny_signal", 9)  # a seal is per regime
    with pytest.raises(sealed.SealError, match="sealed already"):
        sealed.seal("signal_chaotic", [9], path=path, results=results, runs=runs, commit="abc1234")


def test_seal_from_the_command_line_runs_nothing(tmp_path, monkeypatch):
    bench = _module()
    monkeypatch.setattr(bench.launch, "run", lambda *a: pytest.fail("a seal must not run anything"))
    path = tmp_path / "sealed.yaml"
    assert bench.main(["--seal", "--regimes", "tiny_signal", "tiny_flyvis", "--sim-seeds", "201", "202",
                       "--sealed", str(path), "--runs", str(tmp_path / "runs")]) == []
    seals = bench.sealed.read_seals(path)
    assert set(seals) == {"tiny_signal", "tiny_flyvis"} and seals["tiny_flyvis"][0].seeds == (201, 202)


def test_committed_results_mark_every_sealed_seed_held_out():
    """A result of a sealed seed comes from a run made after the seal, so it says "held out"."""
    sealed = _module().sealed
    seals = sealed.read_seals()
    for path in sealed.RESULTS.rglob("*.csv"):
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                if str(row.get("sim_seed", "")).isdigit() and sealed.held_out(seals, row.get("regime", ""),
                                                                              int(row["sim_seed"])):
                    assert row.get("held_out") == "True", (path, row["regime"], row["sim_seed"])
