"""Canned replies, for tests and demos: the n-th call returns the n-th entry of a file.

The file (YAML or JSON) holds a list. An entry is the reply text itself, a mapping that is sent
as its JSON text, or ``{"error": "..."}`` to simulate a failed call. The call counter lives in
the tree state, so a resumed sweep continues where the killed one stopped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ..config import ScriptedConf
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
            raise FileNotFoundError(
                f"scripted proposer: reply file '{conf.path}' not found; set "
                "hydra.sweeper.proposer.path to a YAML/JSON list of replies"
            )
        replies = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(replies, list):
            raise ValueError(f"scripted proposer: '{conf.path}' must hold a list of replies")
        self.replies: list[Any] = replies
        self.retries = conf.retries
        self.fallback = HeuristicProposer()

    def propose(self, ctx: Context, slots: list[Slot], feedback: str = "") -> Reply:
        n = ctx.state.proposer_calls
        if n >= len(self.replies):
            raise ProposerError(f"scripted proposer: no reply left (used {len(self.replies)})")
        entry = self.replies[n]
        if isinstance(entry, dict) and set(entry) == {"error"}:
            raise ProposerError(f"scripted proposer: {entry['error']}")
        text = entry if isinstance(entry, str) else json.dumps(entry)
        return parse_reply(text)

    def update_memory(self, state: TreeState, space: SearchSpace) -> None:
        """The replies carry their own memory updates."""
