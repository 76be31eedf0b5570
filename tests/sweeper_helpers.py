"""Running the toy Hydra app (tests/explore_app) as a real multirun in a subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = Path(__file__).resolve().parent / "explore_app" / "app.py"


def app_env(extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    # One thread per job: CI machines are small and jobs may run side by side (joblib).
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(extra or {})
    return env


def app_cmd(sweep_dir, *args, sweeper="ucb_llm"):
    return [sys.executable, str(APP), "-m", f"hydra.sweep.dir={sweep_dir}",
            f"hydra/sweeper={sweeper}", *args]


def run_app(sweep_dir, *args, sweeper="ucb_llm", env=None, timeout=180):
    proc = subprocess.run(app_cmd(sweep_dir, *args, sweeper=sweeper), cwd=Path(sweep_dir).parent,
                          env=app_env(env), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def tree(sweep_dir):
    return json.loads((Path(sweep_dir) / "ucb_llm_tree.json").read_text())


def runs(sweep_dir):
    return sorted((r for n in tree(sweep_dir)["nodes"].values() for r in n["runs"]),
                  key=lambda r: r["iteration"])
