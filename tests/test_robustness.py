"""benchmarks/robustness.py: the runs it asks for and the table, CSV and figure it writes (runs faked)."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

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
    rows = bench.main(["--regimes", "tiny_signal", "--sim-seeds", "1", "2", "3", "--held-out", "3",
                       "--train-seeds", "42", "7", "--jobs", "2", "--out", str(tmp_path), "--runs", str(tmp_path / "runs")])
    assert len(calls) == 6 and all("plots=false" in o for _, o in calls)
    assert {o[1] for _, o in calls} == {"training.seed=42", "training.seed=7"}
    with open(tmp_path / "robustness.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 6 and {r["held_out"] for r in table if r["sim_seed"] == "3"} == {"True"}
    tuning = bench.summary([r for r in rows if not r["held_out"]])
    assert tuning["learned_worst"] == 0.95 and tuning["below_099_with_oracle"] == 2
    assert tuning["below_09_with_oracle"] == 0 and tuning["data_limited"] == 0
    text = (tmp_path / "robustness.md").read_text()
    assert "held out: 3" in text and "fixed point" in text and "tuning: 1 2" in text
    assert (tmp_path / "robustness.png").stat().st_size > 0
