"""Recording a sweep: results into the tree, the tree to disk, the files users read.

The tree JSON is rewritten after every change that must survive a kill; ``analysis.md`` grows by
one entry per finished run, plus block headers and summaries; the other files
(``ucb_scores.txt``, ``memory.md``, ``tree.png``, ``optimization_results.yaml``) are rendered
again after every round.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from . import render
from .proposers import Proposer
from .regimes import RegimeCatalogue
from .tree import STATE_FILE, BlockSummary, Run, TreeState, load_state, save_state
from .ucb import select_parents

log = logging.getLogger(__name__)


class Recorder:
    """Owns the sweep directory's files and turns job outcomes into runs' rewards."""

    def __init__(self, conf: DictConfig, sweep_dir: Path, proposer: Proposer,
                 regimes: RegimeCatalogue) -> None:
        self.conf = conf
        self.sweep_dir = Path(sweep_dir)
        self.proposer = proposer
        self.regimes = regimes
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
                          block_base=dict(info.defaults))
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
                         int(self.conf.n_iter_block))

    def finish(self, state: TreeState) -> None:
        self.write(state)
        best = state.best_node()
        if best is not None:
            log.info("ucb_llm: best node %d %s=%s", best.id, state.reward_key, render.reward_text(best))

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
            metrics = dict(value) if isinstance(value, dict) else {state.reward_key: value}
            self.set_metrics(state, run, metrics)
        else:
            try:
                ret.return_value
            except Exception as exc:  # the job's own exception, whatever it is
                run.error = f"{type(exc).__name__}: {exc}"
            run.status = "failed"
            run.reward = float(self.conf.failure_reward)

    def set_metrics(self, state: TreeState, run: Run, metrics: dict[str, Any]) -> None:
        """Complete ``run``: reward = the reward key's value (negated to minimise); a missing or
        non-finite value gets ``failure_reward``."""
        run.metrics = {str(k): _metric_value(v) for k, v in metrics.items()}
        run.status = "completed"
        run.error = str(metrics.get("error", "") or "")
        value = metrics.get(state.reward_key)
        try:
            reward = float(value)
        except (TypeError, ValueError):
            reward = float("nan")
        if not math.isfinite(reward):
            reward = float(self.conf.failure_reward)
        elif self.conf.direction == "minimize":
            reward = -reward
        run.reward = reward

    def after_round(self, state: TreeState) -> None:
        """Log every finished run not logged yet (after a resume: those read back too)."""
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

    # ---- blocks ----------------------------------------------------------------------------
    def close_block(self, state: TreeState) -> None:
        """Summarise the block, then open the next one from its best config in its regime."""
        block_len = int(self.conf.n_iter_block)
        best = state.best_node(state.block)
        summary = BlockSummary(
            block=state.block, regime=state.block_regime,
            first_iter=(state.block - 1) * block_len + 1, last_iter=state.block * block_len,
            best_node=None if best is None else best.id,
            best_reward=None if best is None else best.reward,
            best_spread=0.0 if best is None else best.spread,
            best_config={} if best is None else dict(best.config),
            note="" if best is None else f"best: {best.mutation or 'base config'}",
        )
        state.blocks.append(summary)
        next_regime = self.regimes.next_regime(state)
        text = (f"## Block {state.block} summary\nRegime: {summary.regime}; best node "
                f"{summary.best_node}: {state.reward_key}="
                f"{'-' if best is None else render.reward_text(best)}; config: "
                f"{render.short_config(summary.best_config)}\n\n")
        state.block += 1
        state.block_regime = next_regime
        info = self.regimes.of_block(state)
        base = dict(info.defaults)
        base.update({k: v for k, v in summary.best_config.items() if k in info.space.dims})
        state.block_base = base
        state.memory.hypothesis = ""
        state.memory.observations = []
        text += f"# Block {state.block}: {next_regime}\n\n"
        render.append_text(self.analysis_path, text)
        self.save(state)


def _metric_value(v: Any) -> Any:
    """A metric as the tree keeps it: plain values as they are, numbers (numpy, torch) as float,
    anything else as its text."""
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)
