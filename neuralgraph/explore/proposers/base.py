"""What every proposer is, receives and returns, and how an LLM's JSON reply is read.

A proposer is anything with the :class:`Proposer` members; the loop reads its capabilities
from them (how often it may be re-asked, whether it is shown the instruction document, what
fills a slot it could not, what it writes to the working memory) and never from its class.

An LLM answers with one JSON object::

    {"mutations": [{"slot": 0, "parent": 7, "strategy": "exploit",
                    "changes": {"training.lr_k": 0.002}, "replicate": false,
                    "rationale": "..."}],
     "observation": "...", "visual_assessment": "...",
     "memory_update": {"principles": [...], "open_questions": [...],
                       "observations": [...], "hypothesis": "..."},
     "next_regime": "..."}

Only these fields are read; any other text is ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

from ..space import SearchSpace
from ..tree import TreeState


class ProposerError(RuntimeError):
    """The proposer produced no usable reply (transport error, timeout, unparsable text)."""


@dataclass
class Slot:
    index: int
    parent: Optional[int]  # None: the block root
    parent_ucb: float
    role: str  # suggested role: exploit | explore | principle


@dataclass
class Proposal:
    slot: int
    parent: Optional[int]
    changes: dict[str, Any] = field(default_factory=dict)
    replicate: bool = False
    strategy: str = ""
    rationale: str = ""


@dataclass
class Reply:
    proposals: list[Proposal] = field(default_factory=list)
    observation: str = ""
    visual: str = ""
    memory: Optional[dict[str, Any]] = None
    next_regime: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0


@dataclass
class Context:
    """Everything a proposer may look at for one round."""

    state: TreeState
    space: SearchSpace
    root_config: dict[str, str]
    slots: list[Slot]
    seed: int
    prompt: Callable[[list[Slot], str], str]  # (slots, feedback) -> user prompt text
    instructions: str = ""
    images: list[str] = field(default_factory=list)
    taken: list[dict[str, str]] = field(default_factory=list)
    regimes: list[str] = field(default_factory=list)  # landscape mode: regimes to choose from

    def config_of(self, node_id: Optional[int]) -> dict[str, str]:
        if node_id is None:
            return dict(self.root_config)
        return dict(self.state.nodes[node_id].config)


_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)


def extract_json(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (inside a ```json fence or bare)."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    start = text.find("{")
    if start >= 0:
        candidates.append(text[start : text.rfind("}") + 1])
    for cand in candidates:
        try:
            obj = json.loads(cand)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    raise ProposerError("the reply holds no JSON object; answer with one JSON object as specified")


def parse_reply(text: str) -> Reply:
    """Read an LLM reply; raises :class:`ProposerError` naming what is wrong."""
    obj = extract_json(text)
    muts = obj.get("mutations")
    if not isinstance(muts, list):
        raise ProposerError("the JSON object needs a 'mutations' list")
    proposals = []
    for i, m in enumerate(muts):
        if not isinstance(m, dict):
            raise ProposerError(f"mutations[{i}] is not an object")
        parent = m.get("parent")
        if isinstance(parent, str):
            parent = None if parent.strip().lower() in ("root", "none", "") else parent
        try:
            parent = None if parent is None else int(parent)
            slot = int(m.get("slot", i))
        except (TypeError, ValueError):
            raise ProposerError(f"mutations[{i}]: 'slot' and 'parent' must be integers (or 'root')") from None
        changes = m.get("changes", m.get("overrides", {}))
        if isinstance(changes, list):  # ["key=value", ...] is a common variant
            pairs = [str(c).split("=", 1) for c in changes]
            if any(len(p) != 2 for p in pairs):
                raise ProposerError(f"mutations[{i}]: each override must read key=value")
            changes = {k: v for k, v in pairs}
        if not isinstance(changes, dict):
            raise ProposerError(f"mutations[{i}]: 'changes' must map keys to values")
        proposals.append(
            Proposal(
                slot=slot,
                parent=parent,
                changes=changes,
                replicate=bool(m.get("replicate", False)),
                strategy=str(m.get("strategy", "")),
                rationale=str(m.get("rationale", "")),
            )
        )
    memory = obj.get("memory_update")
    return Reply(
        proposals=proposals,
        observation=str(obj.get("observation", "")),
        visual=str(obj.get("visual_assessment", "")),
        memory=memory if isinstance(memory, dict) else None,
        next_regime=str(obj.get("next_regime", "") or ""),
    )


class SlotProposer(Protocol):
    """Fills one slot, always with a proposal (the heuristic)."""

    name: str

    def propose_slot(self, ctx: Context, slot: Slot, taken: list[dict[str, str]]) -> Proposal: ...


class Proposer(Protocol):
    """What the loop asks for mutations.

    ``propose`` answers for the given slots (``feedback`` lists why its previous answer was
    rejected) or raises :class:`ProposerError`; ``update_memory`` runs after each round's
    results are recorded.
    """

    name: str  # recorded with every node it proposed and every call it answered
    retries: int  # re-asks after a rejected answer, with the reasons shown (0: none)
    reads_instructions: bool  # shown the regime's instruction document (an LLM)

    @property
    def fallback(self) -> SlotProposer:
        """Fills the slots whose answers stayed rejected after the retries."""
        ...

    def propose(self, ctx: Context, slots: list[Slot], feedback: str = "") -> Reply: ...

    def update_memory(self, state: TreeState, space: SearchSpace) -> None:
        """Rewrite the tree's working memory from the results so far (or leave it)."""
        ...
