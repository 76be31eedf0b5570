"""A second data source written outside the package: found through ``NEURALGRAPH_SOURCES``,
chosen with ``data=replay``, and run by the unchanged pipeline. Nothing outside this folder names it.

The replayed file is the dataset the simulated source cached, so the two runs must agree bit for
bit; replayed without its truth, the run is scored by the family's truth-free scorer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FAST = ("progress=false", "plots=false", "device=cpu", "num_threads=1", "resume=false",
        "training.data_augmentation_loop=5")


def run(run_dir: Path, cache: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, NEURALGRAPH_SOURCES="replay", NEURALGRAPH_CACHE=str(cache), OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(HERE), str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "neuralgraph.train", "+regime=tiny_signal", *FAST, *overrides,
                           f"hydra.run.dir={run_dir}"], cwd=run_dir.parent, env=env, capture_output=True, text=True,
                          timeout=300)


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def test_a_second_source_is_one_folder(tmp_path):
    cache = tmp_path / "cache"
    simulated = run(tmp_path / "simulated", cache)
    assert simulated.returncode == 0, simulated.stderr[-3000:]
    (dataset,) = cache.glob("datasets/signal-*/data.npz")

    replayed = run(tmp_path / "replayed", cache, "data=replay", f"data.path={dataset}")
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    a, b = metrics(tmp_path / "simulated"), metrics(tmp_path / "replayed")
    timing = {"training_time_min", "dataset"}
    assert {k: v for k, v in a.items() if k not in timing} == {k: v for k, v in b.items() if k not in timing}
    assert b["dataset"] == "data.npz"

    # Without its truth, the same data are scored truth-free, and a truth reward is refused.
    refused = run(tmp_path / "blind", cache, "data=replay", f"data.path={dataset}", "data.has_truth=false")
    assert refused.returncode == 2 and "reward_key=connectivity_R2 needs a ground truth" in refused.stdout + refused.stderr


def test_a_bad_source_block_names_the_key(tmp_path):
    proc = run(tmp_path / "bad", tmp_path / "cache", "data=replay", "data.path=traces.csv")
    assert proc.returncode == 2 and "data=replay reads a .npz file" in proc.stdout + proc.stderr
