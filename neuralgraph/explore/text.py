"""Free text from a proposer, made safe for the markdown files and the next prompt.

An LLM's rationale, observation, visual note or memory entry is data, not layout: it becomes one
line (newlines and runs of whitespace collapse to one space), the characters that start markdown
structure or HTML are escaped (``#`` would open a heading such as a forged ``## Iter 999``
entry, ``|`` would split a table cell, ``<`` could open a comment that hides later entries), and
it is cut to a length limit so that one oversized reply cannot inflate every later prompt.
"""

from __future__ import annotations

import re
from typing import Any

RATIONALE_CHARS = 300  # a mutation's rationale, a strategy, a replicate's note
NOTE_CHARS = 600  # an observation, a visual assessment, a hypothesis, one memory entry
SUMMARY_CHARS = 2000  # a block-end summary
MEMORY_ENTRIES = 20  # per memory list (principles, open questions, observations)

_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")  # whitespace and control characters
_ESCAPES = {"\\": "\\\\", "#": "\\#", "|": "\\|", "<": "&lt;", "`": "\\`"}
_SPECIAL = re.compile("|".join(re.escape(c) for c in _ESCAPES))
# At the start of a line: a list item, a quote, a rule or a setext underline.
_LEADING_MARK = re.compile(r"^([-*+=_>]+|\d+[.)])(?=\s|$)")


def one_line(text: Any, limit: int = NOTE_CHARS) -> str:
    """``text`` as one escaped markdown line of at most ``limit`` characters (an ellipsis marks a cut)."""
    flat = _SPACE.sub(" ", str(text)).strip()
    if len(flat) > limit:
        flat = flat[: max(limit - 1, 0)].rstrip() + "…"
    safe = _SPECIAL.sub(lambda m: _ESCAPES[m.group(0)], flat)
    return _LEADING_MARK.sub(_escape_mark, safe)


def _escape_mark(m: re.Match) -> str:
    mark = m.group(1)
    return mark[:-1] + "\\" + mark[-1] if mark[0].isdigit() else "\\" + mark


def capped(text: Any, limit: int = NOTE_CHARS) -> str:
    """``text`` as one line of at most ``limit`` characters, not escaped yet (kept in the tree)."""
    flat = _SPACE.sub(" ", str(text)).strip()
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)].rstrip() + "…"


def capped_list(values: Any, limit: int = NOTE_CHARS, entries: int = MEMORY_ENTRIES) -> list[str]:
    """At most ``entries`` non-empty items of a list, each :func:`capped`."""
    if not isinstance(values, list):
        return []
    out = [capped(v, limit) for v in values if v is not None and str(v).strip()]
    return out[:entries]
