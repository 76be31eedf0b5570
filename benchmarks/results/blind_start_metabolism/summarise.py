"""Gather the runs of ``run.sh`` into ``results.csv`` and the table of ``results.md``.

    python benchmarks/results/blind_start_metabolism/summarise.py [RUNS]

Reads each ``centre_<c>_<start>/robustness.csv`` beside this file and, from the run directories
under RUNS (default ``outputs/blind_start_metabolism``), the start each model used (``log_k_start``
in ``model.pt``) and the true mean log10 k (``results.npz``). Prints the markdown table.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
FIELDS = ["centre", "log_k_min", "log_k_max", "start", "sim_seed", "train_seed", "log_k_start", "true_mean_log_k",
          "rate_constants_R2", "oracle_rate_constants_R2", "rate_constants_R2_shifted", "status"]


def rows(runs: Path) -> list[dict]:
    out = []
    for folder in sorted(HERE.glob("centre_*"), key=lambda p: (float(p.name.split("_")[1]), p.name)):
        centre, start = float(folder.name.split("_")[1]), folder.name.split("_")[2]
        for r in csv.DictReader(open(folder / "robustness.csv")):
            run_dir = runs / folder.name / r["regime"] / f"sim{r['sim_seed']}_train{r['train_seed']}"
            state = torch.load(run_dir / "model.pt", map_location="cpu", weights_only=False)["state_dict"]
            true = np.load(run_dir / "results.npz")["log_k_true"]
            out.append({
                "centre": centre, "log_k_min": centre - 0.5, "log_k_max": centre + 0.5,
                "start": "estimated" if start == "estimated" else "fixed -1.5",
                "sim_seed": int(r["sim_seed"]), "train_seed": int(r["train_seed"]),
                "log_k_start": round(float(state["log_k_start"]), 3), "true_mean_log_k": round(float(true.mean()), 3),
                "rate_constants_R2": float(r["learned"]), "oracle_rate_constants_R2": float(r["oracle"]),
                "rate_constants_R2_shifted": float(r["rate_constants_R2_shifted"]), "status": r["status"],
            })
    return out


def table(data: list[dict]) -> str:
    lines = ["| true log10 k | start | per simulation seed 1 / 2 / 3: start (true mean) | rate_constants_R2 | "
             "worst | oracle worst | R² after the mean offset, worst |",
             "|---|---|---|---|---|---|---|"]
    keys = sorted({(d["centre"], d["start"]) for d in data}, key=lambda k: (k[0], k[1] != "estimated"))
    for centre, start in keys:
        group = sorted((d for d in data if (d["centre"], d["start"]) == (centre, start)), key=lambda d: d["sim_seed"])
        starts = " / ".join(f"{d['log_k_start']:.2f} ({d['true_mean_log_k']:.2f})" for d in group)
        learned = " / ".join(f"{d['rate_constants_R2']:.3f}" for d in group)
        lines.append(
            f"| [{centre - 0.5:g}, {centre + 0.5:g}] | {start} | {starts} | {learned} | "
            f"{min(d['rate_constants_R2'] for d in group):.3f} | "
            f"{min(d['oracle_rate_constants_R2'] for d in group):.4f} | "
            f"{min(d['rate_constants_R2_shifted'] for d in group):.4f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    runs = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("outputs/blind_start_metabolism")
    data = rows(runs)
    with open(HERE / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(data)
    print(table(data))


if __name__ == "__main__":
    main()
