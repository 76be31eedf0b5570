"""The offline default proposer: each slot takes the model's best-ranked mutation.

The model is the Gaussian process of :mod:`..advice`, fitted on every finished run of the
regime (replicates included), so every proposal learns from the whole history, not only from
its parent. The UCB tree still picks the parents; the model ranks the mutations of each parent
the validator allows (at most ``max_keys`` keys, values inside the space, nothing evaluated or
queued), and a ``principle`` slot replicates the best node where that pays.

Before the model proposes, the regime gets an initial design of ``design_runs`` runs: the block
root, then points of a Latin hypercube over every key of the space (seeded; of many such, the
one with the best maximum-projection criterion), each a child of the root. A model fitted on a
handful of one- or two-key moves from one config sees little of the space; the design is what
a Bayesian optimiser starts from, and what random search would have tried by then (TPE's first
ten trials are random). Only these design points may change more than
``max_keys`` keys. Where the design leaves some dimension unmoved (``design_runs`` small), each
later round's ``explore`` slot first moves up to ``max_keys`` of those no config of the regime has
moved yet, far from its UCB parent, until every dimension has been moved once: the model cannot
rank a key it has never seen change, and its posterior for such a key is flat, so neither
expected improvement nor μ + κ sd would ever pick it. A slot the model leaves empty (every
mutation it ranks already taken) goes to the heuristic.
"""

from __future__ import annotations

import math
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
        design = _design(ctx, self.conf.design_runs - 1) if len(taken) < self.conf.design_runs else []
        for slot in slots:
            options = advice.suggestions.get(slot.index, []) if advice is not None else []
            prop = None
            if len(taken) < self.conf.design_runs:
                prop = _initial(ctx, slot, taken, design)
            if prop is None and advice is not None and advice.n_runs > 0 and slot.role == "explore":
                prop = _cover(ctx, slot, taken, order)
            if prop is None:
                prop = self._first_valid(ctx, slot, options, taken)
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
    """The dimensions in a seeded order, for the coverage moves to take in turn."""
    keys = list(ctx.space.dims)
    random.Random(ctx.seed * 7919 + ctx.state.block).shuffle(keys)
    return keys


def _design(ctx: Context, n: int, candidates: int = 128) -> list[dict[str, Any]]:
    """``n`` points of a seeded Latin hypercube over every dimension, as changes to the root:
    each dimension's range is cut into ``n`` equal strata and every stratum is used once.

    Of ``candidates`` seeded hypercubes the one with the smallest maximum-projection criterion
    (Joseph, Gul & Ba 2015; their 2020 form for discrete factors) is kept, the root counted as a
    fixed point:  ψ = Σ_{i<j} 1 / Π_k d_k(x_i, x_j)²,  d_k = (|l_ik − l_jk| + 1) / L_k for a key of
    L_k levels, and |u_ik − u_jk| + 1/n for a continuous one (read as the hypercube's n strata, so
    that two points close on one continuous key do not outweigh a shared cell of two others).
    A Latin hypercube spreads each key alone; two points that share a cell of several keys make
    the product small. With seven points, whether one lands in the good corner of two choice keys
    is what decides a budget of eight.
    """
    if n <= 0 or not ctx.space.dims:
        return []
    rng = random.Random(ctx.seed * 7919 + 1)
    dims = list(ctx.space.dims.values())
    root = ctx.config_of(None)
    fixed = [position(d, root.get(d.key)) if root.get(d.key) is not None else 0.5 for d in dims]
    best, best_psi = None, math.inf
    for _ in range(max(candidates, 1)):
        units = [[(s + rng.random()) / n for s in rng.sample(range(n), n)] for _ in dims]
        psi = _maxpro(dims, [fixed] + [[col[i] for col in units] for i in range(n)])
        if psi < best_psi:
            best, best_psi = units, psi
    columns = {d.key: [_value_at(d, u) for u in col] for d, col in zip(dims, best)}
    return [{k: col[i] for k, col in columns.items()
             if ctx.space.dims[k].canonical(col[i]) != root.get(k)} for i in range(n)]


def _maxpro(dims: list[Any], points: list[list[float]]) -> float:
    """The maximum-projection criterion of ``points`` (unit positions; the root's choice
    positions are read as its level). Computed in logs: a product of eight small distances
    underflows."""
    def coord(d: Any, u: float, is_root: bool) -> float:
        if d.kind == "interval":
            return u
        levels = len(d.choices)
        return round(u * (levels - 1)) if is_root else min(int(u * levels), levels - 1)

    n = len(points) - 1
    rows = [[coord(d, u, i == 0) for d, u in zip(dims, p)] for i, p in enumerate(points)]
    logs = []
    for i in range(len(rows)):
        for j in range(i):
            total = 0.0
            for d, a, b in zip(dims, rows[i], rows[j]):
                dist = abs(a - b) + 1 / n if d.kind == "interval" else (abs(a - b) + 1) / len(d.choices)
                total += -2.0 * math.log(max(dist, 1e-9))
            logs.append(total)
    top = max(logs, default=0.0)
    return top + math.log(sum(math.exp(x - top) for x in logs)) if logs else 0.0


def _value_at(dim: Any, u: float) -> Any:
    """The value at unit position ``u``; a choice's values get equal shares of [0, 1]."""
    if dim.kind == "interval":
        return dim.from_unit(u)
    return dim.choices[min(int(u * len(dim.choices)), len(dim.choices) - 1)]


def _initial(ctx: Context, slot: Slot, taken: list[dict[str, str]],
             design: list[dict[str, Any]]) -> Optional[Proposal]:
    """The initial design's next run: the root, then the first design point not yet taken."""
    root = ctx.config_of(None)
    if root not in taken:
        return Proposal(slot.index, None, {}, strategy="baseline",
                        rationale="initial design: the block's starting config")
    for i, changes in enumerate(design):
        if not changes:
            continue
        try:
            check_proposal(changes, root, ctx.space, taken, len(ctx.space.dims))
        except ProposalError:
            continue
        return Proposal(slot.index, None, dict(changes), strategy="explore", design=True,
                        rationale=f"initial design: point {i + 1} of {len(design)} of a Latin "
                                  "hypercube over every key")
    return None


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
                        rationale=f"coverage: move {', '.join(keys)}{note} far from {where}")
    return None


def _far(dim: Any, current: Optional[str], rng: random.Random) -> Any:
    """A value of ``dim`` at least a quarter of its width from ``current`` where there is one
    (a choice: another of its values, the far ones first)."""
    u = position(dim, current) if current is not None else 0.5
    if dim.kind != "interval":
        others = [c for c in dim.choices if current is None or dim.canonical(c) != current]
        far = [c for c in others if abs(dim.to_unit(c) - u) >= 0.25]
        return rng.choice(far or others or list(dim.choices))
    units = [x / 20 for x in range(21) if abs(x / 20 - u) >= 0.25] or [rng.random()]
    return dim.from_unit(rng.choice(units))
