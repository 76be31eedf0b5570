"""Proposers behind one interface: ``propose(ctx, slots, feedback) -> Reply``.

``make_proposer`` builds one from the ``hydra.sweeper.proposer`` node; the LLM SDKs are imported
only for the proposer that needs them.
"""

from __future__ import annotations

from typing import Any, Mapping

from omegaconf import OmegaConf

from ..config import AnthropicConf, ClaudeCLIConf, HeuristicConf, OpenAIConf, ScriptedConf
from .base import Context, Proposal, ProposerError, Reply, Slot, parse_reply
from .heuristic import HeuristicProposer

_CONFS = {
    "heuristic": HeuristicConf,
    "scripted": ScriptedConf,
    "anthropic": AnthropicConf,
    "openai": OpenAIConf,
    "claude_cli": ClaudeCLIConf,
}


def make_proposer(node: Mapping[str, Any] | None) -> Any:
    """Build the proposer named by ``node['name']`` (default: heuristic)."""
    raw = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node or {})
    name = raw.get("name", "heuristic")
    if name not in _CONFS:
        raise ValueError(
            f"unknown proposer '{name}'; choose hydra/sweeper/proposer= one of {', '.join(_CONFS)}"
        )
    conf = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(_CONFS[name]), raw))
    if name == "heuristic":
        return HeuristicProposer(conf)
    if name == "scripted":
        from .scripted import ScriptedProposer

        return ScriptedProposer(conf)
    from . import llm

    return {"anthropic": llm.AnthropicProposer, "openai": llm.OpenAIProposer,
            "claude_cli": llm.ClaudeCLIProposer}[name](conf)


__all__ = ["Context", "Proposal", "ProposerError", "Reply", "Slot", "make_proposer", "parse_reply",
           "HeuristicProposer"]
