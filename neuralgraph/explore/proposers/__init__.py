"""Proposers behind one interface (:class:`Proposer`): ``propose(ctx, slots, feedback) -> Reply``.

``make_proposer`` builds one from the ``hydra.sweeper.proposer`` node through a registry from
name to (config schema, factory); the LLM SDKs are imported only for the proposer that needs them.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from omegaconf import OmegaConf

from ..config import (AnthropicConf, ClaudeCLIConf, HeuristicConf, ModelBasedConf, OpenAIConf,
                      ScriptedConf)
from ..errors import SweepError
from .base import (Context, Proposal, Proposer, ProposerError, ProposerUnavailable, Reply, Slot,
                   SlotProposer, parse_reply)
from .heuristic import HeuristicProposer
from .model_based import ModelBasedProposer


# The factories import their module on use: the LLM SDKs load only for the proposer chosen.
def _scripted(conf: ScriptedConf) -> Proposer:
    from .scripted import ScriptedProposer

    return ScriptedProposer(conf)


def _anthropic(conf: AnthropicConf) -> Proposer:
    from .llm import AnthropicProposer

    return AnthropicProposer(conf)


def _openai(conf: OpenAIConf) -> Proposer:
    from .llm import OpenAIProposer

    return OpenAIProposer(conf)


def _claude_cli(conf: ClaudeCLIConf) -> Proposer:
    from .llm import ClaudeCLIProposer

    return ClaudeCLIProposer(conf)


_REGISTRY: dict[str, tuple[type, Callable[[Any], Proposer]]] = {
    "model_based": (ModelBasedConf, ModelBasedProposer),
    "heuristic": (HeuristicConf, HeuristicProposer),
    "scripted": (ScriptedConf, _scripted),
    "anthropic": (AnthropicConf, _anthropic),
    "openai": (OpenAIConf, _openai),
    "claude_cli": (ClaudeCLIConf, _claude_cli),
}


def make_proposer(node: Mapping[str, Any] | None) -> Proposer:
    """Build the proposer named by ``node['name']`` (default: model_based)."""
    raw = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node or {})
    name = raw.get("name", "model_based")
    if name not in _REGISTRY:
        raise SweepError(
            f"unknown proposer '{name}'; choose hydra/sweeper/proposer= one of {', '.join(_REGISTRY)}"
        )
    schema, factory = _REGISTRY[name]
    return factory(OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), raw)))


__all__ = ["Context", "Proposal", "Proposer", "ProposerError", "ProposerUnavailable", "Reply",
           "Slot", "SlotProposer", "make_proposer", "parse_reply", "HeuristicProposer",
           "ModelBasedProposer"]
