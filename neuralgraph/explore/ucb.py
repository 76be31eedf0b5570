"""UCB scores over the current block's tree and parent selection for a round.

Visits. With one run per node, ``V(u) = 1 + (number of descendants of u)``, as in the users'
loop. Replicates generalise it: ``V(u)`` is the number of finished runs in u's subtree (u's own
runs included), so a replicated node counts as visited more often. ``N_total`` is the number of
finished runs in the block.

PUCT form (default, the users' formula)::

    UCB(u) = R(u) + c * sqrt(N_total) / (1 + V(u))

UCB1 form (``ucb_formula=ucb1``)::

    UCB(u) = Rbar(u) + c * sqrt(ln N_parent(u) / V(u))

where ``R(u)`` is the mean reward over u's own runs (its replicates), ``Rbar(u)`` the mean reward
over every run in u's subtree, and ``N_parent(u)`` the visits of u's parent (``N_total`` for a
child of the block root).

Pending children. Hydra's launcher runs a whole round before anything comes back, so the
``n_parallel`` parents of a round are picked one at a time, each pick adding a virtual visit to
the chosen node and its ancestors (and to ``N_total``). A node picked once therefore scores lower
for the next slot, and a round does not expand the same node four times by accident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from .tree import Node


@dataclass(frozen=True)
class Score:
    node: int
    ucb: float
    reward: float
    spread: float
    visits: int
    runs: int


def _visits(nodes: dict[int, Node], extra: dict[int, int]) -> dict[int, int]:
    """Finished runs in each node's subtree, plus virtual (pending) visits."""
    visits = {nid: len(n.finished_runs()) + extra.get(nid, 0) for nid, n in nodes.items()}
    for nid, n in nodes.items():
        own = len(n.finished_runs()) + extra.get(nid, 0)
        parent = n.parent
        seen = {nid}
        while parent is not None and parent in nodes and parent not in seen:
            visits[parent] += own
            seen.add(parent)
            parent = nodes[parent].parent
    return visits


def _subtree_rewards(nodes: dict[int, Node]) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {nid: [] for nid in nodes}
    for nid, n in nodes.items():
        rewards = [r.reward for r in n.finished_runs()]
        cur: Optional[int] = nid
        seen: set[int] = set()
        while cur is not None and cur in nodes and cur not in seen:
            out[cur].extend(rewards)
            seen.add(cur)
            cur = nodes[cur].parent
    return out


def ucb_scores(
    nodes: dict[int, Node],
    c: float = 1.414,
    formula: str = "puct",
    extra_visits: Optional[dict[int, int]] = None,
) -> list[Score]:
    """Scores for every node with at least one finished run, best first (ties: lower id)."""
    if formula not in ("puct", "ucb1"):
        raise ValueError(f"ucb_formula must be 'puct' or 'ucb1', got '{formula}'")
    extra = extra_visits or {}
    visits = _visits(nodes, extra)
    n_total = sum(len(n.finished_runs()) for n in nodes.values()) + sum(extra.values())
    subtree = _subtree_rewards(nodes) if formula == "ucb1" else {}
    scores = []
    for nid, node in nodes.items():
        reward = node.reward
        if reward is None:
            continue
        v = max(visits[nid], 1)
        if formula == "puct":
            ucb = reward + c * math.sqrt(n_total) / (1 + v)
        else:
            parent = node.parent if node.parent in nodes else None
            n_parent = visits[parent] if parent is not None else n_total
            rbar = sum(subtree[nid]) / len(subtree[nid])
            ucb = rbar + c * math.sqrt(math.log(max(n_parent, 1)) / v)
        scores.append(Score(nid, ucb, reward, node.spread, visits[nid], len(node.finished_runs())))
    scores.sort(key=lambda s: (-s.ucb, s.node))
    return scores


def select_parents(
    nodes: dict[int, Node], k: int, c: float = 1.414, formula: str = "puct"
) -> list[tuple[Optional[int], float]]:
    """Pick ``k`` parents for one round, counting each pick as a pending child.

    Returns ``(node id or None for the block root, its UCB at pick time)``; an empty block
    gives the root for every slot.
    """
    extra: dict[int, int] = {}
    picks: list[tuple[Optional[int], float]] = []
    for _ in range(k):
        scores = ucb_scores(nodes, c, formula, extra)
        if not scores:
            picks.append((None, float("nan")))
            continue
        best = scores[0]
        picks.append((best.node, best.ucb))
        extra[best.node] = extra.get(best.node, 0) + 1
    return picks
