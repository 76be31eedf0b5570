"""The known-law oracle alone on observed data: how a data recipe is chosen for estimated derivatives.

    python benchmarks/observed_oracle.py --regimes tiny_signal signal_chaotic --sim-seeds 1 2 3 4 5 6 7 8 \
        --recipe "as the regime=" \
        --recipe "trials from fresh states=simulation.noise_model_level=0 simulation.start_frame=0 simulation.n_trials=16" \
        [--blind] [--out benchmarks/results/observed_recipes]

Each (regime, recipe, seed) simulates the regime with the recipe's overrides, observes it as the
blind benchmark does (``benchmarks/blind.py``: 1 % measurement noise, spline derivatives; with
``--blind`` also the seed's truth draw) and scores the family's known-law oracle on those
observations. No model is trained (the untrained model is only there because the family's
evaluation scores both), so a recipe is judged in seconds by what the data allow any learner.
Choose recipes on tuning seeds only: never on seeds sealed in ``benchmarks/sealed_seeds.yaml``.

Written to ``OUT``: ``oracle.csv`` (one row per simulation) and ``oracle.md`` (per regime and
recipe: mean and worst oracle, the draws below 0.98, then every seed).
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from neuralgraph import launch
from neuralgraph.family import get_family
from neuralgraph.sources.simulated.source import SOURCE
from neuralgraph.train import typed

sys.path.insert(0, str(Path(__file__).resolve().parent))
import blind  # noqa: E402
import sealed  # noqa: E402


def oracle_score(regime: str, overrides: list[str]) -> tuple[float, str]:
    """``(oracle of the regime's reward on the observed data, data-limited reason)``."""
    cfg = typed(launch.compose_regime(regime, *overrides))
    family = get_family(cfg.simulation.family)
    SOURCE.check(cfg, family)
    arrays = SOURCE.load(cfg, family).arrays  # what a run of this config trains on (cached as a run's)
    device = torch.device("cpu")
    model, _ = family.build(arrays, cfg, device)
    metrics, _ = family.evaluate(model, arrays, cfg, device)
    value = metrics.get(f"oracle_{cfg.reward_key}")
    return (float(value) if value is not None else float("nan")), str(metrics.get("data_limited_reason") or "")


def parse_recipe(text: str) -> tuple[str, list[str]]:
    name, sep, rest = text.partition("=")
    if not sep or not name.strip():
        raise SystemExit(f"--recipe {text!r}: write it as 'name=key=value key=value ...' (an empty list after "
                         "the first '=' keeps the regime as it is)")
    return name.strip(), rest.split()


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--regimes", nargs="+", required=True)
    p.add_argument("--sim-seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5, 6, 7, 8])
    p.add_argument("--recipe", action="append", default=[], help="'name=key=value key=value ...' (repeatable)")
    p.add_argument("--blind", action="store_true", help="also draw each seed's truth as the blind benchmark does")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/observed_recipes"))
    args = p.parse_args(argv)
    seals = sealed.read_seals()
    recipes = [parse_recipe(r) for r in args.recipe] or [("as the regime", [])]
    observation = blind.read_recipes()["observation"]
    rows = []
    for regime in args.regimes:
        sealed_here = [s for s in args.sim_seeds if sealed.held_out(seals, regime, s)]
        if sealed_here:
            raise SystemExit(f"seeds {sealed_here} are sealed for {regime}: choose recipes on other seeds")
        for name, extra in recipes:
            for seed in args.sim_seeds:
                draw = blind.truth_draw(regime, seed) if args.blind else []
                t0 = time.perf_counter()
                score, reason = oracle_score(regime, [f"simulation.seed={seed}", *observation, *extra, *draw])
                rows.append({"regime": regime, "recipe": name, "overrides": " ".join(extra), "sim_seed": seed,
                             "blind": args.blind, "oracle": score, "wall_s": round(time.perf_counter() - t0, 1),
                             "reason": reason})
                print(f"{regime} [{name}] seed {seed}: oracle {score:.4f} {reason}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "oracle.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"Command: `python benchmarks/observed_oracle.py {shlex.join(sys.argv[1:] if argv is None else argv)}`", "",
             f"Observation: {' '.join(observation)}{'; truth drawn per seed (benchmarks/blind.py)' if args.blind else ''}",
             "", "| regime | recipe | overrides | seeds | oracle mean | oracle worst | draws < 0.98 |", "|---|---|---|---|---|---|---|"]
    for regime in args.regimes:
        for name, extra in recipes:
            part = np.array([r["oracle"] for r in rows if r["regime"] == regime and r["recipe"] == name])
            lines.append(f"| `{regime}` | {name} | `{' '.join(extra)}` | {len(part)} | {np.nanmean(part):.4f} | "
                         f"{np.nanmin(part):.4f} | {int(np.sum(~(part >= 0.98)))} |")
    lines += ["", "| regime | recipe | seed | oracle | reason |", "|---|---|---|---|---|"]
    lines += [f"| `{r['regime']}` | {r['recipe']} | {r['sim_seed']} | {r['oracle']:.4f} | {r['reason']} |" for r in rows]
    (args.out / "oracle.md").write_text("\n".join(lines) + "\n")
    return rows


if __name__ == "__main__":
    main()
