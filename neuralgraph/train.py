"""Entry point: ``python -m neuralgraph.train +regime=NAME [key=value ...]`` (``-m`` for sweeps).

One run composes three parts: the ``data`` block's source yields the dataset
(:mod:`neuralgraph.sources`: simulated and cached by config hash, or a recording file), the
family's learner builds the GNN and the shared trainer fits it, and the scorer that fits the data
(against the truth, or truth-free: :func:`neuralgraph.family.scorer_for`) reads the parameters out;
then the run directory is written (see :mod:`neuralgraph.rundir`). The regime's ``reward_key`` is
the one metric the run's status is judged on and a sweeper reads from the returned metrics.

A run continues from its run directory's checkpoint when ``resume`` says so
(:mod:`neuralgraph.checkpoint`); SIGINT/SIGTERM stop it with a checkpoint, ``status: interrupted``
and the shell's exit code (:mod:`neuralgraph.signals`); its learning curves go to ``metrics.csv``
and, on request, TensorBoard (:mod:`neuralgraph.curves`).
"""

from __future__ import annotations

import dataclasses
import difflib
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

from neuralgraph import checkpoint, resources, rundir
from neuralgraph.config import RunConfig, register_configs
from neuralgraph.config.vocabulary import renamed_keys, renamed_message
from neuralgraph.curves import CurveLog
from neuralgraph.errors import ConfigError, NeuralGraphError
from neuralgraph.family import Scorer, get_family, scorer_for
from neuralgraph.signals import Interrupted, StopSignals
from neuralgraph.sources import source_for
from neuralgraph.trainer import Hooks, TrainResult, train

log = logging.getLogger("neuralgraph.train")
register_configs()


def available_regimes() -> list[str]:
    return resources.regime_names()


def resolve_device(name: str, job_num: int | None = None) -> torch.device:
    """``auto`` → CUDA when present (job ``job_num`` of a sweep on GPU ``job_num mod count``, so
    parallel jobs spread over the visible GPUs), else CPU; ``cuda`` or ``cuda:N`` without that GPU
    is an error, not a fallback."""
    if name == "cpu":
        return torch.device("cpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if name == "auto":
        if count == 0:
            return torch.device("cpu")
        return torch.device("cuda" if job_num is None or count == 1 else f"cuda:{job_num % count}")
    if count == 0:
        raise ConfigError(f"device={name} but torch sees no CUDA device; use device=cpu or device=auto")
    index = name.partition(":")[2]
    if index and int(index) >= count:
        raise ConfigError(f"device={name} but torch sees {count} CUDA device(s), cuda:0 to cuda:{count - 1} "
                          "(CUDA_VISIBLE_DEVICES renumbers them)")
    return torch.device(name)


def unknown_keys(node: Any, prefix: str = "") -> list[str]:
    """Dotted keys that no schema declares: ``+training.lr_kk=1`` adds one, and OmegaConf would keep
    it as a stray attribute that nothing reads."""
    if not isinstance(node, DictConfig) or node._is_missing() or node._is_none():
        return []
    schema = OmegaConf.get_type(node)
    fields = {f.name for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(schema) else None
    out = []
    for key in node.keys():
        name = f"{prefix}{key}"
        if fields is not None and key not in fields:
            close = difflib.get_close_matches(str(key), sorted(fields), n=1)
            out.append(renamed_message(name) or name + (f" (did you mean {prefix}{close[0]}?)" if close else ""))
        else:
            out.extend(unknown_keys(node._get_node(key), f"{name}."))
    return out


def typed(cfg: DictConfig) -> RunConfig:
    """The composed config as its dataclasses; each block's range checks run here."""
    if OmegaConf.is_missing(cfg, "regime"):
        raise ConfigError(f"no regime given: add +regime=NAME, one of: {', '.join(available_regimes())}")
    unknown = unknown_keys(cfg)
    if unknown:
        raise ConfigError(f"no such key in the schema: {', '.join(unknown)}")
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


def run(cfg: DictConfig | RunConfig, run_dir: str | Path, job_num: int | None = None) -> dict[str, Any]:
    """Simulate/load, train, evaluate and write ``run_dir``; return the metrics.

    SIGINT/SIGTERM stop the run after the step in progress with a checkpoint and ``metrics.json``
    saying ``status: interrupted``, then raise :class:`~neuralgraph.signals.Interrupted` (a
    ``KeyboardInterrupt``). ``job_num`` is the job's index in a sweep (it picks the GPU).
    """
    run_dir = Path(run_dir)
    config_yaml = OmegaConf.to_yaml(cfg, resolve=True)
    if isinstance(cfg, DictConfig):
        cfg = typed(cfg)
    config_yaml += checkpoint.inputs_yaml(cfg)
    with StopSignals() as stop:
        try:
            return _run(cfg, run_dir, config_yaml, stop, job_num)
        except Interrupted as err:
            rundir.write_metrics(run_dir, {"status": "interrupted", "error": err.describe(), "n_steps": err.step})
            err.forward()  # under submitit: its own handler requeues the job
            raise


def _run(cfg: RunConfig, run_dir: Path, config_yaml: str, stop: StopSignals, job_num: int | None) -> dict[str, Any]:
    family, source = get_family(cfg.simulation.family), source_for(cfg.data)
    family.check(cfg)
    source.check(cfg, family)
    device = resolve_device(cfg.device, job_num)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)  # so that a bare "cuda" anywhere means this GPU too
    if cfg.num_threads > 0:
        torch.set_num_threads(int(cfg.num_threads))
    curves = CurveLog(run_dir, cfg.reward_key, cfg.tensorboard, cfg.log_every, cfg.progress)
    resume = checkpoint.to_resume(cfg.resume, run_dir, config_yaml)
    torch.manual_seed(int(cfg.training.seed))
    np.random.seed(int(cfg.training.seed) % 2**32)

    t0 = time.perf_counter()
    dataset = source.load(cfg, family)
    log.info("dataset %s (%s, %.1f s)", dataset.location, dataset.how, time.perf_counter() - t0)
    scorer = scorer_for(family, dataset.has_truth)
    scorer.check_scoring(cfg)
    arrays = dataset.arrays

    model, data = family.build(arrays, cfg, device)
    if resume is not None:
        model.load_state_dict(resume["state_dict"])
    hooks = Hooks(
        checkpoint=lambda state: checkpoint.save(run_dir / rundir.MODEL_PT, model, config_yaml, state),
        on_record=curves, stop=stop,
    )
    try:
        result = train(family, model, data, lambda m: scorer.live_metric(m, arrays), cfg, device,
                       progress=cfg.progress, live_name=cfg.reward_key, hooks=hooks,
                       resume=None if resume is None else resume["training"])
    finally:
        curves.close()
    stop.trained_steps = result.n_steps
    summary, results = _evaluate(scorer, model, arrays, cfg, device, result)
    summary["dataset"] = dataset.location.name
    summary["error"] = result.error
    _write(scorer, arrays, results, summary, result.history, run_dir, cfg)
    return summary


def _evaluate(scorer: Scorer, model: torch.nn.Module, arrays: dict[str, np.ndarray], cfg: RunConfig,
              device: torch.device, result: TrainResult) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metrics of ``metrics.json`` and the arrays of ``results.npz`` (none after a divergence)."""
    diverged = result.status == "diverged"
    reward_key = cfg.reward_key
    metrics: dict[str, Any] = {}
    results: dict[str, np.ndarray] = {}
    if not diverged:
        metrics, results = scorer.evaluate(model, arrays, cfg, device)
    primary = metrics.get(reward_key, float("nan"))
    summary = {
        "status": status_of(primary, diverged, metrics.get(f"oracle_{reward_key}")),
        reward_key: primary,
        **metrics,
        "final_loss": result.final_loss,
        "training_time_min": result.seconds / 60.0,
        "n_steps": result.n_steps,
        "device": str(device),
    }
    log.info(
        "%s: %s=%.4f status=%s (%.1f min)", cfg.regime, reward_key, primary,
        summary["status"], summary["training_time_min"],
    )
    if summary["status"] == "data_limited":
        log.warning("data-limited: the known-law oracle reaches only %s=%.4f on these data%s", reward_key,
                    metrics[f"oracle_{reward_key}"], f" ({metrics['data_limited_reason']})"
                    if metrics.get("data_limited_reason") else "")
    return summary, results


def _write(scorer: Scorer, arrays: dict[str, np.ndarray], results: dict[str, np.ndarray], summary: dict[str, Any],
           history: dict[str, list], run_dir: Path, cfg: RunConfig) -> None:
    if results:
        rundir.write_results(run_dir, results)
    rundir.write_metrics(run_dir, summary)
    if cfg.plots and results:
        try:
            scorer.plot(arrays, results, summary, history, run_dir / rundir.PLOTS_DIR, cfg)
        except Exception as err:  # a figure bug must not throw away the trained model and metrics
            log.warning("plotting failed: %s: %s", type(err).__name__, err)
            summary["plots_error"] = f"{type(err).__name__}: {err}"
            rundir.write_metrics(run_dir, summary)

def _is_multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


def _stopped(err: Interrupted, run_dir: Path) -> None:
    """One line in the job log, then the shell's exit code for the signal (130, 143, ...)."""
    how = ("" if err.step is None else f"; checkpoint saved in {run_dir / rundir.MODEL_PT}: continue with "
           f"resume=true hydra.run.dir={run_dir} (in a sweep: the same command)")
    log.error("%s%s", err.describe(), how)
    sys.exit(err.exit_code)


@hydra.main(config_path=resources.CONF_SEARCH_PATH, config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> dict[str, Any]:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    multirun = _is_multirun()
    try:
        return run(cfg, run_dir, job_num=HydraConfig.get().job.num if multirun else None)
    except Interrupted as err:
        _stopped(err, run_dir)
    except Exception as err:
        # The run directory says what happened even when the run did not finish.
        rundir.write_metrics(run_dir, {"status": "failed", "error": f"{type(err).__name__}: {err}"})
        if isinstance(err, NeuralGraphError) and not multirun:
            log.error("%s", err)
            sys.exit(2)
        raise


def refuse_former_keys(argv: list[str]) -> None:
    """Exit with one line when a command-line override names a renamed key (``training.lr_siren=…``):
    Hydra would refuse it at composition with advice to add it as a new key."""
    messages = renamed_keys(arg.split("=", 1)[0] for arg in argv if "=" in arg and not arg.startswith("-"))
    if messages:
        print(f"Error: {'; '.join(messages)}", file=sys.stderr)
        sys.exit(2)


def cli() -> None:
    """``python -m neuralgraph.train``: the Hydra app, after the check of former key names."""
    refuse_former_keys(sys.argv[1:])
    main()


if __name__ == "__main__":
    cli()
