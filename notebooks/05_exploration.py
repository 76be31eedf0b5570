# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Exploring training settings: the ucb_llm sweeper against Optuna
#
# **What this shows.** A `ucb_llm` sweep — a UCB tree search over the regime's search space in
# which a proposer (here the offline `heuristic`; an LLM with `hydra.sweeper.proposer=anthropic`
# and a key) makes each mutation — and an Optuna TPE baseline (`hydra/sweeper=optuna_regime`) on
# the same space with the same budget. We read the sweep directory back: the tree, best-so-far
# against Optuna, the UCB scores, the working memory and the log the loop wrote, and the report
# table (pandas) of every run.
#
# **How long.** Full size (`oscillatory_rank50`, 16 evaluations per sweeper, proposed 2 per
# round, the two sweeps side by side on Hydra's basic launcher, one thread per run): each
# evaluation is a full training of about 5 min on a quiet core (15 min on a loaded one), so about
# 1.5 h with two free cores — an estimate from single runs, not measured end to end. Add
# `hydra/launcher=joblib hydra.launcher.n_jobs=2` to the sweeps to run each round's 2 in parallel. Set
# `NEURALGRAPH_NOTEBOOK_SIZE=tiny` for 6 short `tiny_metabolism` runs per sweeper: about a minute.
# To read a sweep you already ran instead, set `SWEEP_DIR` (and optionally `OPTUNA_DIR`) below.
#
# Sweeps go to `outputs/notebooks/05_exploration/<size>/` under the working directory; finished
# sweeps there are reused (delete the folder to run again).

# %%
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml
from IPython.display import Image, Markdown, display

import neuralgraph
from neuralgraph.report import collect, write_report

SIZE = os.environ.get("NEURALGRAPH_NOTEBOOK_SIZE", "full")
if SIZE not in ("tiny", "full"):
    raise ValueError(f"NEURALGRAPH_NOTEBOOK_SIZE={SIZE!r}: use 'tiny' or 'full'")
TINY = SIZE == "tiny"
SWEEP_DIR = None  # a finished ucb_llm sweep directory to read instead of running one
OPTUNA_DIR = None  # a finished optuna_regime sweep directory on the same regime
if TINY:
    REGIME, N_EVAL, N_PARALLEL = "tiny_metabolism", 6, 2
    FIXED = ["progress=false", "plots=false", "training.data_augmentation_loop=30"]
else:
    REGIME, N_EVAL, N_PARALLEL = "oscillatory_rank50", 16, 2
    FIXED = ["progress=false", "num_threads=1"]
OUT = Path("outputs/notebooks/05_exploration").resolve() / SIZE
OUT.mkdir(parents=True, exist_ok=True)
REPO = Path(neuralgraph.__file__).resolve().parent.parent  # conf/ and hydra_plugins/ live here
print(f"size={SIZE}  regime={REGIME}  {N_EVAL} evaluations per sweeper, {N_PARALLEL} per round  output={OUT}")


def start_sweep(sweep_dir: Path, *args: str):
    """Start ``python -m neuralgraph.train -m +regime=REGIME ARGS hydra.sweep.dir=SWEEP_DIR``.

    Returns the process, or None when a finished sweep is already in ``sweep_dir``."""
    if (sweep_dir / "optimization_results.yaml").exists():
        print(f"reusing {sweep_dir}")
        return None
    cmd = [sys.executable, "-m", "neuralgraph.train", "-m", f"+regime={REGIME}", *FIXED, *args,
           f"hydra.sweep.dir={sweep_dir}"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc) -> None:
    if proc is not None:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(proc.args)} failed:\n{err[-3000:]}")


# %% [markdown]
# ## 1. Run both sweepers
#
# Two command lines, side by side:
#
# ```
# python -m neuralgraph.train -m +regime=REGIME hydra/sweeper=ucb_llm \
#     hydra.sweeper.n_iterations=N hydra.sweeper.n_parallel=P
# python -m neuralgraph.train -m +regime=REGIME hydra/sweeper=optuna_regime \
#     hydra.sweeper.n_trials=N hydra.sweeper.n_jobs=P
# ```
#
# Both search the regime's own `search_space` (simulation keys are frozen) and maximise its
# `reward_key`.

# %%
ucb_dir = Path(SWEEP_DIR) if SWEEP_DIR else OUT / "ucb_llm"
optuna_dir = Path(OPTUNA_DIR) if OPTUNA_DIR else (None if SWEEP_DIR else OUT / "optuna")
procs = []
if not SWEEP_DIR:
    procs.append(start_sweep(ucb_dir, "hydra/sweeper=ucb_llm", f"hydra.sweeper.n_iterations={N_EVAL}",
                             f"hydra.sweeper.n_parallel={N_PARALLEL}"))
    procs.append(start_sweep(optuna_dir, "hydra/sweeper=optuna_regime", f"hydra.sweeper.n_trials={N_EVAL}",
                             f"hydra.sweeper.n_jobs={N_PARALLEL}"))
for proc in procs:
    finish(proc)
print("ucb_llm sweep:", sorted(p.name for p in ucb_dir.iterdir() if p.is_file()))
if optuna_dir is not None:
    print("optuna sweep: ", sorted(p.name for p in optuna_dir.iterdir() if p.is_file()))

# %% [markdown]
# ## 2. The search space and the best configuration each sweeper found
#
# `optimization_results.yaml` is written by both sweepers in the same form.

# %%
best = {"ucb_llm": yaml.safe_load((ucb_dir / "optimization_results.yaml").read_text())}
if optuna_dir is not None:
    best["optuna"] = yaml.safe_load((optuna_dir / "optimization_results.yaml").read_text())
reward_key = best["ucb_llm"]["reward_key"]
rows = {}
for name, res in best.items():
    row = {f"best {reward_key}": res.get("best_value")}
    row.update({k: v for k, v in (res.get("best_params") or {}).items()})
    rows[name] = row
display(pd.DataFrame(rows))

# %% [markdown]
# ## 3. The tree
#
# Each node is one configuration (a parent's configuration with one mutation); its colour is the
# reward, its label the mutation. The sweeper renders it into `tree.png` after every round. Below
# the figure, the nodes as a table, read from the tree's JSON state (`ucb_llm_tree.json`, which
# is also what a killed sweep resumes from).

# %%
display(Image(filename=str(ucb_dir / "tree.png"), width=900))
import json  # noqa: E402

state = json.loads((ucb_dir / "ucb_llm_tree.json").read_text())
nodes = []
for node in state["nodes"].values():
    rewards = [r["reward"] for r in node["runs"] if r.get("reward") is not None]
    nodes.append({
        "node": node["id"], "parent": node["parent"], "strategy": node.get("strategy"),
        "mutation": node.get("mutation"), "runs": len(node["runs"]),
        "reward": np.mean(rewards) if rewards else np.nan, "rationale": node.get("rationale"),
    })
nodes = pd.DataFrame(nodes).sort_values("node").set_index("node")
nodes["parent"] = nodes["parent"].astype("Int64")  # the block root has none
with pd.option_context("display.max_colwidth", 70):
    display(nodes)

# %% [markdown]
# ## 4. UCB scores
#
# What the loop (and an LLM proposer) sees each round: UCB = R + c·√N_total / (1 + V).

# %%
print((ucb_dir / "ucb_scores.txt").read_text())

# %% [markdown]
# ## 5. The report table and best-so-far against Optuna
#
# `neuralgraph.report.collect` reads every run directory under the given sweep folders into one
# pandas table (the same table `python -m neuralgraph.report DIR...` writes to `runs.csv`), with
# the iteration order, the reward and a running `best_so_far` per sweep.

# %%
dirs = [ucb_dir] + ([optuna_dir] if optuna_dir is not None else [])
df = collect(dirs)
df["sweeper"] = df["sweep"].map(lambda s: "ucb_llm" if (Path(s) / "ucb_llm_tree.json").exists() else "optuna")
changed = [c for c in df.columns if c.startswith("training.") or c.startswith("model.")]
shown = ["sweeper", "job", "iteration", "status", "reward", "best_so_far", *changed]
with pd.option_context("display.width", 200, "display.max_columns", 30):
    display(df[shown])

fig, ax = plt.subplots(figsize=(7, 4))
for sweeper, group in df.groupby("sweeper"):
    ax.step(group["iteration"], group["best_so_far"], where="post", label=f"{sweeper} best so far")
    ax.scatter(group["iteration"], group["reward"], s=14, alpha=0.5)
ax.set(xlabel="evaluation", ylabel=df["reward_key"].dropna().iloc[0], title=f"{REGIME}: ucb_llm vs Optuna (TPE)")
ax.legend()
plt.show()

report_dir = OUT / "report"
write_report(dirs, report_dir)
print("report files:", sorted(p.name for p in report_dir.iterdir()))

# %% [markdown]
# ## 6. The memory the loop wrote
#
# `memory.md` is the working memory carried from round to round (and across blocks in a regime
# landscape): the regime comparison table, principles established from consistent single-key
# mutations, open questions (keys not tried yet), and this block's iterations. An LLM proposer
# reads it in every prompt; the heuristic proposer writes it in the same form.

# %%
display(Markdown((ucb_dir / "memory.md").read_text()))

# %% [markdown]
# ## 7. The analysis log
#
# `analysis.md` is append-only, one `## Iter N` entry per evaluation (the users' historic form):
# the node, the strategy and rationale, the configuration, the metrics and the mutation. The
# first three entries:

# %%
text = (ucb_dir / "analysis.md").read_text()
entries = text.split("\n## Iter ")
display(Markdown(entries[0] + "".join("\n## Iter " + e for e in entries[1:4])))
print(f"... {len(entries) - 1} entries in all")
