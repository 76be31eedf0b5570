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

Only these fields are read; any other text is ignored. Each field must have the type the prompt
shows: ``slot`` an integer, ``parent`` a node id or ``"root"`` (``true`` is not node 1),
``replicate`` a JSON boolean (the string ``"false"`` is not false), ``strategy`` one of
:data:`STRATEGIES`. A mutation that breaks this is rejected for its slot, with the reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

from ..errors import SweepError
from ..space import SearchSpace
from ..tree import TreeState

if TYPE_CHECKING:
    from ..advice import Advice
    from ..plots import Plot

STRATEGIES = ("exploit", "explore", "boundary-probe", "degeneracy-break", "switch-dimension",
              "recombine", "replicate", "principle-test")


class ProposerError(RuntimeError):
    """No usable reply this time (timeout, rate limit, server error, unparsable text): the
    sweep counts it, logs it and fills the slots with the fallback proposer.

    ``prompt`` and ``raw`` (the reply text, if any) and ``usage`` (tokens in, out, latency)
    travel with the error so that the call is saved like any other.
    """

    def __init__(self, message: str, *, prompt: str = "", raw: str = "",
                 usage: tuple[int, int, float] = (0, 0, 0.0)) -> None:
        super().__init__(message)
        self.prompt, self.raw, self.usage = prompt, raw, usage


class ProposerUnavailable(SweepError):
    """The configured proposer cannot work at all (no API key, no ``claude`` binary, a key the
    server refuses): the sweep stops with this one line instead of running on the fallback."""


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
    error: str = ""  # why the mutation as written breaks the answer format ("" if it does not)
    # A point of an offline proposer's initial design: a child of the root that may change every
    # key (never set from an LLM's reply, whose mutations keep the max_keys rule).
    design: bool = False


@dataclass
class Reply:
    """A parsed answer; ``prompt`` and ``raw`` keep what was asked and said, for the call log."""

    proposals: list[Proposal] = field(default_factory=list)
    observation: str = ""
    visual: str = ""
    memory: Optional[dict[str, Any]] = None
    next_regime: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    prompt: str = ""
    raw: str = ""


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
    images: list[Plot] = field(default_factory=list)  # the plots the instructions name, labelled
    taken: list[dict[str, str]] = field(default_factory=list)
    regimes: list[str] = field(default_factory=list)  # landscape mode: regimes to choose from
    max_keys: int = 2  # keys one mutation may change
    # (slots, configs taken) -> the model's ranked suggestions per slot (:mod:`..advice`); None
    # where no model is fitted. Fitted on first use, so a proposer that never asks pays nothing.
    advice: Optional[Callable[[list[Slot], list[dict[str, str]]], Advice]] = None

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
    """Read an LLM reply; raises :class:`ProposerError` when it holds no usable answer at all.

    A mutation whose fields have the wrong type still becomes a :class:`Proposal` for its slot,
    carrying the reason in ``error``: only that slot is rejected and re-asked.
    """
    obj = extract_json(text)
    muts = obj.get("mutations")
    if not isinstance(muts, list):
        raise ProposerError("the JSON object needs a 'mutations' list")
    proposals = []
    for i, m in enumerate(muts):
        if not isinstance(m, dict):
            raise ProposerError(f"mutations[{i}] is not an object")
        proposals.append(_proposal(i, m))
    memory = obj.get("memory_update")
    return Reply(
        proposals=proposals,
        observation=_text(obj.get("observation")),
        visual=_text(obj.get("visual_assessment")),
        memory=memory if isinstance(memory, dict) else None,
        next_regime=_text(obj.get("next_regime")),
        raw=text,
    )


def _proposal(i: int, m: dict[str, Any]) -> Proposal:
    slot = _integer(m.get("slot", i))
    if slot is None:
        raise ProposerError(f"mutations[{i}]: 'slot' must be an integer, got {json.dumps(m.get('slot'))}")
    prop = Proposal(slot=slot, parent=None, rationale=_text(m.get("rationale")))
    errors = []
    parent = m.get("parent")
    if not (parent is None or (isinstance(parent, str) and parent.strip().lower() == "root")):
        prop.parent = _integer(parent)
        if prop.parent is None:
            errors.append(f"'parent' must be a node id (an integer) or \"root\", got {json.dumps(parent)}")
    replicate = m.get("replicate", False)
    if isinstance(replicate, bool):
        prop.replicate = replicate
    else:
        errors.append(f"'replicate' must be true or false (a JSON boolean), got {json.dumps(replicate)}")
    strategy = m.get("strategy", "")
    if isinstance(strategy, str) and strategy.strip().lower() in STRATEGIES + ("",):
        prop.strategy = strategy.strip().lower()
    else:
        errors.append(f"'strategy' must be one of {', '.join(STRATEGIES)}, got {json.dumps(strategy)}")
    changes = m.get("changes", {})
    if isinstance(changes, dict):
        prop.changes = changes
    else:
        errors.append("'changes' must be an object mapping keys to values")
    prop.error = "; ".join(errors)
    return prop


def _integer(value: Any) -> Optional[int]:
    """An integer written as a JSON number or digits; None for anything else (``true`` included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


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

    def check_reachable(self) -> None:
        """Raise :class:`ProposerUnavailable` if no call can ever succeed (checked at start)."""
        ...

    @property
    def fallback(self) -> SlotProposer:
        """Fills the slots whose answers stayed rejected after the retries."""
        ...

    def propose(self, ctx: Context, slots: list[Slot], feedback: str = "") -> Reply: ...

    def update_memory(self, state: TreeState, space: SearchSpace) -> None:
        """Rewrite the tree's working memory from the results so far (or leave it)."""
        ...

    def summarize(self, state: TreeState, instructions: str, prompt: str) -> Optional[Reply]:
        """The block-end summary as ``Reply.raw``, or None for a proposer that writes none."""
        ...
