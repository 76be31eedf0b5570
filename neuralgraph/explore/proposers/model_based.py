"""The offline default proposer: each slot takes the model's best-ranked mutation.

The model is the Gaussian process of :mod:`..advice`, fitted on every finished run of the
regime (replicates included), so every proposal learns from the whole history, not only from
its parent. The UCB tree still picks the parents; the model ranks the mutations of each parent
the validator allows (at most ``max_keys`` keys, values inside the space, nothing evaluated or
queued), and a ``principle`` slot replicates the best node where that pays.

Before the regime's first result there is nothing to fit: the first round is an initial design,
the block root and then, per slot, ``max_keys`` dimensions moved far from the root (the
dimensions dealt out in a seeded order, so that the round touches as many as it can, each value
at least a quarter of the dimension's width away). Where the space has more dimensions than that
round can move, each later round's ``explore`` slot first moves up to ``max_keys`` of those no
config of the regime has moved yet, far from its UCB parent, until every dimension has been
moved once: the model cannot rank a key it has never seen change, and its posterior for such a
key is flat, so neither expected improvement nor μ + κ sd would ever pick it. A slot the model
leaves empty (every mutation it ranks already taken) goes to the heuristic.
"""

from __future__ import annotations

import random
from typing import Any, Optional

from ..config import ModelBasedConf
from ..evidence import evidence, position
from ..space import SearchSpace
from ..tree import TreeState
from ..validate import ProposalError, check_proposal
from .base import Context, Proposal, Reply, Slot
from .heuristic import HeuristicProposer


class ModelBasedProposer:
    """Deterministic given the tree and the seed; its answers are final (no re-asks)."""

    name = "model_based"
    retries = 0
    reads_instructions = False

    def __init__(self, conf: Optional[ModelBasedConf] = None) -> None:
        self.conf = conf or ModelBasedConf()
        self._heuristic = HeuristicProposer()

    @property
    def fallback(self) -> HeuristicProposer:
        return self._heuristic

    def check_reachable(self) -> None:
        """Offline: always reachable."""

    def summarize(self, state: TreeState, instructions: str, prompt: str) -> Optional[Reply]:
        """No block summary beyond the computed one."""
        return None

    def update_memory(self, state: TreeState, space: SearchSpace) -> None:
        """The memory's principles are the effects the tree has measured (as the heuristic's)."""
        self._heuristic.update_memory(state, space)

    def propose(self, ctx: Context, slots: list[Slot], feedback: str = "") -> Reply:
        taken = list(ctx.taken)
        advice = ctx.advice(slots, taken) if ctx.advice is not None else None
        proposals = []
        order = _dealt(ctx)
        for slot in slots:
            options = advice.suggestions.get(slot.index, []) if advice is not None else []
            prop = None
            if advice is not None and advice.n_runs > 0 and slot.role == "explore":
                prop = _cover(ctx, slot, taken, order)
            if prop is None:
                prop = self._first_valid(ctx, slot, options, taken)
            if prop is None and (advice is None or advice.n_runs == 0):
                prop = _initial(ctx, slot, taken, order)
            if prop is None:
                prop = self._heuristic.propose_slot(ctx, slot, taken)
                why = "no model yet" if advice is None or advice.n_runs == 0 else "model out of options"
                prop.rationale = f"{why}: {prop.rationale}"
            proposals.append(prop)
            if not prop.replicate:
                config = ctx.config_of(prop.parent)
                config.update({k: ctx.space.dims[k].canonical(v) if k in ctx.space.dims else str(v)
                               for k, v in prop.changes.items()})
                taken.append(config)
        observation = ""
        if advice is not None and advice.best is not None:
            best = advice.best
            observation = (f"best so far: node {best.id} R={best.reward:.3f} ± {best.spread:.3f} "
                           f"({len(best.finished_runs())} run(s)); model fitted on {advice.n_runs} runs")
        return Reply(proposals=proposals, observation=observation,
                     memory=evidence(ctx.state, ctx.space))

    def _first_valid(self, ctx: Context, slot: Slot, options, taken) -> Optional[Proposal]:
        for s in options:
            if s.replicate:
                return Proposal(slot.index, s.parent, {}, replicate=True, strategy="replicate",
                                rationale=s.rationale)
            try:
                check_proposal(s.changes, ctx.config_of(s.parent), ctx.space, taken, ctx.max_keys)
            except ProposalError:
                continue
            strategy = "explore" if slot.role == "explore" else "exploit"
            return Proposal(slot.index, s.parent, dict(s.changes), strategy=strategy,
                            rationale=s.rationale)
        return None


def _dealt(ctx: Context) -> list[str]:
    """The dimensions in a seeded order, for the initial design to deal out slot by slot."""
    keys = list(ctx.space.dims)
    random.Random(ctx.seed * 7919 + ctx.state.block).shuffle(keys)
    return keys


def _initial(ctx: Context, slot: Slot, taken: list[dict[str, str]],
             order: list[str]) -> Optional[Proposal]:
    """The initial design's proposal for ``slot``: the root, or ``max_keys`` far moves from it."""
    if slot.parent is not None or not order:
        return None
    root = ctx.config_of(None)
    if slot.index == 0 and root not in taken:
        return Proposal(slot.index, None, {}, strategy="baseline",
                        rationale="initial design: the block's starting config")
    width = min(ctx.max_keys, len(order))
    start = ((slot.index - 1) * width) % len(order)
    keys = [order[(start + j) % len(order)] for j in range(width)]
    return _far_move(ctx, slot, keys, taken, "")


def _untouched(ctx: Context, taken: list[dict[str, str]], order: list[str]) -> list[str]:
    """The dimensions (in the dealt order) that no config of the regime has moved from the root."""
    root = ctx.config_of(None)
    return [k for k in order if all(c.get(k) == root.get(k) for c in taken)]


def _cover(ctx: Context, slot: Slot, taken: list[dict[str, str]],
           order: list[str]) -> Optional[Proposal]:
    """Move up to ``max_keys`` never-moved dimensions far from the slot's parent; None once
    every dimension has been moved (or no such move is valid)."""
    keys = _untouched(ctx, taken, order)[: max(ctx.max_keys, 1)]
    return _far_move(ctx, slot, keys, taken, " (never moved yet)") if keys else None


def _far_move(ctx: Context, slot: Slot, keys: list[str], taken: list[dict[str, str]],
              note: str) -> Optional[Proposal]:
    """``keys`` moved far from the slot's parent, the first valid draw of a few; None if none is."""
    base = ctx.config_of(slot.parent)
    rng = random.Random(ctx.seed * 1_000_003 + ctx.state.iteration * 101 + slot.index)
    where = "the root" if slot.parent is None else f"node {slot.parent}"
    for _ in range(24):
        changes = {k: _far(ctx.space.dims[k], base.get(k), rng) for k in keys}
        try:
            check_proposal(changes, base, ctx.space, taken, ctx.max_keys)
        except ProposalError:
            continue
        return Proposal(slot.index, slot.parent, changes, strategy="explore",
                        rationale=f"initial design: move {', '.join(keys)}{note} far from {where}")
    return None


def _far(dim: Any, current: Optional[str], rng: random.Random) -> Any:
    """A value of ``dim`` at least a quarter of its width from ``current`` where there is one."""
    u = position(dim, current) if current is not None else 0.5
    units = [x / 20 for x in range(21) if abs(x / 20 - u) >= 0.25] or [rng.random()]
    return dim.from_unit(rng.choice(units))
