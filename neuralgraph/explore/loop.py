"""One ``ucb_llm`` sweep: rounds of (parents -> proposals -> validation -> launch -> record).

The loop knows Hydra only through three callables the plugin hands it: ``launch(batch, idx)``
(the configured launcher), ``compose(overrides)`` (the job config a list of overrides produces)
and the sweep directory. Everything it decides is saved in the tree JSON *before* jobs start,
so a killed sweep resumes: finished jobs are read back from their run directories, unfinished
ones are launched again, nothing finished is repeated.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import yaml
from omegaconf import DictConfig, OmegaConf

from . import render
from .prompt import build_prompt, load_instructions
from .proposers import Context, HeuristicProposer, ProposerError, Reply, Slot, make_proposer
from .proposers.heuristic import evidence
from .space import SearchSpace, parse_space
from .tree import (STATE_FILE, BlockSummary, LLMCall, Node, Run, TreeState, load_state,
                   save_state)
from .ucb import select_parents, ucb_scores
from .validate import ProposalError, check_proposal

log = logging.getLogger(__name__)


@dataclass
class Candidate:
    slot: Slot
    parent: Optional[int]
    config: dict[str, str]
    mutation: str
    changed: dict[str, str]
    replicate_of: Optional[int]
    strategy: str
    rationale: str
    proposer: str
    fallback: str = ""
    rule: str = ""


@dataclass
class RegimeInfo:
    """What a regime contributes: its space, reward key and the defaults of its mutable keys."""

    name: str
    space: SearchSpace
    reward_key: str
    defaults: dict[str, str] = field(default_factory=dict)
    seed: Optional[int] = None


class Explorer:
    def __init__(
        self,
        conf: DictConfig,
        sweep_dir: Path,
        arguments: Sequence[str],
        launch: Callable[[list[list[str]], int], Sequence[Any]],
        compose: Callable[[list[str]], DictConfig],
    ) -> None:
        self.conf = conf
        self.sweep_dir = Path(sweep_dir)
        self.launch = launch
        self.compose = compose
        self.proposer = make_proposer(conf.proposer)
        # Fallback for rejected slots: the configured heuristic if that is the proposer.
        self.heuristic = (self.proposer if isinstance(self.proposer, HeuristicProposer)
                          else HeuristicProposer())
        self.base_args, self.cli_space = _split_arguments(arguments)
        self.regimes = list(conf.landscape.regimes or [])
        self.state_path = self.sweep_dir / STATE_FILE
        self.analysis_path = self.sweep_dir / "analysis.md"
        self._regime_cache: dict[str, RegimeInfo] = {}

    # ---- regime handling -----------------------------------------------------------------
    def regime_info(self, regime: Optional[str]) -> RegimeInfo:
        key = regime or ""
        if key in self._regime_cache:
            return self._regime_cache[key]
        cfg = self.compose(self._args_for_regime(regime))
        name = str(OmegaConf.select(cfg, "regime", default=None) or regime or "default")
        params = self.conf.params if self.conf.params is not None else OmegaConf.select(cfg, "search_space")
        params = OmegaConf.to_container(params, resolve=True) if OmegaConf.is_config(params) else params
        merged = dict(params or {})
        merged.update(self.cli_space)
        if not merged:
            raise ValueError(
                "ucb_llm: empty search space; give the regime a `search_space`, or set "
                "hydra.sweeper.params in a config file (sweep syntax cannot go on the command line)"
            )
        space = parse_space(merged)
        reward_key = self.conf.reward_key or OmegaConf.select(cfg, "reward_key")
        if not reward_key:
            raise ValueError("ucb_llm: no reward key; set `reward_key` in the regime or "
                             "hydra.sweeper.reward_key")
        defaults = {}
        for k in space.dims:
            v = OmegaConf.select(cfg, k, default=None)
            if v is None:
                raise ValueError(f"ucb_llm: search-space key '{k}' is not in the composed config")
            dim = space.dims[k]
            if not dim.contains(v):
                # A root outside the space would pass its out-of-range value to every child.
                clipped = dim.from_unit(dim.to_unit(v)) if dim.kind == "interval" else dim.choices[0]
                log.warning("ucb_llm: %s=%s is outside the search space; the root uses %s", k, v, clipped)
                v = clipped
            defaults[k] = dim.canonical(v)
        seed = OmegaConf.select(cfg, self.conf.seed_key, default=None)
        info = RegimeInfo(name, space, str(reward_key), defaults, None if seed is None else int(seed))
        self._regime_cache[key] = info
        return info

    def _job_overrides(self, state: TreeState, config: dict[str, str]) -> list[str]:
        """Command-line arguments, the space's fixed entries, then the node's config."""
        info = self.regime_info(self._block_regime_arg(state))
        fixed = [f"{k}={v}" for k, v in sorted(info.space.fixed.items()) if k not in config]
        return (self._args_for_regime(self._block_regime_arg(state)) + fixed
                + [f"{k}={v}" for k, v in sorted(config.items())])

    def _args_for_regime(self, regime: Optional[str]) -> list[str]:
        if not regime:
            return list(self.base_args)
        out = [a for a in self.base_args if a.lstrip("+~").split("=", 1)[0] != "regime"]
        return out + [f"+regime={regime}"]

    # ---- state -----------------------------------------------------------------------------
    def load_or_start(self) -> TreeState:
        if self.state_path.exists():
            state = load_state(self.state_path)
            log.info("ucb_llm: resuming from %s at iteration %d", self.state_path, state.iteration)
            return state
        first = self.regimes[0] if self.regimes else None
        info = self.regime_info(first)
        state = TreeState(regime=info.name, reward_key=info.reward_key,
                          base_overrides=list(self.base_args), block_regime=info.name,
                          block_base=dict(info.defaults))
        render.append_text(self.analysis_path, f"# ucb_llm exploration: {info.name}\n\n"
                           f"Reward: {info.reward_key}. Proposer: {self.proposer.name}.\n\n"
                           f"# Block 1: {info.name}\n\n")
        return state

    def save(self, state: TreeState) -> None:
        save_state(state, self.state_path)

    # ---- main loop -------------------------------------------------------------------------
    def run(self) -> TreeState:
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        state = self.load_or_start()
        self._resume_pending(state)
        n_iter, block_len = int(self.conf.n_iterations), int(self.conf.n_iter_block)
        while state.iteration < n_iter:
            if state.iteration >= state.block * block_len:
                self._close_block(state)
            block_left = state.block * block_len - state.iteration
            k = min(int(self.conf.n_parallel), n_iter - state.iteration, block_left)
            block_end = block_left == k
            candidates = self._propose_round(state, k, block_end)
            self._launch_round(state, candidates)
        self._finish(state)
        return state

    def _finish(self, state: TreeState) -> None:
        self._write(state)
        best = state.best_node()
        if best is not None:
            log.info("ucb_llm: best node %d %s=%s", best.id, state.reward_key, render.reward_text(best))

    # ---- proposing -------------------------------------------------------------------------
    def _context(self, state: TreeState, slots: list[Slot], block_end: bool) -> Context:
        info = self.regime_info(self._block_regime_arg(state))
        taken = [n.config for n in state.nodes.values() if state.regime_of(n) == state.block_regime]
        scores_text = render.render_ucb(
            state, ucb_scores({n.id: n for n in state.block_nodes()}, self.conf.ucb_c, self.conf.ucb_formula),
            self.conf.ucb_c, self.conf.ucb_formula, int(self.conf.n_iter_block))
        memory_text = render.render_memory(state, int(self.conf.n_iter_block))
        regimes = self.regimes if (block_end and self.regimes) else []

        def prompt(s: list[Slot], feedback: str) -> str:
            return build_prompt(state, info.space, s, feedback, ucb_text=scores_text,
                                memory_text=memory_text, n_iterations=int(self.conf.n_iterations),
                                n_iter_block=int(self.conf.n_iter_block), regimes=regimes,
                                block_end=block_end)

        instructions = ""
        if self.proposer.name not in ("heuristic", "scripted"):
            instructions = load_instructions(state.block_regime, self.conf.instructions)
        return Context(state=state, space=info.space, root_config=dict(state.block_base),
                       slots=slots, seed=int(self.conf.seed), prompt=prompt,
                       instructions=instructions, images=self._latest_plots(state), taken=taken,
                       regimes=regimes)

    def _block_regime_arg(self, state: TreeState) -> Optional[str]:
        return state.block_regime if self.regimes else None

    def _propose_round(self, state: TreeState, k: int, block_end: bool) -> list[Candidate]:
        nodes = {n.id: n for n in state.block_nodes()}
        picks = select_parents(nodes, k, self.conf.ucb_c, self.conf.ucb_formula)
        roles = list(self.conf.slot_roles) or ["exploit"]
        slots = [Slot(i, p, u, roles[i % len(roles)]) for i, (p, u) in enumerate(picks)]
        ctx = self._context(state, slots, block_end)
        accepted: dict[int, Candidate] = {}
        errors: dict[int, str] = {}
        todo = list(slots)
        retries = 0 if self.proposer.name == "heuristic" else int(getattr(self.proposer, "retries", 1))
        for attempt in range(1 + retries):
            feedback = "\n".join(f"slot {i}: {e}" for i, e in sorted(errors.items())) if attempt else ""
            reply = self._ask(state, ctx, todo, feedback)
            if reply is None:
                errors = {s.index: state.llm_calls[-1].error for s in todo}
                continue
            self._absorb(state, reply)
            errors = {}
            for slot in todo:
                try:
                    accepted[slot.index] = self._accept(state, ctx, slot, reply, accepted)
                except ProposalError as exc:
                    errors[slot.index] = str(exc)
            todo = [s for s in todo if s.index in errors]
            if not todo:
                break
        for slot in todo:
            why = f"{self.proposer.name} proposal rejected ({errors.get(slot.index, 'no reply')}); heuristic used"
            log.warning("ucb_llm: slot %d: %s", slot.index, why)
            ctx.taken = ctx.taken + [c.config for c in accepted.values() if c.replicate_of is None]
            prop = self.heuristic.propose_slot(ctx, slot, ctx.taken)
            try:
                cand = self._candidate(state, ctx, slot, prop, accepted, proposer="heuristic")
            except ProposalError as exc:
                raise ValueError(f"ucb_llm: the search space does not fit the config: {exc}") from None
            cand.fallback = why
            accepted[slot.index] = cand
        return [accepted[s.index] for s in slots]

    def _ask(self, state: TreeState, ctx: Context, slots: list[Slot], feedback: str) -> Optional[Reply]:
        t0 = time.monotonic()
        try:
            reply = self.proposer.propose(ctx, slots, feedback)
        except (ProposerError, OSError) as exc:
            tin, tout, lat = getattr(exc, "usage", (0, 0, time.monotonic() - t0))
            state.llm_calls.append(LLMCall(self.proposer.name, state.iteration + 1, False, tin, tout,
                                           round(lat, 3), str(exc)[:500]))
            state.proposer_calls += 1
            log.warning("ucb_llm: %s", exc)
            return None
        latency = reply.latency_s or (time.monotonic() - t0)
        state.llm_calls.append(LLMCall(self.proposer.name, state.iteration + 1, True,
                                       reply.input_tokens, reply.output_tokens, round(latency, 3)))
        state.proposer_calls += 1
        return reply

    def _absorb(self, state: TreeState, reply: Reply) -> None:
        mem = state.memory
        if reply.memory:
            for key in ("principles", "open_questions", "observations"):
                val = reply.memory.get(key)
                if isinstance(val, list):
                    setattr(mem, key, [str(v) for v in val][:40])
            if isinstance(reply.memory.get("hypothesis"), str):
                mem.hypothesis = reply.memory["hypothesis"]
        note = reply.observation
        if reply.visual:
            note = f"{note} Visual: {reply.visual}".strip()
        if note:
            mem.observations = (mem.observations + [f"(iter {state.iteration}) {note}"])[-20:]
        if reply.next_regime:
            state.next_regime = reply.next_regime
        state.last_visual = reply.visual

    def _accept(self, state: TreeState, ctx: Context, slot: Slot, reply: Reply,
                accepted: dict[int, Candidate]) -> Candidate:
        by_slot = {p.slot: p for p in reply.proposals}
        prop = by_slot.get(slot.index)
        if prop is None:
            raise ProposalError(f"no mutation for slot {slot.index}")
        return self._candidate(state, ctx, slot, prop, accepted, proposer=self.proposer.name)

    def _candidate(self, state, ctx, slot, prop, accepted, proposer) -> Candidate:
        block_ids = {n.id for n in state.block_nodes() if n.reward is not None}
        if prop.parent is not None and prop.parent not in block_ids:
            raise ProposalError(f"parent {prop.parent} is not an evaluated node of this block; "
                                f"use one of {sorted(block_ids) or ['root']}")
        rule = self._parent_rule(slot, prop.parent)
        if prop.replicate:
            if prop.parent is None:
                raise ProposalError("a replicate needs a parent node to re-run")
            node = state.nodes[prop.parent]
            return Candidate(slot, node.parent, dict(node.config), node.mutation, {}, node.id,
                             "replicate", prop.rationale, proposer, rule=rule)
        queued = [c.config for c in accepted.values() if c.replicate_of is None]
        taken = ctx.taken + queued
        if not prop.changes and prop.parent is None:
            if ctx.root_config in taken:
                raise ProposalError("the block root was already evaluated; propose a change")
            return Candidate(slot, None, dict(ctx.root_config), "", {}, None,
                             prop.strategy or "baseline", prop.rationale, proposer, rule=rule)
        checked = check_proposal(prop.changes, ctx.config_of(prop.parent), ctx.space, taken)
        self._check_composes(state, checked.config)
        return Candidate(slot, prop.parent, checked.config, checked.mutation, checked.changed, None,
                         prop.strategy or "exploit", prop.rationale, proposer, rule=rule)

    def _check_composes(self, state: TreeState, config: dict[str, str]) -> None:
        """Compose the job's config (what Hydra's validate_batch_is_legal does), one candidate at
        a time, so a value of the wrong type rejects that proposal instead of the round."""
        try:
            self.compose(self._job_overrides(state, config))
        except Exception as exc:  # Hydra and OmegaConf raise several error types
            raise ProposalError(
                f"the config does not compose ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                "integer keys need tag(int, interval(...)) or choice(...) in the search space"
            ) from None

    def _parent_rule(self, slot: Slot, chosen: Optional[int]) -> str:
        if slot.parent is None:
            return "empty block tree: start from the block root"
        if chosen == slot.parent:
            return (f"UCB pick for slot {slot.index} (node {slot.parent}, UCB={slot.parent_ucb:.3f}), "
                    "pending children counted")
        target = "root" if chosen is None else f"node {chosen}"
        return f"proposer chose {target} instead of the UCB pick (node {slot.parent})"

    # ---- launching -------------------------------------------------------------------------
    def _launch_round(self, state: TreeState, candidates: list[Candidate]) -> None:
        info = self.regime_info(self._block_regime_arg(state))
        runs: list[tuple[Node, Run]] = []
        for cand in candidates:
            state.iteration += 1
            if cand.replicate_of is not None:
                node = state.nodes[cand.replicate_of]
            else:
                node = Node(id=state.iteration, parent=cand.parent, block=state.block,
                            config=cand.config, mutation=cand.mutation, changed=cand.changed,
                            strategy=cand.strategy, rationale=cand.rationale,
                            proposer=cand.proposer, fallback=cand.fallback,
                            parent_rule=cand.rule or self._parent_rule(cand.slot, cand.parent))
                state.nodes[node.id] = node
            seed = None
            if node.runs and info.seed is not None:
                seed = info.seed + len(node.runs)
            overrides = self._job_overrides(state, node.config)
            if seed is not None:
                overrides.append(f"{self.conf.seed_key}={seed}")
            run = Run(iteration=state.iteration, job_idx=-1, seed=seed if seed is not None else info.seed,
                      overrides=overrides)
            if cand.replicate_of is not None:
                run.note = "; ".join(x for x in (cand.rationale, cand.rule, cand.fallback) if x)
            node.runs.append(run)
            runs.append((node, run))
        self._execute(state, runs)

    def _execute(self, state: TreeState, runs: list[tuple[Node, Run]]) -> None:
        first = state.job_idx
        for i, (_, run) in enumerate(runs):
            run.job_idx = first + i
        # Job numbers are reserved before the plan is saved: a resumed sweep never reuses the
        # directory of a job that may have started.
        state.job_idx += len(runs)
        self.save(state)
        batch = [list(run.overrides) for _, run in runs]
        returns = self.launch(batch, first)
        failures = []
        for (node, run), ret in zip(runs, returns):
            self._record(state, run, ret)
            if run.status == "failed":
                failures.append(ret)
        self._after_round(state)
        if runs and len(failures) / len(runs) > float(self.conf.max_failure_rate):
            failures[0].return_value  # re-raises the job's own exception with its traceback

    def _record(self, state: TreeState, run: Run, ret: Any) -> None:
        from hydra.core.utils import JobStatus

        # The job's output directory; `working_dir` is only the cwd when Hydra does not chdir.
        out = OmegaConf.select(ret.hydra_cfg, "hydra.runtime.output_dir", default=None) \
            if getattr(ret, "hydra_cfg", None) is not None else None
        run.working_dir = str(out or getattr(ret, "working_dir", "") or "")
        if ret.status == JobStatus.COMPLETED:
            value = ret.return_value
            metrics = dict(value) if isinstance(value, dict) else {state.reward_key: value}
            self._set_metrics(state, run, metrics)
        else:
            try:
                ret.return_value
            except Exception as exc:  # the job's own exception, whatever it is
                run.error = f"{type(exc).__name__}: {exc}"
            run.status = "failed"
            run.reward = float(self.conf.failure_reward)

    def _set_metrics(self, state: TreeState, run: Run, metrics: dict[str, Any]) -> None:
        run.metrics = {str(k): _jsonable(v) for k, v in metrics.items()}
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

    def _after_round(self, state: TreeState) -> None:
        """Log every finished run not logged yet (after a resume: those read back too)."""
        nodes = {n.id: n for n in state.block_nodes()}
        nxt = select_parents(nodes, 1, self.conf.ucb_c, self.conf.ucb_formula)[0][0] if nodes else None
        logged = set(state.logged_iterations)
        new = [(n, r) for n, r in state.all_runs() if r.status != "pending" and r.iteration not in logged]
        text = "".join(render.analysis_entry(state, node, run, nxt, state.last_visual)
                       for node, run in new)
        state.logged_iterations.extend(r.iteration for _, r in new)
        if isinstance(self.proposer, HeuristicProposer):
            # Without an LLM, the memory's principles are the evidence the tree holds so far.
            found = evidence(state, self.regime_info(self._block_regime_arg(state)).space)
            state.memory.principles = found["principles"]
            state.memory.open_questions = found["open_questions"]
        render.append_text(self.analysis_path, text)
        self._write(state)

    def _write(self, state: TreeState) -> None:
        self.save(state)
        render.write_all(state, self.sweep_dir, self.conf.ucb_c, self.conf.ucb_formula,
                         int(self.conf.n_iter_block))

    # ---- resume ----------------------------------------------------------------------------
    def _resume_pending(self, state: TreeState) -> None:
        pending = state.pending_runs()
        if not pending:
            return
        finished = _finished_jobs(self.sweep_dir)
        rerun = []
        for node, run in pending:
            found = finished.get(tuple(run.overrides))
            if found is not None:
                run.working_dir, metrics = found
                self._set_metrics(state, run, metrics)
                log.info("ucb_llm: iteration %d finished before the interruption; read back",
                         run.iteration)
            else:
                rerun.append((node, run))
        if rerun:
            log.info("ucb_llm: relaunching %d unfinished job(s)", len(rerun))
            self._execute(state, rerun)
        else:
            self._after_round(state)

    # ---- blocks ----------------------------------------------------------------------------
    def _close_block(self, state: TreeState) -> None:
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
        next_regime = self._next_regime(state)
        text = (f"## Block {state.block} summary\nRegime: {summary.regime}; best node "
                f"{summary.best_node}: {state.reward_key}="
                f"{'-' if best is None else render.reward_text(best)}; config: "
                f"{render.short_config(summary.best_config)}\n\n")
        state.block += 1
        state.block_regime = next_regime
        info = self.regime_info(self._block_regime_arg(state))
        base = dict(info.defaults)
        base.update({k: v for k, v in summary.best_config.items() if k in info.space.dims})
        state.block_base = base
        state.memory.hypothesis = ""
        state.memory.observations = []
        text += f"# Block {state.block}: {next_regime}\n\n"
        render.append_text(self.analysis_path, text)
        self.save(state)

    def _next_regime(self, state: TreeState) -> str:
        if not self.regimes:
            return state.block_regime
        wanted = state.next_regime
        if wanted in self.regimes:
            return wanted
        studied = [b.regime for b in state.blocks]
        for r in self.regimes:
            if r not in studied:
                return r
        # Every regime seen once: revisit the one whose best reward is lowest.
        best = {r: max((b.best_reward or -math.inf) for b in state.blocks if b.regime == r)
                for r in self.regimes}
        return min(best, key=best.get)

    def _latest_plots(self, state: TreeState) -> list[str]:
        done = [(n, r) for n, r in state.all_runs() if r.status == "completed" and r.working_dir]
        if not done:
            return []
        last_iter = max(r.iteration for _, r in done)
        recent = [p for p in done if p[1].iteration > last_iter - int(self.conf.n_parallel)]
        _, run = max(recent, key=lambda p: p[1].reward if p[1].reward is not None else -math.inf)
        plots = sorted(Path(run.working_dir).glob("plots/*.png"), key=lambda p: p.stat().st_mtime)
        return [str(p) for p in plots[-4:]]


def _split_arguments(arguments: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Command-line task overrides: plain ones go to every job, sweep ones join the space."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    base, space = [], {}
    for arg in arguments:
        ov = parser.parse_override(arg)
        if ov.is_sweep_override():
            key = ov.get_key_element().lstrip("+")
            space[key] = arg.split("=", 1)[1]
        else:
            base.append(arg)
    return base, space


def _finished_jobs(sweep_dir: Path) -> dict[tuple[str, ...], tuple[str, dict[str, Any]]]:
    """(directory, metrics) of each run under the sweep holding ``metrics.json``, by overrides."""
    out = {}
    for metrics_file in sweep_dir.glob("**/metrics.json"):
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


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)
