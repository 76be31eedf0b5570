"""Held-out simulation seeds, sealed in a committed file before anything runs on them.

A seed counts as held out for a regime only when ``benchmarks/sealed_seeds.yaml`` names it, with
the commit that sealed it: a seed declared held out after the fact (on a command line, in prose)
may already have been looked at while a default was chosen. ``python benchmarks/robustness.py
--seal --regimes R --sim-seeds S ...`` adds a seal; it refuses a seed that already has results for
that regime (a robustness table under ``benchmarks/results/``, or a run directory), and
``robustness.py`` refuses to run a sealed seed until the file is committed.

The file::

    signal_chaotic:
    - seeds: [101, 102, 103]
      commit: 1c283d9        # HEAD when the seal was made
      date: '2026-12-07'
"""

from __future__ import annotations

import csv
import datetime
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from neuralgraph.io import write_text

HERE = Path(__file__).resolve().parent
SEALED_FILE = HERE / "sealed_seeds.yaml"
RESULTS = HERE / "results"
HEADER = ("# Simulation seeds kept back per regime, sealed before any run on them (benchmarks/sealed.py).\n"
          "# Add one with: python benchmarks/robustness.py --seal --regimes NAME --sim-seeds S ...\n")


class SealError(RuntimeError):
    """A seal that cannot be made, or sealed seeds that cannot run yet."""


@dataclass(frozen=True)
class Seal:
    seeds: tuple[int, ...]
    commit: str  # HEAD when the seal was made
    date: str


def read_seals(path: Path = SEALED_FILE) -> dict[str, list[Seal]]:
    """``{regime: its seals}`` (empty when the file does not exist)."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    return {regime: [Seal(tuple(int(s) for s in e["seeds"]), str(e["commit"]), str(e["date"])) for e in entries]
            for regime, entries in data.items()}


def held_out(seals: dict[str, list[Seal]], regime: str, seed: int) -> bool:
    """Whether ``seed`` is sealed for ``regime``."""
    return any(seed in seal.seeds for seal in seals.get(regime, []))


def _csv_seeds(path: Path, regime: str) -> set[int]:
    """Seeds of the rows of ``regime`` in a CSV with a ``sim_seed`` column (other CSVs: none)."""
    with open(path, newline="") as fh:
        return {int(row["sim_seed"]) for row in csv.DictReader(fh)
                if row.get("regime") == regime and str(row.get("sim_seed", "")).isdigit()}


def _md_seeds(path: Path, regime: str) -> set[int]:
    """Seeds of the "Every run" rows (``| `regime` | 4 (held out) | 42 | …``) of a robustness table."""
    pattern = re.compile(rf"^\| `{re.escape(regime)}` \| (\d+)\b", re.M)
    return {int(m.group(1)) for m in pattern.finditer(path.read_text())}


def seeds_with_results(regime: str, results: Path = RESULTS, runs: Path | None = None) -> set[int]:
    """Simulation seeds of ``regime`` that some result already shows: any robustness table under
    ``results`` (CSV or markdown), and any run directory ``runs/<regime>/sim<S>_…``."""
    found: set[int] = set()
    for path in results.rglob("*.csv"):
        found |= _csv_seeds(path, regime)
    for path in results.rglob("*.md"):
        found |= _md_seeds(path, regime)
    if runs is not None and (runs / regime).is_dir():
        found |= {int(m.group(1)) for p in (runs / regime).iterdir() if (m := re.match(r"sim(\d+)_", p.name))}
    return found


def head_commit(repo: Path = HERE.parent) -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout.strip()


def seal(regime: str, seeds: list[int], path: Path = SEALED_FILE, results: Path = RESULTS, runs: Path | None = None,
         commit: str | None = None) -> Seal:
    """Add a seal of ``seeds`` for ``regime`` to ``path``; refuse seeds with results or sealed already."""
    seals = read_seals(path)
    seen = sorted(set(seeds) & seeds_with_results(regime, results, runs))
    if seen:
        raise SealError(f"{regime}: seed(s) {' '.join(map(str, seen))} already have results; seal seeds nothing has "
                        "run on")
    again = sorted(s for s in seeds if held_out(seals, regime, s))
    if again:
        raise SealError(f"{regime}: seed(s) {' '.join(map(str, again))} are sealed already")
    new = Seal(tuple(sorted(set(seeds))), commit or head_commit(), datetime.date.today().isoformat())
    seals.setdefault(regime, []).append(new)
    data = {r: [{"seeds": list(s.seeds), "commit": s.commit, "date": s.date} for s in entries]
            for r, entries in sorted(seals.items())}
    write_text(path, HEADER + yaml.safe_dump(data, sort_keys=False, default_flow_style=None))
    return new


def require_committed(path: Path = SEALED_FILE, repo: Path = HERE.parent) -> None:
    """Sealed seeds run only once their seal is committed (tracked, no uncommitted change)."""
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", str(path)], cwd=repo, capture_output=True)
    changed = subprocess.run(["git", "status", "--porcelain", "--", str(path)], cwd=repo, capture_output=True,
                             text=True).stdout.strip()
    if tracked.returncode != 0 or changed:
        raise SealError(f"commit {path.name} before running sealed seeds (git add {path} && git commit)")
