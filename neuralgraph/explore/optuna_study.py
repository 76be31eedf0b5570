"""An Optuna study over a regime's own search space, run through Hydra's launcher.

The loop behind ``hydra/sweeper=optuna``: each round asks the study for ``n_jobs`` trials, turns
each into the job's overrides, launches them with the configured launcher, and tells the study
the regime's reward key read out of the task's metrics dict (a job that raised, or whose reward
is missing or not finite, is a failed trial). The search space is the same grammar ``ucb_llm``
reads (:mod:`.space`), taken from the regime's ``search_space`` unless ``params`` replaces it.

A study with ``storage`` (e.g. ``sqlite:///study.db``) is resumed by the same command:
``n_trials`` is the study's total, so a killed sweep runs only the trials it still owes; the
trials it left running are marked failed ("interrupted") and their parameters are asked again.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml
from omegaconf import DictConfig, OmegaConf

from .errors import SweepError
from .recording import MIN_RUNS_FOR_FAILURE_RATE
from .regimes import split_arguments
from .space import Dimension, SearchSpace, fmt, parse_space
from .text import capped

log = logging.getLogger(__name__)

Launch = Callable[[list[list[str]], int], Sequence[Any]]


def distribution(dim: Dimension) -> Any:
    """The Optuna distribution of one search-space dimension."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if dim.kind == "interval":
        if dim.integer:
            return IntDistribution(int(dim.low), int(dim.high), log=dim.log)
        return FloatDistribution(dim.low, dim.high, log=dim.log)
    if dim.kind == "range" and dim.integer and len(dim.choices) > 1:
        step = int(dim.choices[1]) - int(dim.choices[0])
        if all(int(b) - int(a) == step for a, b in zip(dim.choices, dim.choices[1:])):
            return IntDistribution(int(dim.low), int(dim.high), step=abs(step))
    return CategoricalDistribution(list(dim.choices))


def override_value(value: Any) -> str:
    """A trial's value as override text; floats at full precision (the study keeps them so)."""
    return repr(float(value)) if isinstance(value, float) else fmt(value)


class OptunaStudy:
    """One sweep: resolves the regime's space, key, direction and study, then runs the trials."""

    def __init__(self, conf: DictConfig, sweep_dir: Path, arguments: Sequence[str],
                 launch: Launch, compose: Callable[[list[str]], DictConfig],
                 sampler: Any = None) -> None:
        self.conf = conf
        self.sampler = sampler  # an optuna sampler; None: TPE
        self.sweep_dir = Path(sweep_dir)
        self.launch = launch
        self.base_args, cli_space = split_arguments(arguments)
        cfg = compose(self.base_args)
        self.regime = str(OmegaConf.select(cfg, "regime", default=None) or "study")
        params = conf.params if conf.params is not None else OmegaConf.select(cfg, "search_space")
        params = OmegaConf.to_container(params, resolve=True) if OmegaConf.is_config(params) else params
        self.space: SearchSpace = parse_space({**(params or {}), **cli_space})
        if not self.space.dims:
            raise SweepError("optuna: empty search space; pick a regime (+regime=...) with a "
                             "`search_space`, or set hydra.sweeper.params")
        self.reward_key = str(conf.reward_key or OmegaConf.select(cfg, "reward_key", default="") or "")
        if not self.reward_key:
            raise SweepError("optuna: no reward key; set `reward_key` in the regime or "
                             "hydra.sweeper.reward_key")
        direction = conf.direction or OmegaConf.select(cfg, "direction", default=None) or "maximize"
        if direction not in ("maximize", "minimize"):
            raise SweepError(f"optuna: direction must be maximize or minimize, got {direction!r} "
                             "(one objective: the regime's reward key)")
        self.direction = str(direction)

    # ---- the study -------------------------------------------------------------------------
    def run(self) -> Any:
        import optuna

        name = self.conf.study_name or (self.regime if self.conf.storage else None)
        study = optuna.create_study(study_name=name, storage=self.conf.storage, sampler=self.sampler,
                                    direction=self.direction, load_if_exists=True)
        self._requeue_interrupted(study)
        dists = {k: distribution(d) for k, d in self.space.dims.items()}
        job_idx = _next_job_number(self.sweep_dir)
        while (owed := int(self.conf.n_trials) - _counted(study)) > 0:
            trials = [study.ask(dists) for _ in range(min(int(self.conf.n_jobs), owed))]
            for i, t in enumerate(trials):
                t.set_user_attr("sweeper", {"host": socket.gethostname(), "pid": os.getpid()})
                t.set_user_attr("job", job_idx + i)
            returns = self.launch([self._overrides(t.params) for t in trials], job_idx)
            for trial, ret in zip(trials, returns):
                self._tell(study, trial, ret)
            job_idx += len(trials)
            self._check_failures(study)
        self._write_results(study)
        return study

    def _overrides(self, params: dict[str, Any]) -> list[str]:
        fixed = [f"{k}={v}" for k, v in sorted(self.space.fixed.items())]
        return list(self.base_args) + fixed + [f"{k}={override_value(v)}" for k, v in sorted(params.items())]

    def _tell(self, study: Any, trial: Any, ret: Any) -> None:
        from hydra.core.utils import JobStatus
        from optuna.trial import TrialState

        value, error = math.nan, ""
        if ret.status == JobStatus.COMPLETED:
            out = ret.return_value
            raw = out.get(self.reward_key) if isinstance(out, dict) else out
            try:
                value = float(raw)
            except (TypeError, ValueError):
                value = math.nan
            if not math.isfinite(value):
                error = f"{self.reward_key} is missing or not finite in the job's metrics"
        else:
            try:
                ret.return_value
            except Exception as exc:  # the job's own exception
                error = f"{type(exc).__name__}: {exc}"
        if error:
            trial.set_user_attr("error", capped(error, 500))
            log.warning("optuna: trial %d failed: %s", trial.number, capped(error, 300))
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, value)

    def _requeue_interrupted(self, study: Any) -> None:
        """Trials a killed sweeper on this host left RUNNING: failed, and asked again."""
        from optuna.trial import TrialState

        from .liveness import is_running

        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner = t.user_attrs.get("sweeper") or {}
            alive = {"state": "running", "host": owner.get("host"), "pid": owner.get("pid", -1),
                     "age_s": 0.0}
            if owner.get("host") != socket.gethostname() or is_running(alive, stale_s=1.0):
                continue  # another machine's worker, or a sweeper still alive
            study.tell(t.number, state=TrialState.FAIL)  # no "error" attribute: interrupted
            study.enqueue_trial(t.params, skip_if_exists=False)
            log.info("optuna: trial %d was interrupted; its parameters are asked again", t.number)

    def _check_failures(self, study: Any) -> None:
        from optuna.trial import TrialState

        done = [t for t in study.get_trials(deepcopy=False) if _counts(t)]
        failed = [t for t in done if t.state == TrialState.FAIL]
        rate = float(self.conf.max_failure_rate)
        enough = len(done) >= min(MIN_RUNS_FOR_FAILURE_RATE, int(self.conf.n_trials))
        if done and enough and len(failed) / len(done) > rate:
            first = failed[0].user_attrs.get("error", "no error text")
            raise SweepError(f"optuna: {len(failed)} of {len(done)} trials failed (first error: "
                             f"{first}), more than max_failure_rate={rate:g}; the sweep stops")

    def _write_results(self, study: Any) -> None:
        from optuna.trial import TrialState

        from neuralgraph.io import write_text

        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not complete:
            raise SweepError("optuna: no trial finished with a finite reward; nothing to report")
        best = study.best_trial
        data = {"name": "optuna", "study_name": study.study_name, "reward_key": self.reward_key,
                "direction": self.direction, "n_trials": len(study.trials),
                "failed_trials": sum(t.state == TrialState.FAIL for t in study.trials),
                "best_trial": best.number, "best_value": float(best.value),
                "best_params": {k: best.params[k] for k in sorted(best.params)}}
        write_text(self.sweep_dir / "optimization_results.yaml", yaml.safe_dump(data, sort_keys=False))
        log.info("optuna: best trial %d: %s=%.4g", best.number, self.reward_key, best.value)


def _counts(trial: Any) -> bool:
    """A finished trial that used up budget: a result, or a failure with its error. A failed
    trial without an error is one a killed sweep left running: it is asked again instead."""
    from optuna.trial import TrialState

    if not trial.state.is_finished():
        return False
    return trial.state != TrialState.FAIL or "error" in trial.user_attrs


def _counted(study: Any) -> int:
    return sum(1 for t in study.get_trials(deepcopy=False) if _counts(t))


def _next_job_number(sweep_dir: Path) -> int:
    """One past the highest numbered job directory already in the sweep directory."""
    numbers = [int(p.name) for p in Path(sweep_dir).iterdir() if p.is_dir() and p.name.isdigit()] \
        if Path(sweep_dir).is_dir() else []
    return max(numbers, default=-1) + 1

