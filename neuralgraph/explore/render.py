"""The files users read, rendered from the tree state.

``ucb_scores.txt`` and ``memory.md`` are rewritten after every round; ``analysis.md`` only grows
(one ``## Iter N`` entry per finished run, in the users' format, plus block headers and
summaries); ``tree.png`` and ``optimization_results.yaml`` show the tree and the best node.
Every piece of free text a proposer wrote (rationale, notes, memory, summaries) and every error
text passes through :func:`~.text.one_line` on its way into markdown: one escaped line, capped.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import yaml

from neuralgraph.io import write_bytes, write_text

from .text import RATIONALE_CHARS, SUMMARY_CHARS, one_line
from .tree import Node, Run, TreeState
from .ucb import Score, ucb_scores

SUCCESS = 0.9  # the users' classes: converged above, failed below FAILURE, partial between
FAILURE = 0.1
_SHOWN_METRICS = 8
# The seeds' Metrics line leads with these; other metrics follow if room is left.
PREFERRED_METRICS = ("rate_constants_R2_shifted", "connectivity_R2", "stoichiometry_R2", "tau_R2",
                     "V_rest_R2", "field_R2", "cluster_accuracy", "test_R2", "test_pearson",
                     "final_loss", "training_time_min")


def classify(node_reward: Optional[float], run: Optional[Run] = None) -> str:
    if run is not None and run.status == "failed":
        return "failed"
    if run is not None and str(run.metrics.get("status", "")) == "diverged":
        return "failed"
    r = node_reward if run is None else run.reward
    if r is None or not math.isfinite(r):
        return "failed"
    return "converged" if r > SUCCESS else ("partial" if r >= FAILURE else "failed")


def num(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}" if math.isfinite(v) else str(v)


def short_config(config: dict[str, str]) -> str:
    return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in sorted(config.items()))


def reward_text(node: Node) -> str:
    if node.reward is None:
        return "pending"
    n = len(node.finished_runs())
    if n > 1:
        return f"{node.reward:.4f} ± {node.spread:.4f} (n={n})"
    return f"{node.reward:.4f}"


# ---- ucb_scores.txt --------------------------------------------------------------------------
def render_ucb(state: TreeState, scores: list[Score], c: float, formula: str, n_iter_block: int) -> str:
    first = (state.block - 1) * n_iter_block + 1
    n_total = sum(len(n.finished_runs()) for n in state.block_nodes())
    head = (f"=== UCB Scores (block {state.block}, regime {state.block_regime}, iters "
            f"{first}-{first + n_iter_block - 1}, N={n_total}, c={c}, formula={formula}, "
            f"reward={state.block_key}) ===")
    lines = [head]
    for s in scores:
        node = state.nodes[s.node]
        parent = "root" if node.parent is None else str(node.parent)
        pearson = node.mean_metric("test_pearson")
        extra = f", Pearson={pearson:.3f}" if pearson is not None else ""
        minutes = node.mean_metric("training_time_min")
        extra += f", Time={minutes:.1f}" if minutes is not None else ""
        spread = f", spread={s.spread:.4f}, runs={s.runs}" if s.runs > 1 else ""
        lines.append(
            f"Node {s.node}: UCB={s.ucb:.3f}, parent={parent}, visits={s.visits}, "
            f"R2={s.reward:.4f}{spread}{extra}, Mutation={node.mutation or node.strategy}"
        )
    return "\n".join(lines) + "\n"


# ---- analysis.md -----------------------------------------------------------------------------
def analysis_entry(state: TreeState, node: Node, run: Run, next_parent: Optional[int],
                   visual: str = "") -> str:
    replicate_no = node.runs.index(run) + 1
    is_replicate = replicate_no > 1
    status = classify(None, run)
    parent = "root" if node.parent is None else str(node.parent)
    node_line = f"Node: id={node.id}, parent={parent}"
    if is_replicate:
        node_line = f"Node: id={node.id} (replicate {replicate_no}, seed={run.seed}), parent={parent}"
    if is_replicate:
        mode = "Mode/Strategy: replicate" + (f" — {one_line(run.note, RATIONALE_CHARS)}" if run.note else "")
    else:
        mode = f"Mode/Strategy: {one_line(node.strategy or '-', 40)} ({node.proposer})"
        if node.rationale:
            mode += f" — {one_line(node.rationale, RATIONALE_CHARS)}"
    key = run.reward_key or state.block_key
    metric_text = metric_line(run.metrics, key)
    if run.status == "failed":
        why = run.error.strip().splitlines()[-1] if run.error.strip() else "no error text"
        metric_text = f"{key}=FAILED ({one_line(why, 200)})"
    seed = f", seed={run.seed}" if run.seed is not None else ""
    lines = [
        f"## Iter {run.iteration}: {status}",
        node_line,
        mode,
        f"Config: {short_config(node.config)}{seed}",
        f"Metrics: {metric_text}",
    ]
    if visual:
        lines.append(f"Visual: {one_line(visual)}")
    lines.append(f"Mutation: {'none (replicate)' if is_replicate else (node.mutation or 'none (block root)')}")
    if is_replicate:
        lines.append(f"Parent rule: re-run node {node.id}'s config with seed {run.seed}")
    else:
        lines.append(f"Parent rule: {node.parent_rule or '-'}")
    if node.fallback and not is_replicate:
        lines.append(f"Fallback: {one_line(node.fallback)}")
    lines.append(f"Observation: {observe(state, node, run)}")
    lines.append(f"Next: parent={'root' if next_parent is None else next_parent}")
    return "\n".join(lines) + "\n\n"


def metric_line(metrics: dict[str, Any], reward_key: str, limit: int = _SHOWN_METRICS) -> str:
    """``k=v, ...`` for the numeric metrics, the reward and the seeds' usual ones first."""
    numeric = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    first = [reward_key] + [k for k in PREFERRED_METRICS if k != reward_key]
    order = [k for k in first if k in numeric] + [k for k in numeric if k not in first]
    return ", ".join(f"{k}={num(numeric[k])}" for k in order[:limit])


def observe(state: TreeState, node: Node, run: Run) -> str:
    if run.status == "failed":
        return "the job failed; it scores below every finished job"
    parts = []
    if len(node.finished_runs()) > 1:
        parts.append(f"node reward now {reward_text(node)}")
    parent = state.nodes.get(node.parent) if node.parent is not None else None
    if parent is not None and parent.reward is not None and run.reward is not None:
        delta = run.reward - parent.reward
        noise = max(parent.spread, node.spread)
        verdict = "improved" if delta > 0 else ("unchanged" if delta == 0 else "worse")
        if noise > 0 and abs(delta) <= 2 * noise:
            verdict += f", within the seed spread (±{noise:.3f})"
        parts.append(f"{run.reward:.4f} vs parent {parent.reward:.4f} ({delta:+.4f}, {verdict})")
    best = state.best_node(state.block)
    if best is not None and best.id == node.id:
        parts.append("block best")
    return "; ".join(parts) or f"reward {num(run.reward)}"


# ---- memory.md -------------------------------------------------------------------------------
def render_memory(state: TreeState, n_iter_block: int) -> str:
    mem = state.memory
    out = [f"# Working Memory: {state.regime} (ucb_llm sweep)", "",
           "## Knowledge Base (accumulated across all blocks)", "", "### Regime Comparison Table", "",
           "| Block | Regime | Iters | Best reward | Spread | Best node | Best config | Key finding |",
           "| ----- | ------ | ----- | ----------- | ------ | --------- | ----------- | ----------- |"]
    for b in state.blocks:
        best = "-" if b.best_reward is None else f"{b.best_reward:.4f}"
        out.append(f"| {b.block} | {b.regime} | {b.first_iter}-{b.last_iter} | {best} | "
                   f"{b.best_spread:.4f} | {b.best_node} | {short_config(b.best_config)} | "
                   f"{one_line(b.note, 200)} |")
    out += ["", "### Established Principles", ""] + [f"- {one_line(p)}" for p in mem.principles]
    out += ["", "### Open Questions", ""] + [f"- {one_line(q)}" for q in mem.open_questions]
    out += ["", "---", "", "## Previous Block Summary", ""]
    if state.blocks:
        b = state.blocks[-1]
        spread = '-' if b.best_reward is None else f'{b.best_reward:.4f} ± {b.best_spread:.4f}'
        out.append(f"Block {b.block} ({b.regime}, iters {b.first_iter}-{b.last_iter}): best node "
                   f"{b.best_node}, {b.reward_key or state.reward_key}={spread}. {one_line(b.note)}")
        if b.summary:
            out += ["", f"Summary ({b.summary_by}): {one_line(b.summary, SUMMARY_CHARS)}"]
    first = (state.block - 1) * n_iter_block + 1
    out += ["", "---", "", f"## Current Block (Block {state.block})", "", "### Block Info", "",
            f"- Regime: {state.block_regime}", f"- Primary metric: {state.block_key}",
            f"- Iterations: {first} to {first + n_iter_block - 1}",
            f"- Starting config: {short_config(state.block_base)}",
            "", "### Hypothesis", "", one_line(mem.hypothesis) or "-", "", "### Iterations This Block", ""]
    for node, run in state.all_runs():
        if node.block != state.block or run.status == "pending":
            continue
        tag = "replicate" if node.runs.index(run) > 0 else (node.strategy or "-")
        parent = "root" if node.parent is None else node.parent
        out.append(f"- Iter {run.iteration} (node {node.id} <- {parent}, {one_line(tag, 40)}): "
                   f"{node.mutation or 'base config'} -> {run.reward_key or state.block_key}="
                   f"{num(run.reward)} [{classify(None, run)}]")
    out += ["", "### Emerging Observations", ""] + [f"- {one_line(o)}" for o in mem.observations]
    return "\n".join(out) + "\n"


# ---- optimization_results.yaml ---------------------------------------------------------------
def render_results(state: TreeState, direction: str = "maximize") -> str:
    """The best node (among those with a finished run) in the metric's own units, the blocks,
    and how often jobs failed and the proposer's calls failed or fell back."""
    sign = -1.0 if direction == "minimize" else 1.0
    best = state.best_node()
    runs = [r for _, r in state.all_runs() if r.status != "pending"]
    data: dict[str, Any] = {"name": "ucb_llm", "reward_key": state.reward_key, "direction": direction,
                            "iterations": state.iteration,
                            "failed_runs": sum(r.status == "failed" for r in runs)}
    if best is not None:
        metric_keys = sorted({k for r in best.finished_runs() for k in r.metrics})
        data.update({
            "best_node": best.id,
            "best_value": sign * float(best.reward),
            "best_value_spread": float(best.spread),
            "best_value_runs": len(best.finished_runs()),
            "best_reward_key": best.runs[0].reward_key or state.reward_key,
            "best_params": {k: _plain(v) for k, v in sorted(best.config.items())},
            "best_metrics": {k: best.mean_metric(k) for k in metric_keys if best.mean_metric(k) is not None},
            "best_regime": state.regime_of(best),
        })
    data["blocks"] = [{"block": b.block, "regime": b.regime, "reward_key": b.reward_key,
                       "best_node": b.best_node,
                       "best_value": None if b.best_reward is None else sign * b.best_reward,
                       "best_value_spread": b.best_spread}
                      for b in state.blocks]
    data["proposer"] = {"calls": state.proposer_calls,
                        "failed_calls": sum(not c.ok for c in state.llm_calls),
                        "fallback_slots": state.fallback_slots}
    return yaml.safe_dump(data, sort_keys=False)


def _plain(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


# ---- tree.png --------------------------------------------------------------------------------
def render_tree_png(state: TreeState, path: Path) -> None:
    """Nodes placed by a tidy layout per block, coloured by reward; replicates shown as n=."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = state.nodes
    children: dict[Optional[int], list[int]] = {}
    for n in sorted(nodes.values(), key=lambda n: n.id):
        key = n.parent if n.parent in nodes and nodes[n.parent].block == n.block else None
        children.setdefault((n.block, key), []).append(n.id)  # type: ignore[arg-type]
    pos: dict[int, tuple[float, float]] = {}
    cursor = [0.0]

    def place(block: int, nid: int, depth: int) -> float:
        kids = children.get((block, nid), [])  # type: ignore[arg-type]
        xs = [place(block, k, depth + 1) for k in kids]
        x = sum(xs) / len(xs) if xs else cursor[0]
        if not xs:
            cursor[0] += 1.0
        pos[nid] = (x, -depth)
        return x

    blocks = sorted({n.block for n in nodes.values()})
    block_x = []
    for b in blocks:
        start = cursor[0]
        for root in children.get((b, None), []):  # type: ignore[arg-type]
            place(b, root, 1)
        block_x.append((b, start, cursor[0]))
        cursor[0] += 0.5
    width = max(6.0, min(40.0, 0.45 * cursor[0] + 2))
    fig, ax = plt.subplots(figsize=(width, 5))
    rewards = [n.reward for n in nodes.values() if n.reward is not None and n.succeeded]
    lo, hi = (min(rewards), max(rewards)) if rewards else (0.0, 1.0)
    cmap = plt.get_cmap("viridis")
    for n in nodes.values():
        x, y = pos[n.id]
        parent_xy = pos.get(n.parent) if n.parent in pos and nodes[n.parent].block == n.block else None
        px, py = parent_xy if parent_xy else (x, 0)
        ax.plot([px, x], [py, y], color="0.7", lw=0.8, zorder=1)
        r = n.reward
        if r is None or not n.succeeded:  # pending, or failed: its reward is a placeholder
            color = "lightgrey" if r is None else "lightcoral"
        else:
            color = cmap((r - lo) / (hi - lo) if hi > lo else 0.5)
        ax.scatter([x], [y], s=260, color=color, edgecolor="k", zorder=2)
        label = str(n.id) + (f"\nn={len(n.finished_runs())}" if len(n.finished_runs()) > 1 else "")
        ax.text(x, y, label, ha="center", va="center", fontsize=7, zorder=3)
    for b, x0, x1 in block_x:
        ax.text((x0 + x1 - 1) / 2, 0.3, f"block {b}", ha="center", fontsize=9)
    best = state.best_node()
    title = f"ucb_llm tree — {state.reward_key}"
    if best is not None:
        title += f"; best node {best.id}: {reward_text(best)}"
    ax.set_title(title)
    ax.set_axis_off()
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(lo, hi))
    fig.colorbar(sm, ax=ax, label=state.reward_key, fraction=0.03)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    write_bytes(path, buf.getvalue())


def write_all(state: TreeState, sweep_dir: Path, c: float, formula: str, n_iter_block: int,
              direction: str = "maximize") -> None:
    """Rewrite the derived files (not analysis.md, which the loop appends to)."""
    sweep_dir = Path(sweep_dir)
    scores = ucb_scores({n.id: n for n in state.block_nodes()}, c, formula)
    write_text(sweep_dir / "ucb_scores.txt", render_ucb(state, scores, c, formula, n_iter_block))
    write_text(sweep_dir / "memory.md", render_memory(state, n_iter_block))
    write_text(sweep_dir / "optimization_results.yaml", render_results(state, direction))
    if state.nodes:
        render_tree_png(state, sweep_dir / "tree.png")


def append_text(path: Path, text: str) -> None:
    """Append by rewriting atomically, so a kill never leaves a half-written entry."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    write_text(path, old + text)
