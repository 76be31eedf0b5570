"""The offline default proposer: the users' strategy table as rules.

For each slot, the first rule that applies wins:

1. empty block: slot 0 evaluates the block root itself (``baseline``), the other slots move one
   dimension each (``explore``);
2. role ``principle``: replicate the block's best node until it has ``replicates`` runs, else
   ``recombine`` two good nodes that are not on one branch, else ``explore``;
3. ``degeneracy-break``: the parent's ``degeneracy_key - reward`` exceeds ``degeneracy_gap`` and
   the regime names a break move;
4. ``boundary-probe``: the last three runs of the block all reached ``success_threshold``: push one
   dimension to a bound;
5. ``explore``: role explore, or four partial results in a row: a large move on the dimension
   mutated least in this block;
6. ``exploit``: a small step on the parent's last dimension, in the direction that improved it,
   unless the last four mutations on the chain all moved that dimension (``switch-dimension``).

A candidate already evaluated or queued is redrawn; the rules never leave the search space.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Optional

from ..config import HeuristicConf
from ..evidence import evidence
from ..evidence import position as _pos
from ..space import Dimension, SearchSpace
from ..tree import TreeState
from ..validate import ProposalError, check_proposal
from .base import Context, Proposal, Reply, Slot

_ATTEMPTS = 24


class HeuristicProposer:
    """Offline and deterministic (seeded per slot): its answers are final, it is its own
    fallback, and the working memory's principles are the evidence the tree holds."""

    name = "heuristic"
    retries = 0  # asked again it would give the same answers (its draws ignore the feedback)
    reads_instructions = False

    def __init__(self, conf: Optional[HeuristicConf] = None) -> None:
        self.conf = conf or HeuristicConf()

    @property
    def fallback(self) -> HeuristicProposer:
        return self

    def check_reachable(self) -> None:
        """Offline: always reachable."""

    def summarize(self, state: TreeState, instructions: str, prompt: str) -> Optional[Reply]:
        """No block summary beyond the computed one."""
        return None

    def update_memory(self, state: TreeState, space: SearchSpace) -> None:
        """Without an LLM, the memory's principles are the evidence the tree holds so far."""
        found = evidence(state, space)
        state.memory.principles = found["principles"]
        state.memory.open_questions = found["open_questions"]

    # ---- public --------------------------------------------------------------------------
    def propose(self, ctx: Context, slots: list[Slot], feedback: str = "") -> Reply:
        taken = list(ctx.taken)
        proposals = []
        for slot in slots:
            prop = self.propose_slot(ctx, slot, taken)
            proposals.append(prop)
            if not prop.replicate:
                parent_cfg = ctx.config_of(prop.parent)
                cfg = dict(parent_cfg)
                cfg.update({k: str(v) for k, v in prop.changes.items()})
                taken.append(cfg)
        return Reply(proposals=proposals, observation=self._observation(ctx),
                     memory=evidence(ctx.state, ctx.space))

    def propose_slot(self, ctx: Context, slot: Slot, taken: list[dict[str, str]]) -> Proposal:
        rng = random.Random(ctx.seed * 1_000_003 + ctx.state.iteration * 101 + slot.index)
        block = [n for n in ctx.state.block_nodes() if n.reward is not None]
        dims = list(ctx.space.dims.values())
        if not dims:
            return self._replicate_or_root(ctx, slot)

        if slot.parent is None and not block:
            if slot.index == 0 and ctx.root_config not in taken:
                return Proposal(slot.index, None, {}, strategy="baseline",
                                rationale="evaluate the block's starting config first")
            dim = dims[slot.index % len(dims)]
            return self._draw(ctx, slot, None, taken, rng, "explore", dim, big=False,
                              why=f"initial spread: vary {dim.key} from the root")

        if slot.role == "principle":
            best = ctx.state.best_node(ctx.state.block)
            if best is not None and len(best.runs) < self.conf.replicates:
                return Proposal(slot.index, best.id, {}, replicate=True, strategy="replicate",
                                rationale=f"node {best.id} is the block's best "
                                f"(R={best.reward:.3f}) with {len(best.runs)} run(s): "
                                "measure its seed-to-seed spread")
            pair = self._recombine_pair(ctx)
            if pair is not None:
                prop = self._recombine(ctx, slot, pair, taken)
                if prop is not None:
                    return prop

        parent = ctx.state.nodes.get(slot.parent) if slot.parent is not None else None
        if parent is not None and self.conf.degeneracy_break:
            gap_metric = parent.mean_metric(self.conf.degeneracy_key)
            if gap_metric is not None and gap_metric - parent.reward > self.conf.degeneracy_gap:
                prop = self._degeneracy_break(ctx, slot, taken)
                if prop is not None:
                    return prop

        recent = [n.reward for n in sorted(block, key=lambda n: n.id)[-4:]]
        if len(recent) >= 3 and all(r >= self.conf.success_threshold for r in recent[-3:]):
            return self._boundary(ctx, slot, taken, rng)

        partial = len(recent) >= 4 and all(
            self.conf.failure_threshold <= r < self.conf.success_threshold for r in recent
        )
        if slot.role in ("explore", "principle") or partial:
            dim = self._least_mutated(ctx, dims, rng)
            why = "four partial results in a row" if partial else "explore a dimension mutated least"
            return self._draw(ctx, slot, slot.parent, taken, rng, "explore", dim, big=True, why=why)

        return self._exploit(ctx, slot, taken, rng, dims)

    # ---- rules ---------------------------------------------------------------------------
    def _exploit(self, ctx, slot, taken, rng, dims) -> Proposal:
        chain = ctx.state.chain(slot.parent)
        last_keys = [next(iter(n.changed)) for n in chain if len(n.changed) == 1]
        strategy, why = "exploit", "small step from the highest-UCB node"
        dim = None
        direction = rng.choice((-1, 1))
        if last_keys:
            key = last_keys[0]
            if len(last_keys) >= 4 and all(k == key for k in last_keys[:4]):
                strategy = "switch-dimension"
                others = [d for d in dims if d.key != key] or dims
                dim = rng.choice(others)
                why = f"four mutations in a row moved {key}"
            elif key in ctx.space.dims:
                dim = ctx.space.dims[key]
                direction = self._momentum(ctx, chain, key) or direction
                why = f"continue along {key} where it helped"
        if dim is None:
            dim = rng.choice(dims)
        return self._draw(ctx, slot, slot.parent, taken, rng, strategy, dim, big=False,
                          why=why, direction=direction)

    def _momentum(self, ctx, chain, key) -> int:
        """+1/-1: keep the direction of the last move on ``key`` if it improved the reward."""
        if len(chain) < 2 or chain[0].reward is None or chain[1].reward is None:
            return 0
        dim = ctx.space.dims[key]
        if key not in chain[0].config or key not in chain[1].config:
            return 0
        moved = 1 if _pos(dim, chain[0].config[key]) > _pos(dim, chain[1].config[key]) else -1
        return moved if chain[0].reward >= chain[1].reward else -moved

    def _boundary(self, ctx, slot, taken, rng) -> Proposal:
        dims = list(ctx.space.dims.values())
        for dim in rng.sample(dims, len(dims)):
            cur = ctx.config_of(slot.parent).get(dim.key)
            u = _pos(dim, cur) if cur is not None else 0.5
            target = dim.from_unit(0.0 if u > 0.5 else 1.0)
            prop = self._try(ctx, slot, slot.parent, {dim.key: target}, taken, "boundary-probe",
                             f"three successes in a row: find where {dim.key} breaks")
            if prop is not None:
                return prop
        return self._draw(ctx, slot, slot.parent, taken, rng, "explore", rng.choice(dims), True,
                          "bounds already probed")

    def _degeneracy_break(self, ctx, slot, taken) -> Optional[Proposal]:
        cfg = ctx.config_of(slot.parent)
        changes: dict[str, Any] = {}
        for key, sense in self.conf.degeneracy_break.items():
            dim = ctx.space.dims.get(key)
            if dim is None or key not in cfg:
                continue
            u = _pos(dim, cfg[key]) + (0.2 if sense == "up" else -0.2)
            changes[key] = dim.from_unit(u)
        if not changes:
            return None
        return self._try(ctx, slot, slot.parent, changes, taken, "degeneracy-break",
                         f"{self.conf.degeneracy_key} - reward > {self.conf.degeneracy_gap}: "
                         "good dynamics from wrong parameters")

    def _recombine_pair(self, ctx):
        good = [n for n in ctx.state.block_nodes()
                if n.reward is not None and n.reward >= self.conf.success_threshold]
        good.sort(key=lambda n: -n.reward)
        for i, a in enumerate(good):
            for b in good[i + 1:]:
                a_anc = {n.id for n in ctx.state.chain(a.id)}
                b_anc = {n.id for n in ctx.state.chain(b.id)}
                if a.id not in b_anc and b.id not in a_anc:
                    return a, b
        return None

    def _recombine(self, ctx, slot, pair, taken) -> Optional[Proposal]:
        a, b = pair
        differing = [k for k, v in sorted(b.config.items()) if a.config.get(k) != v and k in ctx.space.dims]
        # The mutation-size rule binds every proposer: merge as many of b's keys as it allows.
        changes = {k: b.config[k] for k in differing[: ctx.max_keys]}
        if not changes:
            return None
        return self._try(ctx, slot, a.id, changes, taken, "recombine",
                         f"merge node {b.id}'s settings into node {a.id}; both are good and on "
                         "different branches")

    def _least_mutated(self, ctx, dims: list[Dimension], rng) -> Dimension:
        counts = Counter(k for n in ctx.state.block_nodes() for k in n.changed)
        low = min(counts.get(d.key, 0) for d in dims)
        return rng.choice([d for d in dims if counts.get(d.key, 0) == low])

    # ---- drawing values ------------------------------------------------------------------
    def _draw(self, ctx, slot, parent, taken, rng, strategy, dim, big, why, direction=0) -> Proposal:
        cfg = ctx.config_of(parent)
        order = [dim] + [d for d in rng.sample(list(ctx.space.dims.values()), len(ctx.space.dims))
                         if d.key != dim.key]
        for attempt in range(_ATTEMPTS):
            d = order[0] if attempt < _ATTEMPTS // 2 else order[attempt % len(order)]
            cur = cfg.get(d.key)
            u = _pos(d, cur) if cur is not None else rng.random()
            if big:
                target_u = rng.random()
            else:
                sign = direction or rng.choice((-1, 1))
                if attempt % 2 == 1:
                    sign = -sign
                step = self.conf.step * (1 + attempt // 2)
                if d.kind != "interval":
                    step = max(step, 1.0 / max(len(d.choices) - 1, 1))
                target_u = u + sign * step
            prop = self._try(ctx, slot, parent, {d.key: d.from_unit(target_u)}, taken, strategy, why)
            if prop is not None:
                return prop
        return self._replicate_or_root(ctx, slot)

    def _try(self, ctx, slot, parent, changes, taken, strategy, why) -> Optional[Proposal]:
        try:
            check_proposal(changes, ctx.config_of(parent), ctx.space, taken, ctx.max_keys)
        except ProposalError:
            return None
        return Proposal(slot.index, parent, dict(changes), strategy=strategy, rationale=why)

    def _replicate_or_root(self, ctx, slot) -> Proposal:
        target = slot.parent if slot.parent is not None else getattr(ctx.state.best_node(), "id", None)
        if target is None:
            return Proposal(slot.index, None, {}, strategy="baseline", rationale="nothing else to try")
        return Proposal(slot.index, target, {}, replicate=True, strategy="replicate",
                        rationale="no untried config near this node: measure its spread instead")

    def _observation(self, ctx: Context) -> str:
        best = ctx.state.best_node(ctx.state.block)
        if best is None:
            return ""
        return f"block best so far: node {best.id} R={best.reward:.3f} ± {best.spread:.3f} ({len(best.finished_runs())} run(s))"
