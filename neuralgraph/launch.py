"""Start training runs from Python the way a user does from the shell, and read them back.

    proc = start(run_dir, "oscillatory_rank50", "training.lr_k=1e-2")   # non-blocking
    metrics = finish(proc, run_dir)                                    # wait, then metrics.json
    metrics = run(run_dir, "tiny_metabolism")                          # both at once
    cfg = compose_regime("oscillatory_rank50", "training.lr_k=1e-2")     # the config, in-process

Each run is ``python -m neuralgraph.train +regime=REGIME OVERRIDES hydra.run.dir=RUN_DIR`` in a
child process (so several can run side by side), with one CPU thread and no progress bar. A
finished run already in ``run_dir`` is reused rather than trained again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from neuralgraph import resources
from neuralgraph.config import register_configs
from neuralgraph.rundir import METRICS_JSON, RESULTS_NPZ, read_metrics


def compose_regime(regime: str, *overrides: str) -> DictConfig:
    """The config ``python -m neuralgraph.train +regime=REGIME OVERRIDES`` would run with."""
    register_configs()
    with initialize_config_dir(config_dir=resources.CONF_SEARCH_PATH, version_base="1.3"):
        return compose("config", overrides=[f"+regime={regime}", *overrides])


def is_finished(run_dir: str | os.PathLike) -> bool:
    run_dir = Path(run_dir)
    return (run_dir / RESULTS_NPZ).exists() and (run_dir / METRICS_JSON).exists()


def start(run_dir: str | os.PathLike, regime: str, *overrides: str) -> subprocess.Popen | None:
    """Start one training run; ``None`` when a finished run is already in ``run_dir``."""
    run_dir = Path(run_dir)
    if is_finished(run_dir):
        print(f"reusing {run_dir}")
        return None
    cmd = [sys.executable, "-m", "neuralgraph.train", f"+regime={regime}", "progress=false",
           "num_threads=1", *overrides, f"hydra.run.dir={run_dir}"]
    env = dict(os.environ)
    checkout = resources.source_checkout()
    if checkout is not None:  # run from a source tree: the child imports the same package and plugins
        env["PYTHONPATH"] = os.pathsep.join([str(checkout), os.environ.get("PYTHONPATH", "")])
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen | None, run_dir: str | os.PathLike) -> dict[str, Any]:
    """Wait for ``proc`` (if any) and return the run's metrics; raise with its stderr on failure."""
    if proc is not None:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(proc.args)} failed:\n{err[-3000:]}")
    return read_metrics(run_dir)


def run(run_dir: str | os.PathLike, regime: str, *overrides: str) -> dict[str, Any]:
    """Train (or reuse) one run and return its metrics."""
    return finish(start(run_dir, regime, *overrides), run_dir)
