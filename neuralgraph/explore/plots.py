"""The plots an LLM proposer is shown: the ones its instruction document names, by name.

The document names each plot by file name (``rate_constants.png``, ``loss.png``); those files,
in the order the document first names them, are taken from the best run of the latest round and
labelled with their name and the run they come from. A document that names no plot gets the
run's plots in name order. Either way at most ``limit`` are sent (the proposer's ``max_images``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from .tree import Node, Run, TreeState

_PLOT_NAME = re.compile(r"[\w.-]+\.png")


@dataclass(frozen=True)
class Plot:
    """One image for the proposer: where it is and the caption it is sent with."""

    path: str
    label: str

    @property
    def name(self) -> str:
        return Path(self.path).name


def named_plots(instructions: str) -> list[str]:
    """The ``*.png`` file names the document mentions, each once, in order of first mention."""
    return list(dict.fromkeys(_PLOT_NAME.findall(instructions)))


def latest_best_run(state: TreeState, round_size: int) -> tuple[Node, Run] | None:
    """The completed run with the highest reward among the latest ``round_size`` iterations."""
    done = [(n, r) for n, r in state.all_runs() if r.status == "completed" and r.working_dir]
    if not done:
        return None
    last_iter = max(r.iteration for _, r in done)
    recent = [p for p in done if p[1].iteration > last_iter - round_size]
    return max(recent, key=lambda p: p[1].reward if p[1].reward is not None else -math.inf)


def plots_to_show(state: TreeState, names: list[str], round_size: int, limit: int) -> list[Plot]:
    """The named plots of the latest round's best run (or its plots by name if none are named)."""
    picked = latest_best_run(state, round_size)
    if picked is None or limit <= 0:
        return []
    node, run = picked
    files = {p.name: p for p in Path(run.working_dir).glob("plots/*.png")}
    chosen = [files[n] for n in names if n in files] if names else [files[n] for n in sorted(files)]
    key = run.reward_key or state.block_key
    reward = "-" if run.reward is None else f"{run.reward:.4g}"
    return [Plot(str(p), f"{p.name} — node {node.id}, iteration {run.iteration}, {key}={reward}")
            for p in chosen[:limit]]
