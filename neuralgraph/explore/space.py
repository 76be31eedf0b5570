"""Search space written in Hydra's override grammar, parsed by Hydra's own parser.

Each entry of ``hydra.sweeper.params`` (or the regime's ``search_space``) maps a config key to
one of:

- ``interval(a, b)``             a float in [a, b]
- ``tag(log, interval(a, b))``   the same, moved on a log scale
- ``tag(int, interval(a, b))``   an integer in [a, b]
- ``choice(x, y, ...)``          one of the listed values
- ``range(start, stop, step)``   an integer grid (stop excluded, as in Python)
- a plain value                  fixed for every job of the sweep

The same strings drive Hydra's Optuna sweeper, so one preset serves both sweepers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

#: Blocks a sweep may not change: the ground truth (``simulation``) and what defines the metrics
#: (``evaluation``): a sweep that moved either would change the yardstick, not the learner.
FROZEN_PREFIXES = ("simulation.", "evaluation.")


def frozen_reason(key: str) -> str:
    """Why ``key`` is frozen, naming its block: ``'evaluation.x' is an evaluation key: ...``."""
    block = key.split(".", 1)[0]
    why = ("simulation keys are the ground truth" if block == "simulation"
           else "evaluation keys define how the metrics are computed")
    return f"'{key}' is {'an' if block[0] in 'aeiou' else 'a'} {block} key: {why} and are frozen in a sweep"
_NEEDS_QUOTES = re.compile(r"[^\w.\-+/:]")


class SearchSpaceError(ValueError):
    """A search-space entry that cannot be used; the message names the key to fix."""


@dataclass(frozen=True)
class Dimension:
    """One mutable key and its legal values."""

    key: str
    kind: str  # "interval" | "choice" | "range"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()

    def contains(self, value: Any) -> bool:
        if self.kind == "choice":
            return any(_same(value, c) for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and float(value) != int(value):
            return False
        if self.kind == "range":
            return any(_same(value, c) for c in self.choices)
        # Relative slack so that "1e-2" typed back by an LLM passes an upper bound of 0.01.
        eps = 1e-9 * max(abs(self.low), abs(self.high), 1e-30)
        return self.low - eps <= float(value) <= self.high + eps

    def canonical(self, value: Any) -> str:
        """The text a config value gets in the tree: a choice's own spelling (0 for 0.0)."""
        for c in self.choices:
            if _same(value, c):
                return fmt(c)
        if self.kind == "interval" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return fmt(int(value) if self.integer else float(value))
        return fmt(value)

    def nearest(self, value: Any) -> Any:
        """The legal value closest to a number outside the dimension (None for a non-number)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if self.kind == "interval":
            v = min(max(float(value), self.low), self.high)
            return int(round(v)) if self.integer else v
        numbers = [c for c in self.choices if isinstance(c, (int, float)) and not isinstance(c, bool)]
        return min(numbers, key=lambda c: abs(float(c) - float(value))) if numbers else None

    def describe(self) -> str:
        if self.kind == "interval":
            scale = "log" if self.log else ("int" if self.integer else "linear")
            return f"{self.key}: {fmt(self.low)} .. {fmt(self.high)} ({scale})"
        return f"{self.key}: one of {', '.join(fmt(c) for c in self.choices)}"

    def to_unit(self, value: float) -> float:
        """Position of ``value`` in [0, 1] along the dimension (log-aware); choices by index."""
        if self.kind != "interval":
            idx = [i for i, c in enumerate(self.choices) if _same(value, c)]
            return idx[0] / max(len(self.choices) - 1, 1) if idx else 0.5
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return (math.log(max(float(value), self.low)) - lo) / max(hi - lo, 1e-300)
        return (float(value) - self.low) / max(self.high - self.low, 1e-300)

    def from_unit(self, u: float) -> Any:
        """Inverse of :meth:`to_unit`, clipped into the dimension."""
        u = min(max(u, 0.0), 1.0)
        if self.kind != "interval":
            return self.choices[int(round(u * (len(self.choices) - 1)))]
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            v = math.exp(lo + u * (hi - lo))
        else:
            v = self.low + u * (self.high - self.low)
        return int(round(v)) if self.integer else float(f"{v:.3g}")


@dataclass
class SearchSpace:
    """The mutable dimensions plus the fixed overrides every job gets."""

    dims: dict[str, Dimension] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [d.describe() for d in self.dims.values()]
        lines += [f"{k}: fixed at {v}" for k, v in self.fixed.items()]
        return "\n".join(lines)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b or str(a) == str(b)


def fmt(value: Any) -> str:
    """Short, override-safe text for a value: 4 significant digits for floats."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e6:
            return f"{value:.1f}"
        return f"{value:.4g}"
    text = str(value)
    if isinstance(value, str) and _NEEDS_QUOTES.search(text):
        # Commas, brackets or spaces would change the meaning of an override: quote them.
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def parse_space(params: Mapping[str, Any] | None) -> SearchSpace:
    """Parse ``{key: grammar}`` into a :class:`SearchSpace`.

    Raises :class:`SearchSpaceError` naming the key for frozen keys or unsupported sweeps.
    """
    parser = OverridesParser.create()
    space = SearchSpace()
    for key, expr in (params or {}).items():
        key = str(key)
        if key.startswith(FROZEN_PREFIXES):
            raise SearchSpaceError(
                f"search space key {frozen_reason(key)}"
                + (" (use the regime landscape to vary them between blocks)" if key.startswith("simulation.") else "")
            )
        try:
            override = parser.parse_override(f"{key}={expr}")
        except Exception as exc:  # Hydra raises several parse error types
            raise SearchSpaceError(f"search space entry '{key}: {expr}' does not parse: {exc}") from exc
        value = override.value()
        if not override.is_sweep_override():
            space.fixed[key] = str(expr)
            continue
        tags = set(getattr(value, "tags", set()) or set())
        if isinstance(value, IntervalSweep):
            lo, hi = float(value.start), float(value.end)
            if "log" in tags and lo <= 0:
                raise SearchSpaceError(f"'{key}': a log interval needs a positive lower bound, got {lo}")
            space.dims[key] = Dimension(key, "interval", lo, hi, log="log" in tags, integer="int" in tags)
        elif isinstance(value, ChoiceSweep):
            space.dims[key] = Dimension(key, "choice", choices=tuple(value.list))
        elif isinstance(value, RangeSweep):
            start, stop, step = value.start, value.stop, value.step or 1
            grid = []
            v = start
            while (step > 0 and v < stop) or (step < 0 and v > stop):
                grid.append(v)
                v += step
            integer = all(float(g) == int(g) for g in grid)
            space.dims[key] = Dimension(
                key, "range", min(grid), max(grid), integer=integer, choices=tuple(grid)
            )
        else:
            raise SearchSpaceError(
                f"'{key}: {expr}': only interval, tag(log|int, interval), choice and range are "
                "supported in a ucb_llm search space"
            )
    return space
