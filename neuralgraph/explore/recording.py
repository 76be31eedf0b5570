"""Recording a sweep: results into the tree, the tree to disk, the files users read.

The tree JSON is rewritten after every change that must survive a kill; ``analysis.md`` grows by
one entry per finished run, plus block headers and summaries; the other files
(``ucb_scores.txt``, ``memory.md``, ``tree.png``, ``optimization_results.yaml``) are rendered
again after every round.

Each run is scored by its own block's reward key. A run fails when its job raised or when that
key is missing or not finite; a failed run's reward is a placeholder below every finished run's
(:func:`failure_floor`), recomputed as results arrive, so a crash never outranks a genuine
result, however poor. When more than ``max_failure_rate`` of the jobs so far failed, or no job
finished at all, the sweep stops with :class:`~.errors.SweepError` saying so.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from . import render
from .calllog import CallLog
from .errors import SweepError
from .prompt import build_summary_prompt, load_instructions
from .proposers import Proposer, ProposerError
from .regimes import RegimeCatalogue
from .text import SUMMARY_CHARS, capped, one_line
from .tree import STATE_FILE, BlockSummary, LLMCall, Run, TreeState, load_state, save_state
from .ucb import select_parents

log = logging.getLogger(__name__)

MIN_RUNS_FOR_FAILURE_RATE = 4  # a first crash in a serial sweep is not yet "most jobs fail"


def failure_floor(rewards: list[float]) -> float:
    """A reward below every finished one: ``worst - max(best - worst, 0.1)`` (-1 before any)."""
    if not rewards:
        return -1.0
    worst, best = min(rewards), max(rewards)
    return worst - max(best - worst, 0.1)


class Recorder:
    """Owns the sweep directory's files and turns job outcomes into runs' rewards."""

    def __init__(self, conf: DictConfig, sweep_dir: Path, proposer: Proposer,
                 regimes: RegimeCatalogue, calls: CallLog) -> None:
        self.conf = conf
        self.sweep_dir = Path(sweep_dir)
        self.proposer = proposer
        self.regimes = regimes
        self.calls = calls
        self.state_path = self.sweep_dir / STATE_FILE
        self.analysis_path = self.sweep_dir / "analysis.md"

    # ---- the state file --------------------------------------------------------------------
    def load_or_start(self) -> TreeState:
        """The saved tree of a killed sweep, or a new one rooted in the first regime."""
        if self.state_path.exists():
            state = load_state(self.state_path)
            log.info("ucb_llm: resuming from %s at iteration %d", self.state_path, state.iteration)
            return state
        info = self.regimes.first()
        state = TreeState(regime=info.name, reward_key=info.reward_key,
                          base_overrides=list(self.regimes.base_args), block_regime=info.name,
                          block_reward_key=info.reward_key, block_base=dict(info.defaults))
        render.append_text(self.analysis_path, f"# ucb_llm exploration: {info.name}\n\n"
                           f"Reward: {info.reward_key}. Proposer: {self.proposer.name}.\n\n"
                           f"# Block 1: {info.name}\n\n")
        return state

    def save(self, state: TreeState) -> None:
        save_state(state, self.state_path)

    def write(self, state: TreeState) -> None:
        """The tree and every rendered file."""
        self.save(state)
        render.write_all(state, self.sweep_dir, self.conf.ucb_c, self.conf.ucb_formula,
                         int(self.conf.n_iter_block), str(self.conf.direction))

    def finish(self, state: TreeState) -> None:
        self.close_block(state, open_next=False)
        self.write(state)
        calls = [c for c in state.llm_calls if c.proposer == self.proposer.name]
        if calls or state.fallback_slots:
            log.info("ucb_llm: %s: %d call(s), %d failed; %d slot(s) filled by %s",
                     self.proposer.name, len(calls), sum(not c.ok for c in calls),
                     state.fallback_slots, self.proposer.fallback.name)
        best = state.best_node()
        if best is None:
            raise SweepError(f"ucb_llm: no job finished with a finite reward ({_failure_text(state)}); "
                             f"nothing to report (see {self.analysis_path})")
        log.info("ucb_llm: best node %d %s=%s", best.id, best.runs[0].reward_key or state.reward_key,
                 render.reward_text(best))

    # ---- results ---------------------------------------------------------------------------
    def record(self, state: TreeState, run: Run, ret: Any) -> None:
        """A launcher's JobReturn: a completed job's metrics, or a failure and its error text."""
        from hydra.core.utils import JobStatus

        # The job's output directory; `working_dir` is only the cwd when Hydra does not chdir.
        out = OmegaConf.select(ret.hydra_cfg, "hydra.runtime.output_dir", default=None) \
            if getattr(ret, "hydra_cfg", None) is not None else None
        run.working_dir = str(out or getattr(ret, "working_dir", "") or "")
        if ret.status == JobStatus.COMPLETED:
            value = ret.return_value
            key = run.reward_key or state.block_key
            self.set_metrics(state, run, dict(value) if isinstance(value, dict) else {key: value})
        else:
            try:
                ret.return_value
            except Exception as exc:  # the job's own exception, whatever it is
                run.error = f"{type(exc).__name__}: {exc}"
            self.set_failed(state, run, run.error)

    def set_metrics(self, state: TreeState, run: Run, metrics: dict[str, Any]) -> None:
        """Complete ``run`` with its block's reward key's value (negated to minimise); without a
        finite value the run failed."""
        run.metrics = {str(k): _metric_value(v) for k, v in metrics.items()}
        key = run.reward_key or state.block_key
        run.reward_key = key
        run.error = str(metrics.get("error", "") or "")
        try:
            reward = float(metrics.get(key))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            reward = math.nan
        if not math.isfinite(reward):
            why = f"{key} is {'missing' if key not in metrics else 'not finite'}"
            status = f"job status: {metrics['status']}" if metrics.get("status") else ""
            detail = "; ".join(x for x in (status, run.error) if x)
            self.set_failed(state, run, f"{why} ({detail})" if detail else why)
            return
        run.status = "completed"
        run.reward = -reward if self.conf.direction == "minimize" else reward

    def set_failed(self, state: TreeState, run: Run, error: str) -> None:
        run.status = "failed"
        run.reward_key = run.reward_key or state.block_key
        run.error = error or run.error
        self.rescore_failures(state)

    def rescore_failures(self, state: TreeState) -> None:
        """Give every failed run ``failure_reward``, or, when that is unset, the floor below
        the finished runs of its regime's reward key."""
        runs = [r for _, r in state.all_runs()]
        for key in {r.reward_key for r in runs if r.status == "failed"}:
            if self.conf.failure_reward is not None:
                value = float(self.conf.failure_reward)
            else:
                value = failure_floor([r.reward for r in runs if r.status == "completed"
                                       and r.reward_key == key and r.reward is not None])
            for r in runs:
                if r.status == "failed" and r.reward_key == key:
                    r.reward = value

    def after_round(self, state: TreeState) -> None:
        """Log every finished run not logged yet (after a resume: those read back too), then
        stop if most jobs so far failed."""
        self.rescore_failures(state)
        nodes = {n.id: n for n in state.block_nodes()}
        nxt = select_parents(nodes, 1, self.conf.ucb_c, self.conf.ucb_formula)[0][0] if nodes else None
        logged = set(state.logged_iterations)
        new = [(n, r) for n, r in state.all_runs() if r.status != "pending" and r.iteration not in logged]
        text = "".join(render.analysis_entry(state, node, run, nxt, state.last_visual)
                       for node, run in new)
        state.logged_iterations.extend(r.iteration for _, r in new)
        self.proposer.update_memory(state, self.regimes.of_block(state).space)
        render.append_text(self.analysis_path, text)
        self.write(state)
        self.check_failure_rate(state)

    def check_failure_rate(self, state: TreeState) -> None:
        done = [r for _, r in state.all_runs() if r.status != "pending"]
        failed = [r for r in done if r.status == "failed"]
        rate = float(self.conf.max_failure_rate)
        enough = len(done) >= min(MIN_RUNS_FOR_FAILURE_RATE, int(self.conf.n_iterations))
        if done and enough and len(failed) / len(done) > rate:
            raise SweepError(
                f"ucb_llm: {_failure_text(state)}, more than max_failure_rate={rate:g}; the sweep "
                f"stops (the tree and analysis.md in {self.sweep_dir} say which jobs failed)")

    # ---- blocks ----------------------------------------------------------------------------
    def close_block(self, state: TreeState, open_next: bool = True) -> None:
        """Summarise the block (once, however often a resume passes here), then open the next
        one from its best config in its regime; at the sweep's end only summarise."""
        if not state.blocks or state.blocks[-1].block != state.block:
            self._summarise_block(state)
        if open_next:
            self._open_next_block(state)
        self.save(state)

    def _summarise_block(self, state: TreeState) -> None:
        block_len = int(self.conf.n_iter_block)
        best = state.best_node(state.block)
        summary = BlockSummary(
            block=state.block, regime=state.block_regime,
            first_iter=(state.block - 1) * block_len + 1,
            last_iter=min(state.block * block_len, state.iteration),
            best_node=None if best is None else best.id,
            best_reward=None if best is None else best.reward,
            best_spread=0.0 if best is None else best.spread,
            best_config={} if best is None else dict(best.config),
            note="" if best is None else f"best: {best.mutation or 'base config'}",
            reward_key=state.block_key,
        )
        summary.summary = self._llm_summary(state) or ""
        summary.summary_by = self.proposer.name if summary.summary else ""
        state.blocks.append(summary)
        text = (f"## Block {state.block} summary\nRegime: {summary.regime}; best node "
                f"{summary.best_node}: {summary.reward_key}="
                f"{'-' if best is None else render.reward_text(best)}; config: "
                f"{render.short_config(summary.best_config)}\n")
        if summary.summary:
            text += f"Summary ({summary.summary_by}): {one_line(summary.summary, SUMMARY_CHARS)}\n"
        render.append_text(self.analysis_path, text + "\n")

    def _open_next_block(self, state: TreeState) -> None:
        best_config = state.blocks[-1].best_config
        next_regime = self.regimes.next_regime(state)
        state.block += 1
        state.block_regime = next_regime
        info = self.regimes.of_block(state)
        state.block_reward_key = info.reward_key
        base = dict(info.defaults)
        base.update({k: v for k, v in best_config.items() if k in info.space.dims})
        state.block_base = base
        state.memory.hypothesis = ""
        state.memory.observations = []
        render.append_text(self.analysis_path, f"# Block {state.block}: {next_regime}\n\n")

    def _llm_summary(self, state: TreeState) -> Optional[str]:
        """The proposer's summary of the block that just ended (None: it writes none, or the call
        failed for a passing reason, which is counted and logged like a round's)."""
        info = self.regimes.of_block(state)
        instructions = (load_instructions(info.instructions, self.conf.instructions)
                        if self.proposer.reads_instructions else "")
        block_len = int(self.conf.n_iter_block)
        runs = "\n".join(line for line in render.render_memory(state, block_len).splitlines()
                         if line.startswith("- Iter "))
        prompt = build_summary_prompt(state, runs, render.render_memory(state, block_len))
        number = state.proposer_calls + 1
        try:
            reply = self.proposer.summarize(state, instructions, prompt)
        except ProposerError as exc:
            state.proposer_calls = number
            state.llm_calls.append(LLMCall(self.proposer.name, state.iteration, False,
                                           error=capped(exc, 500)))
            log.warning("ucb_llm: %s block summary failed (%s); the computed summary stands",
                        self.proposer.name, capped(exc, 300))
            self.calls.write(number, proposer=self.proposer.name, kind="block_summary",
                             iteration=state.iteration, attempt=1, prompt=prompt,
                             instructions=instructions, raw=exc.raw, error=str(exc))
            return None
        if reply is None:
            return None
        state.proposer_calls = number
        state.llm_calls.append(LLMCall(self.proposer.name, state.iteration, True, reply.input_tokens,
                                       reply.output_tokens, round(reply.latency_s, 3)))
        self.calls.write(number, proposer=self.proposer.name, kind="block_summary",
                         iteration=state.iteration, attempt=1, prompt=prompt,
                         instructions=instructions, raw=reply.raw,
                         usage=(reply.input_tokens, reply.output_tokens, reply.latency_s))
        return capped(reply.raw, SUMMARY_CHARS)


def _failure_text(state: TreeState) -> str:
    """"3 of 4 jobs failed (first: RuntimeError: ...)" for the stop messages."""
    done = [r for _, r in state.all_runs() if r.status != "pending"]
    failed = [r for r in done if r.status == "failed"]
    first = next((r.error.strip().splitlines()[-1] for r in failed if r.error.strip()), "no error text")
    return f"{len(failed)} of {len(done)} jobs failed (first error: {capped(first, 300)})"


def _metric_value(v: Any) -> Any:
    """A metric as the tree keeps it: plain values as they are, numbers (numpy, torch) as float,
    anything else as its text."""
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)
