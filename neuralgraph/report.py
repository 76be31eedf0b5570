"""Summarise sweeps and runs: ``python -m neuralgraph.report DIR [DIR ...] [--out OUT]``.

Reads every run directory under the given folders (a run is a folder with ``metrics.json``; its
overrides come from ``.hydra/overrides.yaml``) into one pandas table, and writes to ``OUT``
(default ``<first DIR>/report``): ``runs.csv``, ``best_so_far.png`` (best reward against the
evaluation index, one line per sweep) and, for each ``ucb_llm`` sweep, ``tree_<sweep>.png``.
Works the same on ucb_llm, Optuna and basic multiruns, so they can be compared on one plot.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import pandas as pd
import yaml

from neuralgraph.explore.tree import STATE_FILE, load_state
from neuralgraph.io import write_bytes, write_text

META = ["sweep", "job", "iteration", "status", "reward_key", "reward"]


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None


def _sweep_root(run_dir: Path, roots: list[Path]) -> Path:
    """The folder holding a sweep: the nearest ancestor with a tree or multirun.yaml, else the
    directory given on the command line."""
    for parent in [run_dir.parent, *run_dir.parent.parents]:
        if (parent / STATE_FILE).exists() or (parent / "multirun.yaml").exists():
            return parent
        if parent in roots:
            return parent
    return run_dir.parent


def _iterations(sweep: Path) -> dict[str, int]:
    """For a ucb_llm sweep: run directory -> iteration number, from the tree."""
    if not (sweep / STATE_FILE).exists():
        return {}
    state = load_state(sweep / STATE_FILE)
    return {str(Path(r.working_dir).resolve()): r.iteration
            for _, r in state.all_runs() if r.working_dir}


def collect(dirs: Sequence[str | Path], reward_key: Optional[str] = None) -> pd.DataFrame:
    """One row per run under ``dirs``: sweep, job, iteration, status, reward, overrides, metrics."""
    roots = [Path(d).resolve() for d in dirs]
    missing = [str(d) for d in roots if not d.exists()]
    if missing:
        raise FileNotFoundError(f"no such directory: {', '.join(missing)}")
    rows = []
    iteration_maps: dict[Path, dict[str, int]] = {}
    for root in roots:
        files = [root / "metrics.json"] if (root / "metrics.json").exists() else []
        files += sorted(p for p in root.rglob("metrics.json") if p.parent != root)
        for mfile in files:
            run_dir = mfile.parent
            try:
                metrics = json.loads(mfile.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # half-written: skip rather than trust it
            overrides = _read_yaml(run_dir / ".hydra" / "overrides.yaml") or []
            config = _read_yaml(run_dir / ".hydra" / "config.yaml") or {}
            sweep = _sweep_root(run_dir, roots)
            if sweep not in iteration_maps:
                iteration_maps[sweep] = _iterations(sweep)
            key = reward_key or (config.get("reward_key") if isinstance(config, dict) else None)
            value = metrics.get(key) if key else None
            row: dict[str, Any] = {
                "sweep": str(sweep), "job": run_dir.name,
                "iteration": iteration_maps[sweep].get(str(run_dir.resolve())),
                "status": metrics.get("status"), "reward_key": key,
                "reward": float(value) if isinstance(value, (int, float)) else math.nan,
            }
            for ov in overrides:
                k, _, v = str(ov).partition("=")
                row[k.lstrip("+")] = v
            for k, v in metrics.items():
                if isinstance(v, (int, float, str)) and k not in row:
                    row[k] = v
            rows.append(row)
    if not rows:
        raise FileNotFoundError(f"no run directories (with metrics.json) under {', '.join(map(str, dirs))}")
    df = pd.DataFrame(rows)
    # Without a tree, job numbers give the launch order (Optuna, basic multirun).
    job_no = pd.to_numeric(df["job"], errors="coerce")
    df["iteration"] = df["iteration"].fillna(job_no + 1)
    df = df.sort_values(["sweep", "iteration", "job"], kind="stable").reset_index(drop=True)
    df["best_so_far"] = df.groupby("sweep")["reward"].cummax()
    return df


def plot_best_so_far(df: pd.DataFrame, path: Path) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for sweep, group in df.groupby("sweep"):
        ax.step(group["iteration"], group["best_so_far"], where="post", label=Path(sweep).name)
        ax.scatter(group["iteration"], group["reward"], s=10, alpha=0.4)
    # A single diverged run (R2 = -5) would flatten every curve: clip the view, not the data.
    finite = df["reward"].dropna()
    if len(finite):
        lo = min(df["best_so_far"].min(), finite.quantile(0.1))
        hi = finite.max()
        pad = 0.05 * max(hi - lo, 1e-6)
        ax.set_ylim(lo - pad, hi + pad)
    keys = sorted({k for k in df["reward_key"].dropna()})
    ax.set_xlabel("evaluation")
    ax.set_ylabel(", ".join(keys) or "reward")
    ax.set_title("best so far")
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    write_bytes(path, buf.getvalue())


def write_report(dirs: Sequence[str | Path], out: Optional[Path] = None,
                 reward_key: Optional[str] = None) -> pd.DataFrame:
    from neuralgraph.explore.render import render_tree_png

    df = collect(dirs, reward_key)
    out = Path(out) if out else Path(dirs[0]) / "report"
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "runs.csv", df.to_csv(index=False))
    plot_best_so_far(df, out / "best_so_far.png")
    for sweep in df["sweep"].unique():
        state_file = Path(sweep) / STATE_FILE
        if state_file.exists():
            render_tree_png(load_state(state_file), out / f"tree_{Path(sweep).name}.png")
    return df


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neuralgraph.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", help="sweep or run directories")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <first dir>/report)")
    parser.add_argument("--reward-key", default=None, help="metric to rank by (default: each run's reward_key)")
    args = parser.parse_args(argv)
    try:
        df = write_report(args.dirs, args.out, args.reward_key)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    shown = [c for c in META if c in df.columns]
    changed = [c for c in df.columns if "." in c and df[c].nunique(dropna=True) > 1]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df[shown + changed].to_string(index=False))
    for sweep, group in df.groupby("sweep"):
        if group["reward"].notna().any():
            best = group.loc[group["reward"].idxmax()]
            print(f"best in {sweep}: {best['reward_key']}={best['reward']:.4f} (run {best['job']})")
    out = args.out or Path(args.dirs[0]) / "report"
    print(f"wrote {out}/runs.csv, best_so_far.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
