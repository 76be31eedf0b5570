"""What an LLM proposer is shown for one round, and where its instructions come from.

The system text is the instruction document the regime names (``instructions: <file>.md``,
a file in ``agents/``; ``hydra.sweeper.instructions`` overrides it with a path); the user text
carries what the users' loop points Claude at: the round and block position, the working
memory, the UCB scores, the latest runs' metrics and errors, the allowed search space, the slots
to fill, and the JSON answer format. Plots travel separately as images.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from neuralgraph import resources

from .advice import Advice
from .proposers.base import STRATEGIES, Slot
from .render import classify, metric_line, short_config
from .space import SearchSpace
from .tree import TreeState

ANSWER_FORMAT = {
    "mutations": [{
        "slot": 0, "parent": "<node id from the UCB scores, or 'root'>",
        "strategy": " | ".join(STRATEGIES),
        "changes": {"<key from the search space>": "<one value inside its range>"},
        "replicate": False,
        "rationale": "<one line: the hypothesis this run tests>",
    }],
    "observation": "<one line on the latest results>",
    "visual_assessment": "<what the plots show: learned functions vs ground truth, scatter>",
    "memory_update": {"principles": ["<established, with evidence>"], "open_questions": ["..."],
                      "observations": ["..."], "hypothesis": "<for this block>"},
}


def agents_dir() -> Path:
    """The instruction documents: ``agents/`` of the checkout, or ``neuralgraph/agents`` of a wheel."""
    return resources.agents_dir()


def load_instructions(document: str, path: Optional[str]) -> str:
    """The instruction document's text: ``path`` if given (``hydra.sweeper.instructions``), else
    ``agents/<document>``, the file the regime names; raises naming the file to create."""
    if not path and not document:
        raise FileNotFoundError(
            "the regime names no instruction document; add `instructions: <file>.md` to it "
            "(a file under agents/) or set hydra.sweeper.instructions to a markdown file"
        )
    doc = Path(path).expanduser() if path else resources.instruction_document(document)
    if not doc.is_file():
        raise FileNotFoundError(
            f"instruction document '{doc}' not found; set hydra.sweeper.instructions to a "
            "markdown file or add it under agents/"
        )
    return doc.read_text(encoding="utf-8")


def build_prompt(
    state: TreeState,
    space: SearchSpace,
    slots: list[Slot],
    feedback: str,
    *,
    ucb_text: str,
    memory_text: str,
    n_iterations: int,
    n_iter_block: int,
    regimes: Optional[list[str]] = None,
    block_end: bool = False,
    max_keys: int = 2,
    advice_text: str = "",
) -> str:
    first = state.iteration + 1
    last = state.iteration + len(slots)
    in_block = state.iteration - (state.block - 1) * n_iter_block + 1
    out = [
        f"Iterations {first}-{last} of {n_iterations}; block {state.block}, iteration "
        f"{in_block}/{n_iter_block} within the block.",
    ]
    if block_end:
        out.append(">>> BLOCK END <<<")
    out += [
        f"Regime: {state.block_regime}. Primary metric (reward, maximised): {state.block_key}.",
        "", "## Search space (only these keys may change; simulation keys are frozen)",
        space.describe() or "(empty)",
        "", "## Working memory", memory_text,
        "", "## UCB scores", ucb_text,
        "", "## Latest results", _recent(state),
    ]
    if advice_text:
        out += ["", "## Model-based suggestions", advice_text]
    out += [
        "", "## Slots to fill (one mutation each)",
    ]
    for s in slots:
        parent = "root" if s.parent is None else str(s.parent)
        cfg = state.nodes[s.parent].config if s.parent is not None else state.block_base
        ucb = "" if s.parent is None else f", UCB={s.parent_ucb:.3f}"
        out.append(f"Slot {s.index}: parent={parent}{ucb}, suggested role {s.role}; "
                   f"parent config: {short_config(cfg)}")
    if regimes:
        out += ["", "At this block end also choose the next regime: add \"next_regime\" "
                f"with one of: {', '.join(regimes)}."]
    out += ["", "## Answer", "Answer with one JSON object, nothing else, in this form "
            f"(one entry in mutations per slot; change at most {max_keys} key(s); values must lie "
            "inside the search space; no lists, ranges or interpolations; 'slot' is an integer, "
            "'parent' a node id or \"root\", 'replicate' true or false; 'replicate': true re-runs "
            "the parent's config with another seed to measure noise, with 'changes' left empty):",
            json.dumps(ANSWER_FORMAT, indent=1)]
    if feedback:
        out += ["", "## Your previous answer was rejected", feedback,
                "Fix these and answer again with the full JSON object."]
    return "\n".join(out)


def render_advice(advice: Advice, state: TreeState) -> str:
    """The model's suggestions and statistics, as an LLM is shown them."""
    if advice.n_runs == 0:
        return "No run of this regime has finished yet: no model to ask."
    out = [f"A Gaussian process fitted on all {advice.n_runs} finished runs of this regime "
           "(replicates as repeated observations) ranks the mutations each slot's parent allows. "
           "Take one as it is, edit it, or propose your own: the numbers are the model's "
           "predictions, not measurements."]
    best = advice.best
    if best is not None:
        out.append(f"Best node so far: node {best.id}, R={best.reward:.4f} ± {best.spread:.4f} over "
                   f"{len(best.finished_runs())} run(s) (chosen by its mean less one standard error).")
    noise = (f"seed noise σ={advice.seed_noise:.4f}, pooled over {advice.replicated_nodes} "
             "replicated node(s)" if advice.replicated_nodes else "seed noise not measured yet "
             "(no replicated node)")
    out.append(f"{noise}; the model's noise σ={advice.model_noise:.4f}.")
    if advice.relevance:
        out.append("Keys by the model's relevance (short lengthscale ℓ: the reward changes fast "
                   "along it): " + ", ".join(f"{k.split('.')[-1]} ℓ={ls:.2f}"
                                             for k, ls in advice.relevance))
    for index, options in sorted(advice.suggestions.items()):
        for rank, sug in enumerate(options, start=1):
            parent = "root" if sug.parent is None else f"node {sug.parent}"
            if sug.replicate:
                what = f"replicate {parent}: {sug.rationale}"
            else:
                what = (f"from {parent}: {_changes_text(sug.changes, sug.parent, state)}; "
                        f"predicted R={sug.mean:.4f} ± {sug.sd:.4f}")
            out.append(f"Slot {index}, suggestion {rank}: {what}")
    return "\n".join(out)


def _changes_text(changes: dict, parent: Optional[int], state: TreeState) -> str:
    config = state.block_base if parent is None else state.nodes[parent].config
    return ", ".join(f"{k}: {config.get(k, 'default')} -> {v}" for k, v in changes.items())


def build_summary_prompt(state: TreeState, block_text: str, memory_text: str) -> str:
    """What the LLM is asked at a block's end: the block's runs and the memory, and a summary."""
    return "\n".join([
        f">>> BLOCK {state.block} END <<< Regime: {state.block_regime}. Reward: {state.block_key}.",
        "", "## This block's runs", block_text or "(none)",
        "", "## Working memory", memory_text,
        "", "## Answer",
        "Write the block summary in at most 6 sentences of plain text (no headings, no lists, "
        "no JSON): what the block established, with node ids as evidence; what failed; what the "
        "next block should try first. It is stored in analysis.md and shown in every later prompt.",
    ])


def _recent(state: TreeState, limit: int = 8) -> str:
    done = [(n, r) for n, r in state.all_runs() if r.status != "pending"][-limit:]
    if not done:
        return "(none yet)"
    lines = []
    for node, run in done:
        metrics = metric_line(run.metrics, run.reward_key or state.block_key)
        line = (f"Iter {run.iteration} node {node.id} [{classify(None, run)}]: "
                f"{node.mutation or node.strategy or 'base'} -> {metrics or 'no metrics'}")
        if run.error:
            line += f"; ERROR: {run.error.strip().splitlines()[-1][:300]}"
        lines.append(line)
    return "\n".join(lines)
