"""From a proposal to a candidate job: parent checks, validation, replicates, the parent rule.

A proposal names a parent (an evaluated node of the current block, or the root) and either
changes to the parent's config or ``replicate``. It becomes a :class:`Candidate` only when the
changes pass :func:`check_proposal` (in the space, not taken, not sweep syntax) and the job's
config composes; otherwise :class:`ProposalError` says why, in words the proposer is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .proposers import Context, Proposal, Slot
from .regimes import RegimeCatalogue
from .text import RATIONALE_CHARS, capped
from .tree import TreeState
from .validate import ProposalError, check_proposal


@dataclass
class Candidate:
    """One job of a round, decided but not launched yet."""

    parent: Optional[int]
    config: dict[str, str]
    mutation: str
    changed: dict[str, str]
    replicate_of: Optional[int]
    strategy: str
    rationale: str
    proposer: str
    rule: str  # why this parent (the UCB pick, the proposer's own choice, the empty block)
    fallback: str = ""  # why the fallback proposer replaced the configured one, if it did


def queued_configs(accepted: dict[int, Candidate]) -> list[dict[str, str]]:
    """Configs this round will evaluate so far (a replicate evaluates nothing new)."""
    return [c.config for c in accepted.values() if c.replicate_of is None]


def make_candidate(state: TreeState, ctx: Context, slot: Slot, prop: Proposal,
                   accepted: dict[int, Candidate], proposer: str,
                   regimes: RegimeCatalogue) -> Candidate:
    """Validate ``prop`` for ``slot``; raises :class:`ProposalError` naming what is wrong."""
    if prop.error:
        raise ProposalError(prop.error)
    block_ids = {n.id for n in state.block_nodes() if n.reward is not None}
    if prop.parent is not None and prop.parent not in block_ids:
        raise ProposalError(f"parent {prop.parent} is not an evaluated node of this block; "
                            f"use one of {sorted(block_ids) or ['root']}")
    rule = parent_rule(slot, prop.parent)
    rationale = capped(prop.rationale, RATIONALE_CHARS)
    if prop.replicate:
        if prop.parent is None:
            raise ProposalError("a replicate needs a parent node to re-run")
        if prop.changes:
            raise ProposalError("a replicate re-runs the parent's config as it is: leave "
                                "'changes' empty, or set 'replicate' to false")
        node = state.nodes[prop.parent]
        return Candidate(node.parent, dict(node.config), node.mutation, {}, node.id,
                         "replicate", rationale, proposer, rule)
    taken = ctx.taken + queued_configs(accepted)
    if not prop.changes and prop.parent is None:
        if ctx.root_config in taken:
            raise ProposalError("the block root was already evaluated; propose a change")
        return Candidate(None, dict(ctx.root_config), "", {}, None,
                         prop.strategy or "baseline", rationale, proposer, rule)
    limit = len(ctx.space.dims) if prop.design and prop.parent is None else ctx.max_keys
    checked = check_proposal(prop.changes, ctx.config_of(prop.parent), ctx.space, taken, limit)
    regimes.check_composes(state, checked.config)
    return Candidate(prop.parent, checked.config, checked.mutation, checked.changed, None,
                     prop.strategy or "exploit", rationale, proposer, rule)


def parent_rule(slot: Slot, chosen: Optional[int]) -> str:
    """Why the candidate's parent was chosen, for ``analysis.md``."""
    if slot.parent is None:
        return "empty block tree: start from the block root"
    if chosen == slot.parent:
        return (f"UCB pick for slot {slot.index} (node {slot.parent}, UCB={slot.parent_ucb:.3f}), "
                "pending children counted")
    target = "root" if chosen is None else f"node {chosen}"
    return f"proposer chose {target} instead of the UCB pick (node {slot.parent})"
