"""Running the toy Hydra app (tests/explore_app) as a real multirun in a subprocess, and the
typed config, fake launcher and sweeper config of the in-process loop tests."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from neuralgraph.explore.config import UCBLLMSweeperConf

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


# ---- in-process sweeps -----------------------------------------------------------------------
@dataclass
class Training:
    lr_k: float = 1e-3
    batch_size: int = 8
    seed: int = 0


@dataclass
class Cfg:
    regime: str = "typed"
    reward_key: str = "score"
    training: Training = field(default_factory=Training)
    search_space: dict = field(default_factory=lambda: {
        "training.lr_k": "tag(log, interval(1e-4, 1e-2))", "training.batch_size": "choice(4, 8, 16)"})


def compose(overrides):
    cfg = OmegaConf.structured(Cfg)
    cfg.merge_with_dotlist([o for o in overrides if not o.startswith("+")])
    return cfg


def bowl(cfg):
    """The fake task's metrics: a peak at lr_k = 3e-3, a hair of seed dependence."""
    score = 1.0 - abs(cfg.training.lr_k - 3e-3) * 100 + 0.001 * cfg.training.seed
    return {"score": score, "test_pearson": 0.99}


def launcher(log, task=bowl, compose=compose):
    """A launcher that runs ``task(cfg)`` in process; a task that raises makes a failed job."""
    def launch(batch, idx):
        out = []
        for overrides in batch:
            log.append(list(overrides))
            try:
                ret = JobReturn(overrides=overrides, status=JobStatus.COMPLETED,
                                _return_value=task(compose(overrides)))
            except Exception as exc:
                ret = JobReturn(overrides=overrides, status=JobStatus.FAILED, _return_value=exc)
            out.append(ret)
        return out
    return launch


def conf(**kw):
    c = OmegaConf.structured(UCBLLMSweeperConf)
    c.proposer = {"name": "heuristic"}
    for k, v in kw.items():
        c[k] = v
    return c
