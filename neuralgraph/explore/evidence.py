"""What the tree has established: the measured effect of each key, from single-key mutations.

Used by the heuristic proposer to write the working memory's principles (an LLM writes its own).
An effect counts only when it exceeds the seed noise measured on replicated nodes; a failed run's
reward is a placeholder, so a mutation touching one is no evidence. "No effect" compares the
reward and the science metrics, never wall time (which differs between any two runs).
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from typing import Any

from .space import Dimension, SearchSpace
from .tree import Run, TreeState
from .tree import seed_noise as pooled_noise


def position(dim: Dimension, text: Any) -> float:
    """Unit position of a config's text value; 0.5 when it cannot be read."""
    if dim.kind != "interval":
        return dim.to_unit(text)
    try:
        value = float(text)
    except (TypeError, ValueError):
        return 0.5
    return dim.to_unit(value)


_BOOKKEEPING = re.compile(r"time|seconds|duration|n_steps|epoch|device|dataset|error|status")


def science_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The metrics that describe the result: finite numbers, not wall time or bookkeeping."""
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
            and not _BOOKKEEPING.search(k)}


def same_result(a: Run, b: Run) -> bool:
    """Two runs with the same reward and the same science metrics (wall time ignored)."""
    if a.reward is None or b.reward is None or not math.isclose(a.reward, b.reward, rel_tol=1e-9,
                                                                  abs_tol=1e-12):
        return False
    ma, mb = science_metrics(a.metrics), science_metrics(b.metrics)
    shared = set(ma) & set(mb)
    return all(math.isclose(ma[k], mb[k], rel_tol=1e-9, abs_tol=1e-12) for k in shared)


def seed_noise(state: TreeState) -> float:
    """Pooled seed-to-seed standard deviation of the reward over replicated nodes (0 if none)."""
    return pooled_noise(list(state.nodes.values()))


@dataclass
class _Move:
    node: int
    label: str  # "raising K", "lowering K" or "setting K=v"
    effect: float  # child reward - parent reward


def single_key_moves(state: TreeState, space: SearchSpace) -> dict[str, list[_Move]]:
    """Each key's single-key mutations between two nodes that both produced a reward."""
    out: dict[str, list[_Move]] = {}
    for n in state.nodes.values():
        parent = state.nodes.get(n.parent) if n.parent is not None else None
        if parent is None or len(n.changed) != 1 or not (n.succeeded and parent.succeeded):
            continue
        (key, new), = n.changed.items()
        dim = space.dims.get(key)
        if dim is None or key not in parent.config or n.reward is None or parent.reward is None:
            continue
        if dim.kind == "choice" and not all(isinstance(c, (int, float)) for c in dim.choices):
            label = f"setting {key}={new}"
        else:
            label = f"{'raising' if position(dim, new) > position(dim, parent.config[key]) else 'lowering'} {key}"
        out.setdefault(key, []).append(_Move(n.id, label, n.reward - parent.reward))
    return out


def evidence(state: TreeState, space: SearchSpace, min_support: int = 2,
             min_effect: float = 0.01) -> dict[str, Any]:
    """Principles from the measured effects of single-key mutations.

    An effect is real when ``|Δreward| > max(min_effect, 2 σ_seed)`` (σ_seed pooled over the
    replicated nodes). A move that was real and in the same direction at least ``min_support``
    times, in at least 3/4 of that key's real moves, is a principle, quoted with its mean effect
    and nodes. A key whose every move (at least two) stayed below the threshold is stated as
    having no measurable effect; one whose moves left the reward and the science metrics exactly
    equal (same seed) is stated as inert. Open questions: the keys never moved.
    """
    noise = seed_noise(state)
    threshold = max(min_effect, 2 * noise)
    key_name = state.block_key
    principles = []
    for key, moves in sorted(single_key_moves(state, space).items()):
        real = [m for m in moves if abs(m.effect) > threshold]
        groups: dict[tuple[str, str], list[_Move]] = {}
        for m in real:
            groups.setdefault(_finding(m), []).append(m)
        for (label, verb), support in sorted(groups.items()):
            if len(support) >= min_support and len(support) >= 0.75 * len(real):
                gain = statistics.fmean(abs(m.effect) for m in support)
                principles.append(
                    f"{label} {verb} {key_name} by {gain:.3f} on average in {len(support)}/"
                    f"{len(real)} single-key mutations with an effect above {threshold:.3f} "
                    f"(nodes {', '.join(str(m.node) for m in support)})")
        if len(moves) >= 2 and not real:
            inert = _inert(state, moves)
            what = ("changed nothing at all (same reward and metrics)" if len(inert) == len(moves)
                    else f"moved {key_name} by less than {threshold:.3f}")
            principles.append(f"{key} {what} in {len(moves)} single-key mutations (nodes "
                              f"{', '.join(str(m.node) for m in moves)}): no measurable effect here")
    moved = {k for n in state.nodes.values() for k in n.changed}
    untested = [k for k in space.dims if k not in moved]
    questions = [f"untested so far: {', '.join(untested)}"] if untested else []
    return {"principles": principles, "open_questions": questions}


def _finding(m: _Move) -> tuple[str, str]:
    """(the move that helps, "improved") — or, for a value setting that hurt, (it, "worsened")."""
    if m.effect > 0:
        return m.label, "improved"
    for a, b in (("raising ", "lowering "), ("lowering ", "raising ")):
        if m.label.startswith(a):
            return b + m.label[len(a):], "improved"
    return m.label, "worsened"


def _inert(state: TreeState, moves: list[_Move]) -> list[_Move]:
    """Moves whose first run equals the parent's first run with the same seed."""
    out = []
    for m in moves:
        node = state.nodes[m.node]
        parent = state.nodes[node.parent]
        a, b = node.runs[0], parent.runs[0]
        if a.seed == b.seed and same_result(a, b):
            out.append(m)
    return out
