"""Recovery over data draws: each regime over simulation seeds × training seeds, beside its oracle.

    python benchmarks/robustness.py --regimes signal_chaotic signal_low_rank20 \
        --sim-seeds 1 2 3 4 5 6 --train-seeds 42 7 --jobs 2 \
        [--out benchmarks/results/robustness] [--runs outputs/robustness] [--override key=value ...] \
        [--also test_pearson homeostasis_slope_err ...]

Every (regime, simulation seed, training seed) is one ``python -m neuralgraph.train`` run in its
own process (:func:`neuralgraph.launch.run`: one CPU thread, plots off), ``--jobs`` at a time;
a finished run in ``RUNS/<regime>/`` is reused, so an interrupted benchmark resumes. The simulation
seed draws the ground truth (W, initial states, noise); the training seed the model's
initialisation and its batches.

Written to ``OUT``:

- ``robustness.csv`` — one row per run: regime, seeds, whether the simulation seed is held out
  (sealed for the regime in ``benchmarks/sealed_seeds.yaml``, :mod:`sealed`), the learned reward, the known-law oracle on the same
  data (``oracle_<metric>``), the status (converged / partial / failed / data_limited /
  diverged), the wall time and the data-limited reason;
- ``robustness.md`` — per regime: draws, mean and worst learned score, mean and worst oracle,
  how many runs are data-limited, how many draws the learner misses although the oracle reaches
  0.99 — unsealed and held-out seeds on separate rows; then every run;
- ``robustness.png`` — learned against oracle, one point per run (hollow: held-out seeds).

``--blind`` runs the blind protocol (:mod:`blind`): each simulation seed draws its own truth from
ranges wider than any default, the data are observed with 1 % measurement noise and spline
derivatives under the regime's recipe for observed data (``benchmarks/blind_recipes.yaml``), and
each run is judged on its own against the oracle on the same observations and the family's
graph-only baseline where it has one (``meets_bar``); the drawn truth is a column of every row.

``--seal`` seals ``--sim-seeds`` for each of ``--regimes`` (refused for a seed with results) and
stops; commit ``benchmarks/sealed_seeds.yaml`` before running them, which is then required.

``--rescore`` scores finished runs again with the current evaluation code (``benchmarks/rescore.py``:
the stored model on its own dataset, no training) instead of reading their ``metrics.json``, and
recomputes their status: a changed read-out applied to runs that took minutes to train.

``--also`` adds metrics of ``metrics.json`` as columns (per run, and mean / worst per seed set;
worst is the largest for a name ending in ``_err``, else the smallest). One derived name:
``homeostasis_slope_err``, the largest over metabolite types of |learned slope / true slope − 1|
(metabolism).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from neuralgraph import launch
from neuralgraph.rundir import read_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script or loaded by path (tests)
import blind  # noqa: E402
import sealed  # noqa: E402

#: Above this the oracle says the data determine the answer (the issue's bar for the learner).
ORACLE_GOOD = 0.99
#: The learner's convergence threshold (train.CONVERGED).
CONVERGED = 0.9
WALL_FILE = "wall_seconds.txt"
FIELDS = ["regime", "sim_seed", "train_seed", "held_out", "metric", "learned", "oracle", "status", "wall_s",
          "reason"]


def primary_metric(regime: str) -> str:
    return str(launch.compose_regime(regime).reward_key)


def run_one(runs: Path, regime: str, sim_seed: int, train_seed: int, overrides: list[str],
            rescore: bool = False) -> dict[str, Any]:
    """Train (or reuse) one run; its metrics with the wall time it took."""
    run_dir = runs / regime / f"sim{sim_seed}_train{train_seed}"
    wall_file = run_dir / WALL_FILE
    fresh = not launch.is_finished(run_dir)
    if rescore and not fresh:
        return {**rescored(run_dir, regime),
                "wall_s": float(wall_file.read_text()) if wall_file.exists() else float("nan")}
    t0 = time.perf_counter()
    try:
        metrics = launch.run(run_dir, regime, f"simulation.seed={sim_seed}", f"training.seed={train_seed}",
                             "plots=false", *overrides)
    except RuntimeError as err:  # a run that failed to start or crashed: reported, not fatal
        metrics = {"status": "error", "error": str(err).strip().splitlines()[-1]}
    if fresh and run_dir.exists():
        wall_file.write_text(f"{time.perf_counter() - t0:.1f}\n")
    metrics["wall_s"] = float(wall_file.read_text()) if wall_file.exists() else float("nan")
    return metrics


def evaluate_again(run_dir: Path) -> dict[str, Any]:
    """``benchmarks/rescore.py``'s fresh evaluation of the model stored in ``run_dir``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("rescore", Path(__file__).with_name("rescore.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.rescore(run_dir)


def rescored(run_dir: Path, regime: str) -> dict[str, Any]:
    """The stored metrics updated by a fresh evaluation of the stored model, status recomputed."""
    from neuralgraph.train import status_of

    metrics = {**read_metrics(run_dir), **evaluate_again(run_dir)}
    metric = primary_metric(regime)
    metrics["status"] = status_of(_num(metrics, metric), False, _num(metrics, f"oracle_{metric}"))
    return metrics


def _num(m: dict[str, Any], key: str) -> float:
    value = m.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")


def homeostasis_slope_err(m: dict[str, Any]) -> float:
    """max over types T of |homeostasis_slope_tT / homeostasis_slope_true_tT − 1| (NaN if none)."""
    errs = []
    for key in m:
        if key.startswith("homeostasis_slope_true_t"):
            true, learned = _num(m, key), _num(m, key.replace("_true", ""))
            if true != 0 and math.isfinite(true):
                errs.append(abs(learned / true - 1.0))
    return max(errs) if errs else float("nan")


DERIVED = {"homeostasis_slope_err": homeostasis_slope_err}


def row_of(regime: str, metric: str, sim_seed: int, train_seed: int, held_out: bool, m: dict[str, Any],
           also: tuple[str, ...] = (), truth: list[str] | None = None) -> dict:
    row = {
        "regime": regime, "sim_seed": sim_seed, "train_seed": train_seed, "held_out": held_out, "metric": metric,
        "learned": _num(m, metric), "oracle": _num(m, f"oracle_{metric}"), "status": m.get("status", "?"),
        "wall_s": m.get("wall_s", float("nan")), "reason": m.get("data_limited_reason") or m.get("error") or "",
    }
    if truth is not None:
        row["truth"] = " ".join(truth)
        row["baseline"] = _num(m, f"baseline_{metric}")
        row["meets_bar"] = blind.verdict(row["learned"], row["oracle"], row["baseline"])
    for name in also:
        row[name] = DERIVED[name](m) if name in DERIVED else _num(m, name)
    return row


def worst(name: str, values: list[float]) -> float:
    """The worst of ``values``: the largest for an error (``*_err``), else the smallest."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan
    return max(finite) if name.endswith("_err") else min(finite)


def summary(rows: list[dict]) -> dict[str, Any]:
    """Mean / worst learned and oracle, data-limited runs, and the draws the learner misses."""
    learned = np.array([r["learned"] for r in rows], dtype=float)
    oracle = np.array([r["oracle"] for r in rows], dtype=float)
    good = oracle >= ORACLE_GOOD
    return {
        "runs": len(rows),
        "draws": len({r["sim_seed"] for r in rows}),
        "learned_mean": float(np.nanmean(learned)) if len(rows) else math.nan,
        "learned_worst": float(np.nanmin(learned)) if np.isfinite(learned).any() else math.nan,
        "oracle_mean": float(np.nanmean(oracle)) if np.isfinite(oracle).any() else math.nan,
        "oracle_worst": float(np.nanmin(oracle)) if np.isfinite(oracle).any() else math.nan,
        "data_limited": sum(r["status"] == "data_limited" for r in rows),
        "below_099_with_oracle": int(np.sum(good & ~(learned >= ORACLE_GOOD))),
        "below_09_with_oracle": int(np.sum(good & ~(learned >= CONVERGED))),
        "wall_mean": float(np.nanmean([r["wall_s"] for r in rows])) if rows else math.nan,
        "meets_bar": sum(bool(r.get("meets_bar")) for r in rows),
    }


def fmt(x: Any) -> str:
    if isinstance(x, float):
        return "–" if not math.isfinite(x) else f"{x:.4f}" if abs(x) <= 1.5 else f"{x:.0f}"
    return str(x)


def markdown(rows: list[dict], command: str, also: tuple[str, ...] = ()) -> str:
    is_blind = any("meets_bar" in r for r in rows)
    bar_head, bar_rule = (" meets bar |", "---|") if is_blind else ("", "")
    extra_head = "".join(f" {name} mean / worst |" for name in also)
    lines = [f"Command: `{command}`", "",
             f"Per regime and seed set (oracle = known-law least squares on the same data; 'missed' = runs whose "
             f"oracle is ≥ {ORACLE_GOOD} but learned < {ORACLE_GOOD} / < {CONVERGED}"
             + (f"; 'meets bar' = runs within {blind.ORACLE_GAP} of the oracle and ≥ {blind.CLEAR_BAR} wherever it "
                f"is ≥ {blind.CLEAR_ORACLE}" if is_blind else "") + "):", "",
             "| regime | seeds | runs | learned mean | learned worst | oracle mean | oracle worst | data_limited "
             f"| missed (<0.99 / <0.9) |{bar_head} wall mean (s) |{extra_head}",
             "|" + "---|" * (10 + len(also)) + bar_rule]
    for regime in dict.fromkeys(r["regime"] for r in rows):
        for held, label in ((False, "seeds"), (True, "held out (sealed)")):
            part = [r for r in rows if r["regime"] == regime and r["held_out"] == held]
            if not part:
                continue
            s = summary(part)
            seeds = " ".join(str(x) for x in sorted({r["sim_seed"] for r in part}))
            lines.append(f"| `{regime}` | {label}: {seeds} | {s['runs']} | {fmt(s['learned_mean'])} | "
                         f"{fmt(s['learned_worst'])} | {fmt(s['oracle_mean'])} | {fmt(s['oracle_worst'])} | "
                         f"{s['data_limited']} | {s['below_099_with_oracle']} / {s['below_09_with_oracle']} |"
                         + (f" {s['meets_bar']} / {s['runs']} |" if is_blind else "")
                         + f" {fmt(s['wall_mean'])} |"
                         + "".join(f" {fmt(float(np.nanmean([r[n] for r in part])))} / "
                                   f"{fmt(worst(n, [r[n] for r in part]))} |" for n in also))
    truth_head, truth_rule = (" meets bar | drawn truth |", "---|---|") if is_blind else ("", "")
    lines += ["", "Every run:", "", "| regime | sim seed | train seed | learned | oracle | status | wall (s) | reason |"
              + truth_head + "".join(f" {name} |" for name in also), "|" + "---|" * (8 + len(also)) + truth_rule]
    for r in rows:
        seed = f"{r['sim_seed']}{' (held out)' if r['held_out'] else ''}"
        lines.append(f"| `{r['regime']}` | {seed} | {r['train_seed']} | {fmt(r['learned'])} | {fmt(r['oracle'])} | "
                     f"{r['status']} | {fmt(r['wall_s'])} | {r['reason']} |"
                     + (f" {'yes' if r['meets_bar'] else 'no'} | `{r['truth']}` |" if is_blind else "")
                     + "".join(f" {fmt(r[n])} |" for n in also))
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    regimes = list(dict.fromkeys(r["regime"] for r in rows))
    for k, regime in enumerate(regimes):
        color = f"C{k % 10}"
        for held in (False, True):
            part = [r for r in rows if r["regime"] == regime and r["held_out"] == held]
            if part:
                ax.scatter([r["oracle"] for r in part], [r["learned"] for r in part], s=30,
                           facecolors="none" if held else color, edgecolors=color,
                           label=f"{regime}{' (held out)' if held else ''}")
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8)
    for level in (CONVERGED, ORACLE_GOOD):
        ax.axhline(level, color="0.85", lw=0.6)
        ax.axvline(level, color="0.85", lw=0.6)
    ax.set_xlabel("oracle (known-law least squares)")
    ax.set_ylabel("learned")
    ax.set_title("recovery per data draw")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--regimes", nargs="+", required=True)
    p.add_argument("--sim-seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    p.add_argument("--train-seeds", nargs="+", type=int, default=[42, 7])
    p.add_argument("--seal", action="store_true", help="seal --sim-seeds for --regimes as held out, then stop")
    p.add_argument("--sealed", type=Path, default=sealed.SEALED_FILE, help="the file of sealed seeds")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/robustness"), help="tables and figure")
    p.add_argument("--runs", type=Path, default=Path("outputs/robustness"), help="run directories (reused)")
    p.add_argument("--override", nargs="*", default=[], help="extra key=value overrides for every run")
    p.add_argument("--blind", action="store_true", help="draw each seed's truth and observe as an instrument "
                   "would (benchmarks/blind.py)")
    p.add_argument("--rescore", action="store_true", help="score finished runs again with the current code")
    p.add_argument("--also", nargs="*", default=[], help="more metrics of metrics.json as columns "
                   f"(derived: {', '.join(DERIVED)})")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse(argv)
    if args.seal:
        for regime in args.regimes:
            made = sealed.seal(regime, args.sim_seeds, path=args.sealed, runs=args.runs)
            print(f"sealed {regime}: seeds {' '.join(map(str, made.seeds))} at {made.commit}; commit "
                  f"{args.sealed} before running them")
        return []
    seals = sealed.read_seals(args.sealed)
    jobs = [(regime, s, t) for regime in args.regimes for s in args.sim_seeds for t in args.train_seeds]
    if any(sealed.held_out(seals, regime, s) for regime, s, _ in jobs):
        sealed.require_committed(args.sealed)
    args.out.mkdir(parents=True, exist_ok=True)
    metric = {regime: primary_metric(regime) for regime in args.regimes}
    recipes = blind.read_recipes() if args.blind else None
    draws = {(regime, s): blind.overrides(regime, s, recipes) for regime in args.regimes for s in args.sim_seeds} \
        if args.blind else {}
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        done = list(pool.map(lambda job: run_one(args.runs, *job, [*draws.get(job[:2], []), *args.override],
                                                 args.rescore), jobs))
    also = tuple(args.also)
    rows = [row_of(regime, metric[regime], s, t, sealed.held_out(seals, regime, s), m, also,
                   blind.truth_draw(regime, s) if args.blind else None)
            for (regime, s, t), m in zip(jobs, done)]
    with open(args.out / "robustness.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS + (["truth", "baseline", "meets_bar"] if args.blind else []) + list(also))
        writer.writeheader()
        writer.writerows(rows)
    command = "python benchmarks/robustness.py " + " ".join(
        [f"--regimes {' '.join(args.regimes)}", f"--sim-seeds {' '.join(map(str, args.sim_seeds))}",
         f"--train-seeds {' '.join(map(str, args.train_seeds))}", f"--jobs {args.jobs}"]
        + ([f"--override {' '.join(args.override)}"] if args.override else [])
        + ([f"--also {' '.join(also)}"] if also else [])
        + (["--blind"] if args.blind else [])
        + (["--rescore"] if args.rescore else []))
    (args.out / "robustness.md").write_text(markdown(rows, command, also))
    figure(rows, args.out / "robustness.png")
    print((args.out / "robustness.md").read_text())
    return rows


if __name__ == "__main__":
    main()
