"""Planning one round: UCB parents, the proposer's answers, validation, re-asks and fallback.

The ``n_parallel`` parents are picked by UCB (pending children counted, see :mod:`.ucb`); each
becomes a slot with a suggested role. The proposer answers for every open slot; answers that
fail validation are shown back to it with the reasons, up to ``proposer.retries`` times. A slot
still open after that is filled by ``proposer.fallback`` (the heuristic), and the node records why.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Optional

from omegaconf import DictConfig

from . import render
from .candidates import Candidate, make_candidate, queued_configs
from .prompt import build_prompt, load_instructions
from .proposers import Context, Proposer, ProposerError, Reply, Slot
from .regimes import RegimeCatalogue
from .tree import LLMCall, TreeState
from .ucb import select_parents, ucb_scores
from .validate import ProposalError

log = logging.getLogger(__name__)


class RoundPlanner:
    """Decides the candidates of one round; records every proposer call in the tree."""

    def __init__(self, conf: DictConfig, proposer: Proposer, regimes: RegimeCatalogue) -> None:
        self.conf = conf
        self.proposer = proposer
        self.regimes = regimes

    def plan(self, state: TreeState, k: int, block_end: bool) -> list[Candidate]:
        """``k`` candidates, one per slot, in slot order."""
        slots = self._slots(state, k)
        ctx = self._context(state, slots, block_end)
        accepted: dict[int, Candidate] = {}
        errors: dict[int, str] = {}
        todo = list(slots)
        for attempt in range(1 + self.proposer.retries):
            feedback = "\n".join(f"slot {i}: {e}" for i, e in sorted(errors.items())) if attempt else ""
            reply = self._ask(state, ctx, todo, feedback)
            if reply is None:
                errors = {s.index: state.llm_calls[-1].error for s in todo}
                continue
            absorb_reply(state, reply)
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
            accepted[slot.index] = self._fall_back(state, ctx, slot, accepted,
                                                   errors.get(slot.index, "no reply"))
        return [accepted[s.index] for s in slots]

    def _slots(self, state: TreeState, k: int) -> list[Slot]:
        nodes = {n.id: n for n in state.block_nodes()}
        picks = select_parents(nodes, k, self.conf.ucb_c, self.conf.ucb_formula)
        roles = list(self.conf.slot_roles) or ["exploit"]
        return [Slot(i, p, u, roles[i % len(roles)]) for i, (p, u) in enumerate(picks)]

    def _context(self, state: TreeState, slots: list[Slot], block_end: bool) -> Context:
        info = self.regimes.of_block(state)
        block_len = int(self.conf.n_iter_block)
        taken = [n.config for n in state.nodes.values() if state.regime_of(n) == state.block_regime]
        scores = ucb_scores({n.id: n for n in state.block_nodes()}, self.conf.ucb_c, self.conf.ucb_formula)
        scores_text = render.render_ucb(state, scores, self.conf.ucb_c, self.conf.ucb_formula, block_len)
        memory_text = render.render_memory(state, block_len)
        regimes = self.regimes.landscape if block_end else []

        def prompt(s: list[Slot], feedback: str) -> str:
            return build_prompt(state, info.space, s, feedback, ucb_text=scores_text,
                                memory_text=memory_text, n_iterations=int(self.conf.n_iterations),
                                n_iter_block=block_len, regimes=regimes, block_end=block_end)

        instructions = ""
        if self.proposer.reads_instructions:
            instructions = load_instructions(info.instructions, self.conf.instructions)
        return Context(state=state, space=info.space, root_config=dict(state.block_base),
                       slots=slots, seed=int(self.conf.seed), prompt=prompt,
                       instructions=instructions, images=self._latest_plots(state), taken=taken,
                       regimes=regimes)

    def _ask(self, state: TreeState, ctx: Context, slots: list[Slot], feedback: str) -> Optional[Reply]:
        """The proposer's reply, or None after recording why there is none."""
        name = self.proposer.name
        t0 = time.monotonic()
        try:
            reply = self.proposer.propose(ctx, slots, feedback)
        except (ProposerError, OSError) as exc:
            tin, tout, lat = getattr(exc, "usage", (0, 0, time.monotonic() - t0))
            state.llm_calls.append(LLMCall(name, state.iteration + 1, False, tin, tout,
                                           round(lat, 3), str(exc)[:500]))
            state.proposer_calls += 1
            log.warning("ucb_llm: %s", exc)
            return None
        latency = reply.latency_s or (time.monotonic() - t0)
        state.llm_calls.append(LLMCall(name, state.iteration + 1, True,
                                       reply.input_tokens, reply.output_tokens, round(latency, 3)))
        state.proposer_calls += 1
        return reply

    def _accept(self, state: TreeState, ctx: Context, slot: Slot, reply: Reply,
                accepted: dict[int, Candidate]) -> Candidate:
        prop = {p.slot: p for p in reply.proposals}.get(slot.index)
        if prop is None:
            raise ProposalError(f"no mutation for slot {slot.index}")
        return make_candidate(state, ctx, slot, prop, accepted, self.proposer.name, self.regimes)

    def _fall_back(self, state: TreeState, ctx: Context, slot: Slot,
                   accepted: dict[int, Candidate], error: str) -> Candidate:
        fallback = self.proposer.fallback
        why = f"{self.proposer.name} proposal rejected ({error}); {fallback.name} used"
        log.warning("ucb_llm: slot %d: %s", slot.index, why)
        ctx.taken = ctx.taken + queued_configs(accepted)
        prop = fallback.propose_slot(ctx, slot, ctx.taken)
        try:
            cand = make_candidate(state, ctx, slot, prop, accepted, fallback.name, self.regimes)
        except ProposalError as exc:
            raise ValueError(f"ucb_llm: the search space does not fit the config: {exc}") from None
        cand.fallback = why
        return cand

    def _latest_plots(self, state: TreeState) -> list[str]:
        """Up to four newest plots of the best run of the latest round, for the proposer to see."""
        done = [(n, r) for n, r in state.all_runs() if r.status == "completed" and r.working_dir]
        if not done:
            return []
        last_iter = max(r.iteration for _, r in done)
        recent = [p for p in done if p[1].iteration > last_iter - int(self.conf.n_parallel)]
        _, run = max(recent, key=lambda p: p[1].reward if p[1].reward is not None else -math.inf)
        plots = sorted(Path(run.working_dir).glob("plots/*.png"), key=lambda p: p.stat().st_mtime)
        return [str(p) for p in plots[-4:]]


def absorb_reply(state: TreeState, reply: Reply) -> None:
    """Take the reply's memory update, observation, visual note and next-regime choice."""
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
