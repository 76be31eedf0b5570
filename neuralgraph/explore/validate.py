"""Checks a proposed mutation before it can become a job.

A proposal is accepted only if it names at most ``max_keys`` keys (the prompt's "change one or
two keys"), each once, every key is in the search space (simulation and evaluation keys never are),
every value parses as a single Hydra override value (no sweep syntax such as ``a,b`` or
``interval(...)``, no ``${...}`` interpolation, which could read the environment), lies inside
its dimension, and the resulting config is not one already evaluated or queued (a replicate is
the explicit way to re-run a config). The text of a proposal never becomes code: it is reduced
to ``key=value`` pairs whose values are re-printed from the parsed numbers or choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from hydra.core.override_parser.overrides_parser import OverridesParser

from .space import FROZEN_PREFIXES, SearchSpace, fmt, frozen_reason


class ProposalError(ValueError):
    """Why a proposal was rejected; the text is shown to the proposer when it is re-asked."""


@dataclass
class Checked:
    """A proposal that passed: the full config and a readable mutation line."""

    config: dict[str, str]
    mutation: str
    changed: dict[str, str] = field(default_factory=dict)


_PARSER = OverridesParser.create()


def resolve_key(key: str, space: SearchSpace) -> str:
    """Map ``key`` to a search-space key; a unique suffix (``lr_k``) is accepted."""
    key = str(key).strip()
    if key.startswith(FROZEN_PREFIXES):
        raise ProposalError(frozen_reason(key))
    if key in space.dims:
        return key
    matches = [k for k in space.dims if k.endswith("." + key)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(space.dims) or "(none)"
    raise ProposalError(f"unknown key '{key}'; mutable keys are: {known}")


def parse_value(key: str, raw: Any, space: SearchSpace) -> Any:
    """Parse one proposed value with Hydra's grammar and check it against the dimension."""
    dim = space.dims[key]
    text = fmt(raw) if not isinstance(raw, str) else raw.strip()
    if "${" in text:
        raise ProposalError(f"{key}: interpolations (${{...}}) are not allowed in proposals")
    try:
        override = _PARSER.parse_override(f"{key}={text}")
    except Exception as exc:
        raise ProposalError(f"{key}: value '{text}' does not parse as a Hydra override value") from exc
    if override.is_sweep_override():
        raise ProposalError(
            f"{key}: '{text}' is sweep syntax; propose one value, not a list or a range"
        )
    value = override.value()
    if dim.kind == "interval" and isinstance(value, str):
        # JSON replies sometimes quote numbers; accept "0.001" but not "fast".
        try:
            value = float(value)
        except ValueError:
            raise ProposalError(f"{key}: '{text}' is not a number") from None
    if dim.integer and isinstance(value, float) and value == int(value):
        value = int(value)
    if not dim.contains(value):
        raise ProposalError(f"{key}: {text} is outside the allowed range ({dim.describe()})")
    return value


def check_proposal(
    changes: Mapping[str, Any],
    parent_config: Mapping[str, str],
    space: SearchSpace,
    taken: list[dict[str, str]],
    max_keys: int = 2,
) -> Checked:
    """Validate ``changes`` applied to ``parent_config``.

    ``taken`` holds the configs already evaluated in this regime or queued in this round.
    """
    if not isinstance(changes, Mapping) or not changes:
        raise ProposalError("a mutation needs at least one 'key: value' change")
    if len(changes) > max_keys:
        raise ProposalError(f"a mutation changes at most {max_keys} key(s); this one names "
                            f"{len(changes)} ({', '.join(map(str, changes))})")
    config = dict(parent_config)
    changed: dict[str, str] = {}
    parts = []
    seen: set[str] = set()
    for raw_key, raw_value in changes.items():
        key = resolve_key(raw_key, space)
        if key in seen:
            raise ProposalError(f"{key} is named twice in one mutation")
        seen.add(key)
        value = parse_value(key, raw_value, space)
        text = space.dims[key].canonical(value)
        old = parent_config.get(key, "default")
        if old != text:
            parts.append(f"{key.split('.')[-1]}: {old} -> {text}")
            changed[key] = text
        config[key] = text
    if not changed:
        raise ProposalError("the mutation leaves the parent's config unchanged")
    for other in taken:
        if other == config:
            raise ProposalError(
                "this config was already evaluated or queued; propose a different value "
                "(or a replicate of that node)"
            )
    return Checked(config=config, mutation="; ".join(parts), changed=changed)
