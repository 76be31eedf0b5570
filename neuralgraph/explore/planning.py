"""Planning one round: UCB parents, the proposer's answers, validation, re-asks and fallback.

The ``n_parallel`` parents are picked by UCB (pending children counted, see :mod:`.ucb`); each
becomes a slot with a suggested role. The proposer answers for every open slot; answers that
fail validation are shown back to it with the reasons, up to ``proposer.retries`` times. A slot
still open after that is filled by ``proposer.fallback`` (the heuristic), and the node records why.

A call that fails for a passing reason (timeout, rate limit, server error, unreadable reply) is
counted and logged and its slots go to the fallback; a proposer that cannot work at all raises
:class:`~.proposers.ProposerUnavailable`, which stops the sweep; so do ``max_failed_rounds``
rounds in a row without one usable reply. Every call is saved in ``llm/`` (:mod:`.calllog`).
"""

from __future__ import annotations

import logging
import time
from typing import Optional

from omegaconf import DictConfig

from . import render
from .advice import Advisor
from .calllog import CallLog
from .candidates import Candidate, make_candidate, queued_configs
from .errors import SweepError
from .plots import named_plots, plots_to_show
from .prompt import build_prompt, load_instructions, render_advice
from .proposers import Context, Proposer, ProposerError, Reply, Slot
from .regimes import RegimeCatalogue
from .text import MEMORY_ENTRIES, capped, capped_list
from .tree import LLMCall, TreeState
from .ucb import select_parents, ucb_scores
from .validate import ProposalError

log = logging.getLogger(__name__)

MAX_PLOTS = 8  # offered to the proposer; each proposer sends at most its own max_images


class RoundPlanner:
    """Decides the candidates of one round; records every proposer call in the tree and in
    ``llm/``."""

    def __init__(self, conf: DictConfig, proposer: Proposer, regimes: RegimeCatalogue,
                 calls: CallLog) -> None:
        self.conf = conf
        self.proposer = proposer
        self.regimes = regimes
        self.calls = calls

    def plan(self, state: TreeState, k: int, block_end: bool) -> list[Candidate]:
        """``k`` candidates, one per slot, in slot order."""
        slots = self._slots(state, k)
        ctx = self._context(state, slots, block_end)
        accepted: dict[int, Candidate] = {}
        errors: dict[int, str] = {}
        todo, replied = list(slots), False
        for attempt in range(1 + self.proposer.retries):
            feedback = "\n".join(f"slot {i}: {e}" for i, e in sorted(errors.items())) if attempt else ""
            reply = self._ask(state, ctx, todo, feedback, attempt)
            if reply is None:
                errors = {s.index: state.llm_calls[-1].error for s in todo}
                continue
            replied = True
            absorb_reply(state, reply)
            errors, verdicts = {}, {}
            for slot in todo:
                try:
                    accepted[slot.index] = self._accept(state, ctx, slot, reply, accepted)
                    verdicts[slot.index] = "accepted"
                except ProposalError as exc:
                    errors[slot.index] = str(exc)
                    verdicts[slot.index] = f"rejected: {exc}"
            self._save_call(state, ctx, attempt, reply, verdicts=verdicts)
            todo = [s for s in todo if s.index in errors]
            if not todo:
                break
        self._count_round(state, replied)
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
        max_keys = int(self.conf.max_changed_keys)
        taken = [n.config for n in state.nodes.values() if state.regime_of(n) == state.block_regime]
        scores = ucb_scores({n.id: n for n in state.block_nodes()}, self.conf.ucb_c, self.conf.ucb_formula)
        scores_text = render.render_ucb(state, scores, self.conf.ucb_c, self.conf.ucb_formula, block_len)
        memory_text = render.render_memory(state, block_len)
        regimes = self.regimes.landscape if block_end else []
        advisor = Advisor(state, info.space, self.conf.model, dict(state.block_base),
                          int(self.conf.seed), max_keys)

        def prompt(s: list[Slot], feedback: str) -> str:
            return build_prompt(state, info.space, s, feedback, ucb_text=scores_text,
                                memory_text=memory_text, n_iterations=int(self.conf.n_iterations),
                                n_iter_block=block_len, regimes=regimes, block_end=block_end,
                                max_keys=max_keys,
                                advice_text=render_advice(advisor.advise(s, taken), state))

        instructions, images = "", []
        if self.proposer.reads_instructions:
            instructions = load_instructions(info.instructions, self.conf.instructions)
            images = plots_to_show(state, named_plots(instructions), int(self.conf.n_parallel),
                                   MAX_PLOTS)
        return Context(state=state, space=info.space, root_config=dict(state.block_base),
                       slots=slots, seed=int(self.conf.seed), prompt=prompt,
                       instructions=instructions, images=images, taken=taken,
                       regimes=regimes, max_keys=max_keys, advice=advisor.advise)

    def _ask(self, state: TreeState, ctx: Context, slots: list[Slot], feedback: str,
             attempt: int) -> Optional[Reply]:
        """The proposer's reply, or None after recording why there is none. A
        :class:`~.proposers.ProposerUnavailable` is not caught: it stops the sweep."""
        name = self.proposer.name
        t0 = time.monotonic()
        try:
            reply = self.proposer.propose(ctx, slots, feedback)
        except (ProposerError, OSError) as exc:
            usage = getattr(exc, "usage", (0, 0, 0.0))
            latency = usage[2] or time.monotonic() - t0
            state.llm_calls.append(LLMCall(name, state.iteration + 1, False, usage[0], usage[1],
                                           round(latency, 3), capped(exc, 500)))
            state.proposer_calls += 1
            log.warning("ucb_llm: %s call %d failed (%s); counted, its slots may fall back to %s",
                        name, state.proposer_calls, capped(exc, 300), self.proposer.fallback.name)
            self.calls.write(state.proposer_calls, proposer=name, kind="round",
                             iteration=state.iteration + 1, attempt=attempt + 1,
                             prompt=getattr(exc, "prompt", ""), instructions=ctx.instructions,
                             images=ctx.images, raw=getattr(exc, "raw", ""), error=str(exc),
                             usage=(usage[0], usage[1], latency))
            return None
        reply.latency_s = reply.latency_s or (time.monotonic() - t0)
        state.llm_calls.append(LLMCall(name, state.iteration + 1, True, reply.input_tokens,
                                       reply.output_tokens, round(reply.latency_s, 3)))
        state.proposer_calls += 1
        return reply

    def _save_call(self, state: TreeState, ctx: Context, attempt: int, reply: Reply,
                   verdicts: dict[int, str]) -> None:
        """The call's file in ``llm/``; a proposer that sends no prompt (the heuristic) has none."""
        if not (reply.prompt or reply.raw):
            return
        self.calls.write(state.proposer_calls, proposer=self.proposer.name, kind="round",
                         iteration=state.iteration + 1, attempt=attempt + 1, prompt=reply.prompt,
                         instructions=ctx.instructions, images=ctx.images, raw=reply.raw,
                         usage=(reply.input_tokens, reply.output_tokens, reply.latency_s),
                         verdicts=verdicts)

    def _count_round(self, state: TreeState, replied: bool) -> None:
        """Stop after ``max_failed_rounds`` rounds in a row without one usable reply: a proposer
        that keeps failing is not a passing outage, and its sweep would be the fallback's."""
        state.failed_rounds = 0 if replied else state.failed_rounds + 1
        limit = int(self.conf.max_failed_rounds)
        if limit > 0 and state.failed_rounds >= limit:
            last = state.llm_calls[-1].error if state.llm_calls else "no reply"
            raise SweepError(
                f"ucb_llm: the {self.proposer.name} proposer gave no usable reply in "
                f"{state.failed_rounds} rounds in a row (last: {last}); stopping rather than "
                f"running on the {self.proposer.fallback.name} fallback (see llm/ in the sweep "
                "directory; hydra.sweeper.max_failed_rounds sets the limit)")

    def _accept(self, state: TreeState, ctx: Context, slot: Slot, reply: Reply,
                accepted: dict[int, Candidate]) -> Candidate:
        prop = {p.slot: p for p in reply.proposals}.get(slot.index)
        if prop is None:
            raise ProposalError(f"no mutation for slot {slot.index}")
        return make_candidate(state, ctx, slot, prop, accepted, self.proposer.name, self.regimes)

    def _fall_back(self, state: TreeState, ctx: Context, slot: Slot,
                   accepted: dict[int, Candidate], error: str) -> Candidate:
        fallback = self.proposer.fallback
        why = f"{self.proposer.name} proposal rejected ({capped(error, 300)}); {fallback.name} used"
        log.warning("ucb_llm: slot %d: %s", slot.index, why)
        state.fallback_slots += 1
        ctx.taken = ctx.taken + queued_configs(accepted)
        prop = fallback.propose_slot(ctx, slot, ctx.taken)
        try:
            cand = make_candidate(state, ctx, slot, prop, accepted, fallback.name, self.regimes)
        except ProposalError as exc:
            raise SweepError(f"ucb_llm: the search space does not fit the config: {exc}") from None
        cand.fallback = why
        return cand


def absorb_reply(state: TreeState, reply: Reply) -> None:
    """Take the reply's memory update, observation, visual note and next-regime choice, each
    cut to its length limit (escaping for markdown happens where the text is rendered)."""
    mem = state.memory
    if reply.memory:
        for key in ("principles", "open_questions", "observations"):
            val = reply.memory.get(key)
            if isinstance(val, list):
                setattr(mem, key, capped_list(val))
        if isinstance(reply.memory.get("hypothesis"), str):
            mem.hypothesis = capped(reply.memory["hypothesis"])
    visual = capped(reply.visual)
    note = capped(f"{reply.observation} Visual: {visual}" if visual else reply.observation)
    if note:
        mem.observations = (mem.observations + [f"(iter {state.iteration}) {note}"])[-MEMORY_ENTRIES:]
    if reply.next_regime:
        state.next_regime = capped(reply.next_regime, 200)
    state.last_visual = visual
