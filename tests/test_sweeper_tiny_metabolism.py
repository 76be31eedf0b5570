"""The issue's acceptance run: `python -m neuralgraph.train -m +regime=tiny_metabolism
hydra/sweeper=ucb_llm` for 12 iterations with the heuristic proposer, on the basic launcher and
on joblib with 2 workers. Training is cut to a few steps: the sweeper is under test, not the GNN."""

import subprocess
import sys

import yaml
from sweeper_helpers import ROOT, app_env, runs

from neuralgraph.launch import compose_regime

FAST = ["progress=false", "plots=false", "training.data_augmentation_loop=2"]
FILES = ["ucb_llm_tree.json", "ucb_scores.txt", "analysis.md", "memory.md", "tree.png",
         "optimization_results.yaml", "multirun.yaml"]


def sweep(tmp_path, *extra):
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "neuralgraph.train", "-m", "+regime=tiny_metabolism",
           "hydra/sweeper=ucb_llm", "hydra.sweeper.n_iterations=12", "hydra.sweeper.n_parallel=4",
           "hydra.sweeper.n_iter_block=8", f"hydra.sweep.dir={out}", *FAST, *extra]
    proc = subprocess.run(cmd, cwd=ROOT, env=app_env({"NEURALGRAPH_CACHE": str(tmp_path / "cache")}),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def check(out):
    for name in FILES:
        assert (out / name).stat().st_size > 0, name
    all_runs = runs(out)
    assert len(all_runs) == 12 and all(r["status"] == "completed" for r in all_runs)
    assert sorted(r["job_idx"] for r in all_runs) == list(range(12))
    assert all("rate_constants_R2" in r["metrics"] for r in all_runs)
    assert all(not any(o.startswith("simulation.") for o in r["overrides"]) for r in all_runs)
    text = (out / "analysis.md").read_text()
    assert text.count("## Iter ") == 12 and "Metrics: rate_constants_R2=" in text
    assert "# Block 2" in text
    res = yaml.safe_load((out / "optimization_results.yaml").read_text())
    space = compose_regime("tiny_metabolism").search_space
    assert res["reward_key"] == "rate_constants_R2"
    assert set(res["best_params"]) == set(space)  # the regime's own space
    for i in range(12):
        assert (out / str(i) / "metrics.json").exists()


def test_basic_launcher(tmp_path):
    check(sweep(tmp_path))


def test_joblib_two_workers(tmp_path):
    check(sweep(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"))
