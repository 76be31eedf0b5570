"""Entry point: ``python -m neuralgraph.train +regime=NAME [key=value ...]`` (``-m`` for sweeps).

One run: load or simulate the regime's dataset (cached by config hash) → build the family's GNN →
train → evaluate against the truth → write the run directory (see :mod:`neuralgraph.rundir`).
The task function returns the metrics dict, which is what a sweeper reads.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from neuralgraph import rundir
from neuralgraph.config import RunConfig, register_configs
from neuralgraph.datacache import load_or_simulate
from neuralgraph.errors import ConfigError, NeuralGraphError
from neuralgraph.family import get_family
from neuralgraph.io import atomic_path
from neuralgraph.trainer import train

log = logging.getLogger("neuralgraph.train")
register_configs()

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def available_regimes() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "regime").glob("*.yaml"))


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when present, else CPU; ``cuda`` without a GPU is an error, not a fallback."""
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device=cuda but torch sees no CUDA device; use device=cpu or device=auto")
        return torch.device("cuda")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device("cpu")


def typed(cfg: DictConfig) -> RunConfig:
    """The composed config as its dataclasses; each block's range checks run here."""
    if OmegaConf.is_missing(cfg, "regime"):
        raise ConfigError(f"no regime given: add +regime=NAME, one of: {', '.join(available_regimes())}")
    return OmegaConf.to_object(cfg)


#: A primary metric above this is "converged"; an oracle below it makes the run "data_limited".
CONVERGED = 0.9


def status_of(primary: float, diverged: bool, oracle: float | None = None) -> str:
    """converged (> 0.9) / partial / failed (< 0.1) on the primary metric, or diverged.

    ``data_limited`` when the known-law oracle on the same data (``oracle_<primary>``) is itself
    at or below the convergence threshold and the learner did not converge either: the data, not
    the learner, are what is missing.
    """
    if diverged:
        return "diverged"
    good = primary is not None and math.isfinite(primary) and primary > CONVERGED
    if not good and oracle is not None and math.isfinite(oracle) and oracle <= CONVERGED:
        return "data_limited"
    if primary is None or not math.isfinite(primary) or primary < 0.1:
        return "failed"
    return "converged" if primary > CONVERGED else "partial"


def run(cfg: DictConfig | RunConfig, run_dir: str | Path) -> dict[str, Any]:
    """Simulate/load, train, evaluate and write ``run_dir``; return the metrics."""
    run_dir = Path(run_dir)
    config_yaml = OmegaConf.to_yaml(cfg, resolve=True)
    if isinstance(cfg, DictConfig):
        cfg = typed(cfg)
    family = get_family(cfg.simulation.family)
    family.check(cfg)
    primary_metric = family.primary_metric(cfg)
    device = resolve_device(cfg.device.value)
    if cfg.num_threads > 0:
        torch.set_num_threads(int(cfg.num_threads))
    torch.manual_seed(int(cfg.training.seed))
    np.random.seed(int(cfg.training.seed) % 2**32)

    t0 = time.perf_counter()
    arrays, data_dir, cached = load_or_simulate(cfg.cache_dir, family.name, cfg.simulation, family.simulate)
    sim_seconds = time.perf_counter() - t0
    log.info("dataset %s (%s, %.1f s)", data_dir, "cached" if cached else "simulated", sim_seconds)

    model, data = family.build(arrays, cfg, device)

    def checkpoint(m: torch.nn.Module, step: int) -> None:
        with atomic_path(run_dir / rundir.MODEL_PT) as tmp:
            torch.save({"state_dict": m.state_dict(), "config": config_yaml, "step": step}, tmp)

    result = train(family, model, data, arrays, cfg, device, progress=cfg.progress, checkpoint=checkpoint,
                   primary_metric=primary_metric)
    diverged = result.status == "diverged"

    metrics: dict[str, Any] = {}
    results: dict[str, np.ndarray] = {}
    if not diverged:
        metrics, results = family.evaluate(model, arrays, cfg, device)
    primary = metrics.get(primary_metric, float("nan"))
    summary = {
        "status": status_of(primary, diverged, metrics.get(f"oracle_{primary_metric}")),
        primary_metric: primary,
        **metrics,
        "final_loss": result.final_loss,
        "training_time_min": result.seconds / 60.0,
        "n_steps": result.n_steps,
        "device": str(device),
        "dataset": data_dir.name,
        "error": result.error,
    }
    checkpoint(model, result.n_steps)
    if results:
        rundir.write_results(run_dir, results)
    rundir.write_metrics(run_dir, summary)
    if cfg.plots and results:
        try:
            family.plot(arrays, results, summary, result.history, run_dir / rundir.PLOTS_DIR, cfg)
        except Exception as err:  # a figure bug must not throw away the trained model and metrics
            log.warning("plotting failed: %s: %s", type(err).__name__, err)
            summary["plots_error"] = f"{type(err).__name__}: {err}"
            rundir.write_metrics(run_dir, summary)
    log.info(
        "%s: %s=%.4f status=%s (%.1f min)", cfg.regime, primary_metric, primary,
        summary["status"], summary["training_time_min"],
    )
    if summary["status"] == "data_limited":
        log.warning("data-limited: the known-law oracle reaches only %s=%.4f on these data%s", primary_metric,
                    metrics[f"oracle_{primary_metric}"], f" ({metrics['data_limited_reason']})"
                    if metrics.get("data_limited_reason") else "")
    return summary


def _is_multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> dict[str, Any]:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        return run(cfg, run_dir)
    except Exception as err:
        # The run directory says what happened even when the run did not finish.
        rundir.write_metrics(run_dir, {"status": "failed", "error": f"{type(err).__name__}: {err}"})
        if isinstance(err, NeuralGraphError) and not _is_multirun():
            log.error("%s", err)
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
