"""Canned replies, for tests and demos: the n-th call returns the n-th entry of a file.

The file (YAML or JSON) holds a list. An entry is the reply text itself, a mapping that is sent
as its JSON text, ``{"error": "..."}`` to simulate a failed call, or ``{"summary": "..."}``, the
block-end summary (taken only when the sweep asks for one). The call counter lives in the tree
state, so a resumed sweep continues where the killed one stopped. The prompt an LLM would have
been sent is built too, so the call log of a scripted sweep reads like an LLM's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import yaml

from ..config import ScriptedConf
from ..errors import SweepError
from ..space import SearchSpace
from ..tree import TreeState
from .base import Context, ProposerError, Reply, Slot, parse_reply
from .heuristic import HeuristicProposer


class ScriptedProposer:
    """Replays a file of replies; validated and re-asked like an LLM, but shown no instructions."""

    name = "scripted"
    reads_instructions = False

    def __init__(self, conf: ScriptedConf) -> None:
        path = Path(conf.path).expanduser()
        if not path.is_file():
            raise SweepError(
                f"scripted proposer: reply file '{conf.path}' not found; set "
                "hydra.sweeper.proposer.path to a YAML/JSON list of replies"
            )
        replies = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(replies, list):
            raise SweepError(f"scripted proposer: '{conf.path}' must hold a list of replies")
        self.replies: list[Any] = replies
        self.retries = conf.retries
        self.fallback = HeuristicProposer()

    def check_reachable(self) -> None:
        """The file was read on construction."""

    def propose(self, ctx: Context, slots: list[Slot], feedback: str = "") -> Reply:
        prompt = ctx.prompt(slots, feedback)
        n = ctx.state.proposer_calls
        if n >= len(self.replies):
            raise ProposerError(f"scripted proposer: no reply left (used {len(self.replies)})",
                                prompt=prompt)
        entry = self.replies[n]
        if isinstance(entry, dict) and set(entry) == {"error"}:
            raise ProposerError(f"scripted proposer: {entry['error']}", prompt=prompt)
        text = entry if isinstance(entry, str) else json.dumps(entry)
        try:
            reply = parse_reply(text)
        except ProposerError as exc:
            raise ProposerError(str(exc), prompt=prompt, raw=text) from None
        reply.prompt = prompt
        return reply

    def summarize(self, state: TreeState, instructions: str, prompt: str) -> Optional[Reply]:
        """The next entry, if it is a ``{"summary": ...}`` one."""
        n = state.proposer_calls
        entry = self.replies[n] if n < len(self.replies) else None
        if not (isinstance(entry, dict) and set(entry) == {"summary"}):
            return None
        return Reply(prompt=prompt, raw=str(entry["summary"]))

    def update_memory(self, state: TreeState, space: SearchSpace) -> None:
        """The replies carry their own memory updates."""
