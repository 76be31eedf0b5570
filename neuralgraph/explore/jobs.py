"""Launching a round's jobs through Hydra's launcher, and resuming the jobs a kill left pending.

Every decision is saved in the tree *before* jobs start, job numbers included, so a killed sweep
resumes: a pending run whose job wrote ``metrics.json`` is read back from its run directory
(matched by its overrides), the others are launched again under new job numbers; nothing
finished is repeated and no directory is reused.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml
from omegaconf import DictConfig

from .candidates import Candidate
from .recording import Recorder
from .regimes import RegimeCatalogue
from .tree import Node, Run, TreeState

log = logging.getLogger(__name__)

Launch = Callable[[list[list[str]], int], Sequence[Any]]  # (batch of overrides, first job number)


class JobRunner:
    """Turns candidates into runs of the tree and runs them with the configured launcher."""

    def __init__(self, conf: DictConfig, regimes: RegimeCatalogue, recorder: Recorder,
                 launch: Launch) -> None:
        self.conf = conf
        self.regimes = regimes
        self.recorder = recorder
        self.launch = launch

    def run_round(self, state: TreeState, candidates: list[Candidate]) -> None:
        runs = [self._add_run(state, cand) for cand in candidates]
        self._execute(state, runs)

    def _add_run(self, state: TreeState, cand: Candidate) -> tuple[Node, Run]:
        """A new node (or the replicated one) with a new pending run; a replicate's run gets
        the next training seed."""
        info = self.regimes.of_block(state)
        state.iteration += 1
        if cand.replicate_of is not None:
            node = state.nodes[cand.replicate_of]
        else:
            node = Node(id=state.iteration, parent=cand.parent, block=state.block,
                        config=cand.config, mutation=cand.mutation, changed=cand.changed,
                        strategy=cand.strategy, rationale=cand.rationale,
                        proposer=cand.proposer, fallback=cand.fallback, parent_rule=cand.rule)
            state.nodes[node.id] = node
        seed = None
        if node.runs and info.seed is not None:
            seed = info.seed + len(node.runs)
        overrides = self.regimes.job_overrides(state, node.config)
        if seed is not None:
            overrides.append(f"{self.conf.seed_key}={seed}")
        run = Run(iteration=state.iteration, job_idx=-1, seed=seed if seed is not None else info.seed,
                  overrides=overrides)
        if cand.replicate_of is not None:
            run.note = "; ".join(x for x in (cand.rationale, cand.rule, cand.fallback) if x)
        node.runs.append(run)
        return node, run

    def _execute(self, state: TreeState, runs: list[tuple[Node, Run]]) -> None:
        first = state.job_idx
        for i, (_, run) in enumerate(runs):
            run.job_idx = first + i
        # Job numbers are reserved before the plan is saved: a resumed sweep never reuses the
        # directory of a job that may have started.
        state.job_idx += len(runs)
        self.recorder.save(state)
        batch = [list(run.overrides) for _, run in runs]
        returns = self.launch(batch, first)
        failures = []
        for (_, run), ret in zip(runs, returns):
            self.recorder.record(state, run, ret)
            if run.status == "failed":
                failures.append(ret)
        self.recorder.after_round(state)
        if runs and len(failures) / len(runs) > float(self.conf.max_failure_rate):
            failures[0].return_value  # re-raises the job's own exception with its traceback

    def resume(self, state: TreeState) -> None:
        """Read back the pending runs that finished before the kill; launch the others again."""
        pending = state.pending_runs()
        if not pending:
            return
        finished = finished_jobs(self.recorder.sweep_dir)
        rerun = []
        for node, run in pending:
            found = finished.get(tuple(run.overrides))
            if found is not None:
                run.working_dir, metrics = found
                self.recorder.set_metrics(state, run, metrics)
                log.info("ucb_llm: iteration %d finished before the interruption; read back",
                         run.iteration)
            else:
                rerun.append((node, run))
        if rerun:
            log.info("ucb_llm: relaunching %d unfinished job(s)", len(rerun))
            self._execute(state, rerun)
        else:
            self.recorder.after_round(state)


def finished_jobs(sweep_dir: Path) -> dict[tuple[str, ...], tuple[str, dict[str, Any]]]:
    """(directory, metrics) of each run under the sweep holding ``metrics.json``, by overrides."""
    out = {}
    for metrics_file in Path(sweep_dir).glob("**/metrics.json"):
        overrides_file = metrics_file.parent / ".hydra" / "overrides.yaml"
        if not overrides_file.exists():
            continue
        try:
            overrides = tuple(yaml.safe_load(overrides_file.read_text()) or [])
            metrics = json.loads(metrics_file.read_text())
        except (OSError, ValueError, yaml.YAMLError):
            continue  # half-written: the job will run again
        out[overrides] = (str(metrics_file.parent), metrics)
    return out
