"""Launching a round's jobs through Hydra's launcher, and resuming the jobs a kill left pending.

Every decision is saved in the tree *before* jobs start, job numbers included, so a killed sweep
resumes. A pending run is settled from what its job left behind: a job still running (its
liveness marker, see :mod:`.liveness`) is waited for, not launched again; a job that wrote
``metrics.json`` is read back from its run directory; a job that ended by raising is recorded as
failed; the others are launched again under new job numbers. Nothing finished is repeated and no
directory is reused.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import yaml
from omegaconf import DictConfig

from .candidates import Candidate
from .liveness import is_running, job_markers, read_marker
from .recording import Recorder
from .regimes import RegimeCatalogue
from .tree import Node, Run, TreeState

log = logging.getLogger(__name__)

Launch = Callable[[list[list[str]], int], Sequence[Any]]  # (batch of overrides, first job number)
POLL_S = 2.0  # how often a resumed sweep looks at the jobs it waits for


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
                  overrides=overrides, reward_key=info.reward_key)
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
        for (_, run), ret in zip(runs, returns):
            self.recorder.record(state, run, ret)
        self.recorder.after_round(state)

    # ---- resume ----------------------------------------------------------------------------
    def resume(self, state: TreeState) -> None:
        """Settle the pending runs of a killed sweep; wait for its jobs that still run."""
        pending = state.pending_runs()
        if not pending:
            return
        sweep_dir = self.recorder.sweep_dir
        markers = job_markers(sweep_dir)
        finished = finished_jobs(sweep_dir)
        waiting, rerun = [], []
        for node, run in pending:
            job_dir = markers.get(run.job_idx)
            record = read_marker(job_dir) if job_dir is not None else None
            if record is not None and is_running(record, float(self.conf.resume_stale_s)):
                run.working_dir = str(job_dir)
                waiting.append((node, run))
            elif not self._settle(state, run, job_dir, record, finished):
                rerun.append((node, run))
        rerun += self._wait(state, waiting)
        if rerun:
            log.info("ucb_llm: relaunching %d unfinished job(s)", len(rerun))
            self._execute(state, rerun)
        else:
            self.recorder.after_round(state)

    def _settle(self, state: TreeState, run: Run, job_dir: Optional[Path],
                record: Optional[dict[str, Any]],
                finished: dict[tuple[str, ...], tuple[str, dict[str, Any]]]) -> bool:
        """Record what a job that is not running left behind; False if it must run again."""
        if record is not None and record.get("state") == "failed":
            run.working_dir = str(job_dir)
            self.recorder.set_failed(state, run, str(record.get("error", "")))
            return True
        found = _metrics_in(job_dir) if job_dir is not None else None
        found = found or finished.get(tuple(run.overrides))
        if found is None and record is not None and record.get("state") == "done":
            result = record.get("result")  # the task's return value, kept by its marker
            if result is not None:
                key = run.reward_key or state.block_key
                found = (str(job_dir), result if isinstance(result, dict) else {key: result})
        if found is None:
            return False
        run.working_dir, metrics = found
        self.recorder.set_metrics(state, run, metrics)
        log.info("ucb_llm: iteration %d finished before the interruption; read back", run.iteration)
        return True

    def _wait(self, state: TreeState, waiting: list[tuple[Node, Run]]) -> list[tuple[Node, Run]]:
        """Poll the jobs still running until each ends; returns those that died unfinished."""
        if waiting:
            log.info("ucb_llm: %d job(s) of the interrupted sweep still running (iterations %s); "
                     "waiting for them instead of launching them again", len(waiting),
                     ", ".join(str(r.iteration) for _, r in waiting))
        dead = []
        stale_s = float(self.conf.resume_stale_s)
        while waiting:
            time.sleep(POLL_S)
            still = []
            for node, run in waiting:
                job_dir = Path(run.working_dir)
                record = read_marker(job_dir)
                if record is not None and is_running(record, stale_s):
                    still.append((node, run))
                elif not self._settle(state, run, job_dir, record, {}):
                    log.warning("ucb_llm: the job of iteration %d died unfinished; it runs again",
                                run.iteration)
                    run.working_dir = ""
                    dead.append((node, run))
            waiting = still
        return dead


def _metrics_in(job_dir: Path) -> Optional[tuple[str, dict[str, Any]]]:
    try:
        return str(job_dir), json.loads((Path(job_dir) / "metrics.json").read_text())
    except (OSError, ValueError):
        return None


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
