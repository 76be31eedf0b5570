"""Render the documents' tables of measured numbers from the committed result files.

Every table of measured numbers in ``README.md``, ``benchmarks/README.md`` and ``docs/*.md`` sits
between two markers::

    <!-- table: robustness_signal -->
    ...generated, do not edit...
    <!-- /table -->

and is rewritten by this command from the files under ``benchmarks/results/`` (metrics.json files,
the benchmarks' CSV and markdown tables, txt summaries)::

    python benchmarks/render_docs.py            # rewrite the tables in place
    python benchmarks/render_docs.py --check    # exit 1, naming each stale table, if any differs

Each table is a pure function of the results folder (``TABLES``: name -> function(results) -> str);
to change a number, change (or re-run) the result file and render again, never the document.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import re
import statistics
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script or loaded by path (tests)
import sealed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOCUMENTS = ("README.md", "benchmarks/README.md", "docs/*.md")

MARKER = re.compile(r"(<!-- table: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)

# Thresholds of the status read-out (neuralgraph's `converged` / the oracle's "determined" bar).
ORACLE_GOOD = 0.99
CONVERGED = 0.9


# ---------------------------------------------------------------- reading result files

def read_runs(path: Path) -> list[dict]:
    """Rows of a ``benchmarks/robustness.py`` CSV, numbers parsed; ``held_out`` only where the seed is
    sealed for the regime (``benchmarks/sealed_seeds.yaml``), whatever the run's command line said."""
    rows = []
    seals = sealed.read_seals()
    with open(path, newline="") as f:
        for raw in csv.DictReader(f):
            row: dict = dict(raw)
            row["sim_seed"], row["train_seed"] = int(raw["sim_seed"]), int(raw["train_seed"])
            row["held_out"] = sealed.held_out(seals, raw["regime"], row["sim_seed"])
            for key, value in raw.items():
                if key == "meets_bar":
                    row[key] = value == "True"
                elif key not in ("regime", "metric", "status", "reason", "sim_seed", "train_seed", "held_out", "truth"):
                    row[key] = _float(value)
            rows.append(row)
    return rows


def md_tables(path: Path) -> list[list[list[str]]]:
    """Every markdown table of a file, as rows of cells (header first, separator dropped)."""
    tables, current = [], []
    for line in path.read_text().splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def read_runs_md(path: Path) -> list[dict]:
    """The "Every run" table of a ``robustness.py`` markdown file, as the CSV's rows."""
    table = next(t for t in md_tables(path) if t[0][:3] == ["regime", "sim seed", "train seed"])
    rows = []
    seals = sealed.read_seals()
    for cells in table[1:]:
        regime, seed = cells[0].strip("`"), int(cells[1].split()[0])
        rows.append({"regime": regime, "sim_seed": seed, "train_seed": int(cells[2]),
                     "held_out": sealed.held_out(seals, regime, seed), "learned": _float(cells[3]),
                     "oracle": _float(cells[4]),
                     "status": cells[5], "wall_s": _float(cells[6]), "reason": cells[7] if len(cells) > 7 else ""})
    return rows


def command_of(path: Path) -> str:
    """The ``Command: `...``` line a benchmark wrote at the top of its markdown table."""
    match = re.search(r"^Command: `(.*?)`", path.read_text(), re.M)
    return match.group(1) if match else ""


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def time_v(path: Path) -> dict:
    """Wall time (s) and peak RSS (GiB) from ``/usr/bin/time -v`` output."""
    text = path.read_text()
    wall = re.search(r"Elapsed \(wall clock\) time .*?: ([\d:.]+)", text).group(1)
    seconds = 0.0
    for part in wall.split(":"):
        seconds = seconds * 60 + float(part)
    rss_kib = float(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return {"wall_s": seconds, "rss_gib": rss_kib / 2**20}


# ---------------------------------------------------------------- formatting

def _float(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def f4(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:.4f}"


def f3(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:.3f}"


def f0(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:.0f}"


def minsec(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(round(seconds % 60))} s"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def finite(values) -> list[float]:
    return [v for v in values if isinstance(v, float) and math.isfinite(v)]


def mean(values) -> float:
    v = finite(values)
    return statistics.fmean(v) if v else math.nan


def lowest(values) -> float:
    v = finite(values)
    return min(v) if v else math.nan


def highest(values) -> float:
    v = finite(values)
    return max(v) if v else math.nan


def seed_sets(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """(label, rows) per seed set: the seeds not sealed ("seeds: 1 2 3"), then the sealed ones."""
    out = []
    for held, label in ((False, "seeds"), (True, "held out (sealed)")):
        part = [r for r in rows if r["held_out"] == held]
        if part:
            seeds = " ".join(str(s) for s in sorted({r["sim_seed"] for r in part}))
            out.append((f"{label}: {seeds}", part))
    return out


def regimes(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["regime"] for r in rows))


# ---------------------------------------------------------------- robustness tables

def robustness_signal(results: Path) -> str:
    """The four signal regimes over 6 simulation × 2 training seeds (``robustness_signal/``)."""
    rows = read_runs(results / "robustness_signal" / "robustness.csv")
    out = []
    for regime in regimes(rows):
        for label, part in seed_sets([r for r in rows if r["regime"] == regime]):
            learned, oracle = [r["learned"] for r in part], [r["oracle"] for r in part]
            good = [r for r in part if r["oracle"] >= ORACLE_GOOD]
            missed = (sum(not r["learned"] >= ORACLE_GOOD for r in good), sum(not r["learned"] >= CONVERGED for r in good))
            out.append([f"`{regime}`", label, str(len(part)), f4(mean(learned)), f4(lowest(learned)), f4(mean(oracle)),
                        f4(lowest(oracle)), str(sum(r["status"] == "data_limited" for r in part)),
                        f"{missed[0]} / {missed[1]}", f0(mean([r["wall_s"] for r in part]))])
    return table(["regime", "seeds", "runs", "learned mean", "learned worst", "oracle mean", "oracle worst",
                  "data_limited", "missed (< 0.99 / < 0.9)", "wall mean (s)"], out)


def robustness_metabolism(results: Path) -> str:
    """``oscillatory_rank50`` on its default and shifted rate constants (``robustness_metabolism/node_line/``)."""
    folder = results / "robustness_metabolism" / "node_line"
    out = []
    for name in ("base", "shift_lo", "shift_hi"):
        rows = read_runs(folder / f"{name}.csv")
        lo = re.search(r"log_k_min=(\S+)", command_of(folder / f"{name}.md"))
        hi = re.search(r"log_k_max=(\S+)", command_of(folder / f"{name}.md"))
        k_range = f"[{lo.group(1)}, {hi.group(1)}]" if lo and hi else "default"
        for label, part in seed_sets(rows):
            learned = [r["learned"] for r in part]
            pearson = [r["test_pearson"] for r in part]
            out.append([k_range, label, str(len(part)), f4(mean(learned)), f4(lowest(learned)),
                        f4(lowest([r["oracle"] for r in part])), f"{f3(mean(pearson))} ({f3(lowest(pearson))})",
                        f3(highest([r["homeostasis_slope_err"] for r in part])),
                        f"{sum(r['status'] == 'converged' for r in part)} of {len(part)}"])
    return table(["true log10 k", "simulation seeds", "runs", "k R² mean", "k R² worst", "oracle worst",
                  "test_pearson mean (worst)", "homeostasis slope error, worst", "converged"], out)


def _s_learning(folder: Path, names: Callable[[int, int], str]) -> str:
    rows = read_runs(folder / "robustness.csv")
    for r in rows:
        path = folder / names(r["sim_seed"], r["train_seed"])
        r["gauged"] = read_json(path).get("stoichiometry_R2_oracle_gauge", math.nan) if path.exists() else math.nan
    out = []
    sets = seed_sets(rows)
    for label, part in sets + ([("all", rows)] if len(sets) > 1 else []):
        learned, oracle, gauged = [r["learned"] for r in part], [r["oracle"] for r in part], [r["gauged"] for r in part]
        out.append([label, str(len(part)), f3(mean(learned)), f3(lowest(learned)), f3(mean(oracle)), f3(lowest(oracle)),
                    f"{f3(lowest(gauged))}–{f3(highest(gauged))}"])
    return table(["simulation seeds", "runs", "learned mean", "learned worst", "oracle mean", "oracle worst",
                  "oracle-gauged (learned)"], out)


def robustness_S_learning_roles(results: Path) -> str:
    """``metabolism_S_learning`` from the graph's roles start (``robustness_S_learning/roles/``)."""
    return _s_learning(results / "robustness_S_learning" / "roles",
                       lambda s, t: f"sim{s}_train{t}.metrics.json")


def robustness_S_learning_random(results: Path) -> str:
    """``metabolism_S_learning`` from the earlier random start (``robustness_S_learning/dal2400/``)."""
    return _s_learning(results / "robustness_S_learning" / "dal2400",
                       lambda s, t: f"seed{s}{'' if t == 42 else f'_train{t}'}.metrics.json")


def robustness_tiny(results: Path) -> str:
    """The tiny regimes over simulation × training seeds (``robustness_tiny*/``)."""
    rows = (read_runs(results / "robustness_tiny" / "tiny_signal_rescored" / "robustness.csv")
            + read_runs(results / "robustness_tiny_metabolism" / "robustness.csv")
            + read_runs(results / "robustness_tiny_signal_rnn" / "robustness.csv")
            + read_runs_md(results / "robustness_tiny_flyvis" / "tuning.md")
            + read_runs_md(results / "robustness_tiny_flyvis" / "held_out.md")
            + read_runs(results / "robustness_tiny_S_learning" / "prior" / "robustness.csv"))
    out = []
    for regime in regimes(rows):
        for label, part in seed_sets([r for r in rows if r["regime"] == regime]):
            learned = [r["learned"] for r in part]
            scored = [r for r in part if r["status"] != "data_limited"]
            limited = len(part) - len(scored)
            converged = f"{sum(r['status'] == 'converged' for r in scored)} of {len(scored)}"
            out.append([f"`{regime}`", label, str(len(part)), f4(mean(learned)), f4(lowest(learned)),
                        f4(lowest([r["learned"] for r in scored])), f4(lowest([r["oracle"] for r in part])),
                        converged + (f" (+{limited} `data_limited`)" if limited else ""),
                        f0(mean([r["wall_s"] for r in part]))])
    return table(["regime", "seeds", "runs", "learned mean", "learned worst", "worst not data-limited",
                  "oracle worst", "converged", "wall mean (s)"], out)


# ---------------------------------------------------------------- full-size runs

def _seed_of(name: str) -> int:
    return int(re.search(r"seed(\d+)", name).group(1))


def _full_size(results: Path, prefix: str) -> list[tuple[int, dict, dict]]:
    """(simulation seed, metrics, time -v) per ``full_size/<prefix>_seed<N>.metrics.json``, seed 42 first."""
    folder = results / "full_size"
    runs = []
    for path in folder.glob(f"{prefix}_seed*.metrics.json"):
        seed = _seed_of(path.name)
        timing = folder / f"{prefix}_seed{seed}.time.txt"
        runs.append((seed, read_json(path), time_v(timing) if timing.exists() else {}))
    return sorted(runs, key=lambda r: (r[0] != 42, r[0]))


def full_size_signal_fig2(results: Path) -> str:
    """``signal_fig2`` at full size on one CPU thread (``full_size/signal_fig2_seed*``)."""
    out = []
    for seed, m, t in _full_size(results, "signal_fig2"):
        out.append([str(seed), f"{m['connectivity_R2']:.5f}", f3(m["connectivity_slope"]), f"{m['connectivity_R2_raw']:.5f}",
                    f4(m["oracle_connectivity_R2"]), f"{m['cluster_accuracy']:.3g} ({m['n_clusters']} clusters)",
                    f3(m["test_pearson"]), f"{m['test_horizon']:,} / {m['truth_horizon']:,}",
                    f"{m['training_time_min']:.1f} min", minsec(t["wall_s"]), f"{t['rss_gib']:.2f}"])
    return table(["simulation seed", "connectivity_R2", "slope", "raw R²", "oracle", "cluster accuracy", "test_pearson",
                  "test / truth horizon", "training", "wall (`time -v`)", "peak RSS (GiB)"], out)


def full_size_flyvis(results: Path) -> str:
    """``flyvis`` (input unknown) at extent 8 (``full_size/flyvis_seed*``; final read-out from ``flyvis_rescored.json``)."""
    rescored = {_seed_of(k.replace("fv", "seed")): v for k, v in read_json(results / "full_size" / "flyvis_rescored.json").items()}
    out = []
    for seed, m, t in _full_size(results, "flyvis"):
        m = {**m, **rescored.get(seed, {})}
        out.append([str(seed), f"{f3(m['connectivity_R2'])} ({f3(m['oracle_connectivity_R2'])})",
                    f"{f3(m['tau_R2'])} ({f3(m['oracle_tau_R2'])})",
                    f"{f3(m['V_rest_R2'])} ({f3(m['V_rest_R2_all'])}, {f3(m['oracle_V_rest_R2'])})", f3(m["field_R2"]),
                    f"{f3(m['cluster_accuracy'])} ({f3(m['cluster_accuracy_dynamics'])})", f4(m["test_pearson"]),
                    minsec(t["wall_s"]), f"{t['rss_gib']:.1f}"])
    return table(["simulation seed", "connectivity_R2 (oracle)", "tau_R2 (oracle)", "V_rest_R2 (all neurons, oracle)",
                  "field_R2", "cluster accuracy (dynamics only)", "test_pearson", "wall (`time -v`)", "peak RSS (GiB)"], out)


def full_size_flyvis_known_input(results: Path) -> str:
    """``flyvis_known_input`` at extent 8 (``full_size/flyvis_known_input_seed*``)."""
    out = []
    for seed, m, t in _full_size(results, "flyvis_known_input"):
        out.append([str(seed), f"{f3(m['connectivity_R2'])} ({f3(m['oracle_connectivity_R2'])})",
                    f"{f3(m['tau_R2'])} ({f3(m['oracle_tau_R2'])})", f"{f3(m['V_rest_R2'])} ({f3(m['oracle_V_rest_R2'])})",
                    f3(m["cluster_accuracy"]), f4(m["test_pearson"]), f"{m['training_time_min']:.1f} min",
                    minsec(t["wall_s"]), f"{t['rss_gib']:.1f}"])
    return table(["simulation seed", "connectivity_R2 (oracle)", "tau_R2 (oracle)", "V_rest_R2 (oracle)",
                  "cluster accuracy (earlier read-out)", "test_pearson", "training", "wall (`time -v`)", "peak RSS (GiB)"], out)


# ---------------------------------------------------------------- sweepers

SWEEPER_FOLDERS = ("sweepers/tiny_metabolism", "sweepers/tiny_signal", "sweepers_rank50")
REPLAY_FOLDERS = ("sweepers_replay/tiny_metabolism", "sweepers_replay/tiny_signal", "sweepers_replay/oscillatory_rank50")


def _sweeper_table(results: Path, folders: tuple[str, ...], first_cell: str) -> str:
    """Rows of the ``sweepers.py`` table whose header starts with ``first_cell``, merged over regimes."""
    header: list[str] = []
    records: list[dict] = []
    for folder in folders:
        for t in md_tables(results / folder / "sweepers.md"):
            if t[0][1] == first_cell:
                header += [h for h in t[0] if h not in header]
                records += [dict(zip(t[0], cells)) for cells in t[1:]]
    return table(header, [[r.get(h, "–") for h in header] for r in records])


def sweepers_best(results: Path) -> str:
    """ucb_llm, TPE and random: best and held-out reward per budget (``sweepers*/``)."""
    return _sweeper_table(results, SWEEPER_FOLDERS, "method")


def sweepers_paired(results: Path) -> str:
    """Paired differences of best-so-far, ucb_llm minus the other (``sweepers*/``)."""
    return _sweeper_table(results, SWEEPER_FOLDERS, "ucb_llm −")


def sweepers_replay(results: Path) -> str:
    """The same paired differences on the replayed surrogates (``sweepers_replay/``)."""
    return _sweeper_table(results, REPLAY_FOLDERS, "ucb_llm −")


# ---------------------------------------------------------------- GPU check and scaling

#: The observation variants of ``observation/``: folder and how the table names it.
OBSERVATIONS = (("exact", "exact derivative, no noise"), ("finite_difference", "finite differences, no noise"),
                ("spline_noise1", "spline, 1 % noise"))


def _observation_rows(folder: Path) -> list[list[str]]:
    out = []
    for name, label in OBSERVATIONS:
        path = folder / name / "robustness.csv"
        if not path.exists():
            continue
        rows = read_runs(path)
        for regime in regimes(rows):
            part = [r for r in rows if r["regime"] == regime]
            learned, oracle = [r["learned"] for r in part], [r["oracle"] for r in part]
            out.append([f"`{regime}`", label, " ".join(str(r["sim_seed"]) for r in part), f4(mean(learned)),
                        f4(lowest(learned)), f4(mean(oracle)), f4(lowest(oracle)),
                        str(sum(r["status"] == "data_limited" for r in part))])
    return sorted(out, key=lambda row: row[0])


def observation_tiny(results: Path) -> str:
    """The tiny regimes trained on exact and on estimated derivatives (``observation/``)."""
    return table(["regime", "observed as", "simulation seeds", "learned mean", "learned worst", "oracle mean",
                  "oracle worst", "data_limited"], _observation_rows(results / "observation"))


def observation_signal_chaotic_oracle(results: Path) -> str:
    """``signal_chaotic``'s oracle on exact and estimated derivatives (``observation/signal_chaotic_oracle/``)."""
    rows = [row[:3] + row[5:] for row in _observation_rows(results / "observation" / "signal_chaotic_oracle")]
    return table(["regime", "observed as", "simulation seeds", "oracle mean", "oracle worst", "data_limited"], rows)


def blind(results: Path) -> str:
    """Every regime of the blind benchmark (``blind/*/robustness.csv``): each draw its own truth,
    observed with 1 % noise and spline derivatives, judged against the oracle on the same data."""
    out = []
    for path in sorted((results / "blind").glob("*/robustness.csv")):
        rows = read_runs(path)
        for regime in regimes(rows):
            # A folder named past its regime is a variant of it (tiny_metabolism_line_homeostasis).
            folder = path.parent.name
            variant = folder[len(regime) + 1:].replace("_", " ") if folder.startswith(regime + "_") else ""
            name = f"`{regime}`" + (f" ({variant})" if variant else "")
            for label, part in seed_sets([r for r in rows if r["regime"] == regime]):
                learned, oracle = [r["learned"] for r in part], [r["oracle"] for r in part]
                gaps = [r["oracle"] - r["learned"] for r in part]
                baseline = mean([r.get("baseline", math.nan) for r in part])
                out.append([name, label, str(len(part)), f4(mean(learned)), f4(lowest(learned)),
                            f4(mean(oracle)), f4(lowest(oracle)), f4(highest(gaps)),
                            f4(baseline) if math.isfinite(baseline) else "–",
                            f"{sum(r['meets_bar'] for r in part)} / {len(part)}"])
    return table(["regime", "simulation seeds", "runs", "learned mean", "learned worst", "oracle mean",
                  "oracle worst", "largest gap to oracle", "graph-only mean", "meets bar"], out)


def observed_recipes(results: Path) -> str:
    """The oracle alone on observed data per regime and data recipe (``observed_recipes/*/oracle.csv``)."""
    out = []
    for path in sorted((results / "observed_recipes").glob("*/oracle.csv")):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        for regime in dict.fromkeys(r["regime"] for r in rows):
            for recipe in dict.fromkeys(r["recipe"] for r in rows if r["regime"] == regime):
                part = [r for r in rows if r["regime"] == regime and r["recipe"] == recipe]
                values = [_float(r["oracle"]) for r in part]
                out.append([f"`{regime}`", recipe, f"`{part[0]['overrides']}`" if part[0]["overrides"] else "–",
                            " ".join(r["sim_seed"] for r in part), "yes" if part[0]["blind"] == "True" else "no",
                            f4(mean(values)), f4(lowest(values)), str(sum(not v >= 0.98 for v in values))])
    return table(["regime", "recipe", "overrides", "simulation seeds", "truth drawn", "oracle mean", "oracle worst",
                  "draws < 0.98"], out)


def gpu_check_summary(results: Path) -> str:
    """``gpu_check.sh``'s summary on an H200 (``gpu_check/summary.txt``), as a code block."""
    return "```\n" + (results / "gpu_check" / "summary.txt").read_text().strip() + "\n```\n"


def scaling_signal(results: Path) -> str:
    """The signal part of ``scaling.md``."""
    return table(md_tables(results / "scaling.md")[0][0], md_tables(results / "scaling.md")[0][1:])


def scaling_flyvis(results: Path) -> str:
    """The flyvis part of ``scaling.md``."""
    return table(md_tables(results / "scaling.md")[1][0], md_tables(results / "scaling.md")[1][1:])


TABLES: dict[str, Callable[[Path], str]] = {
    "robustness_signal": robustness_signal,
    "robustness_metabolism": robustness_metabolism,
    "robustness_S_learning_roles": robustness_S_learning_roles,
    "robustness_S_learning_random": robustness_S_learning_random,
    "robustness_tiny": robustness_tiny,
    "full_size_signal_fig2": full_size_signal_fig2,
    "full_size_flyvis": full_size_flyvis,
    "full_size_flyvis_known_input": full_size_flyvis_known_input,
    "sweepers_best": sweepers_best,
    "sweepers_paired": sweepers_paired,
    "sweepers_replay": sweepers_replay,
    "observation_tiny": observation_tiny,
    "observation_signal_chaotic_oracle": observation_signal_chaotic_oracle,
    "blind": blind,
    "observed_recipes": observed_recipes,
    "gpu_check_summary": gpu_check_summary,
    "scaling_signal": scaling_signal,
    "scaling_flyvis": scaling_flyvis,
}


# ---------------------------------------------------------------- documents

def render(text: str, results: Path = RESULTS) -> str:
    """``text`` with every marked table replaced by its rendering from ``results``."""
    def replace(match: re.Match) -> str:
        name = match.group("name")
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r} (known: {', '.join(TABLES)})")
        return match.group(1) + TABLES[name](results) + match.group(4)
    return MARKER.sub(replace, text)


def documents(root: Path = ROOT) -> list[Path]:
    return [p for pattern in DOCUMENTS for p in sorted(root.glob(pattern))]


def stale(root: Path = ROOT, results: Path = RESULTS) -> list[str]:
    """``file: table`` for every marked table whose text differs from its rendering."""
    out = []
    for path in documents(root):
        text = path.read_text()
        rendered = render(text, results)
        if rendered != text:
            old = {m.group("name"): m.group("body") for m in MARKER.finditer(text)}
            new = {m.group("name"): m.group("body") for m in MARKER.finditer(rendered)}
            out += [f"{path.relative_to(root)}: {name}" for name in old if old[name] != new.get(name)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table differs")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the result files (default benchmarks/results)")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale(ROOT, args.results)
        for line in bad:
            print(f"stale table {line} (run python benchmarks/render_docs.py)", file=sys.stderr)
        return 1 if bad else 0
    for path in documents(ROOT):
        text = path.read_text()
        rendered = render(text, args.results)
        if rendered != text:
            path.write_text(rendered)
            print(f"rendered {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
