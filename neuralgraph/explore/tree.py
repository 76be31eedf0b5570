"""The exploration tree and its JSON persistence.

A *node* is one training configuration (a set of overrides relative to the block's base); a
*run* is one job that evaluated it with one training seed. A replicate adds a run to an existing
node, so a node's reward is the mean over its runs and its spread is their standard deviation.
Node ids are the iteration number of their first run, as in the users' logs
(``Node: id=N`` for ``Iter N``). The whole state lives in one JSON file in the sweep directory,
written atomically after every round (NaN as null), so a killed sweep resumes from it.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from neuralgraph.io import write_json

STATE_FILE = "ucb_llm_tree.json"
STATE_VERSION = 1


@dataclass
class Run:
    """One job: a config evaluated with one seed."""

    iteration: int
    job_idx: int
    seed: Optional[int]
    overrides: list[str] = field(default_factory=list)
    status: str = "pending"  # pending | completed (a finite reward) | failed (raised, or no reward)
    reward: Optional[float] = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    working_dir: str = ""
    note: str = ""  # for a replicate: why it was run (its node keeps the first run's rationale)
    reward_key: str = ""  # the metric this run was scored by: its block's regime's reward key


@dataclass
class LLMCall:
    """Bookkeeping for one proposer reply (never the prompt itself, never a key)."""

    proposer: str
    iteration: int
    ok: bool
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    error: str = ""


@dataclass
class Node:
    id: int
    parent: Optional[int]
    block: int
    config: dict[str, str] = field(default_factory=dict)  # full mutable config, key -> text value
    mutation: str = ""
    changed: dict[str, str] = field(default_factory=dict)  # keys the mutation moved -> new value
    strategy: str = ""
    parent_rule: str = ""
    rationale: str = ""
    proposer: str = ""
    fallback: str = ""  # why the heuristic replaced the configured proposer, if it did
    runs: list[Run] = field(default_factory=list)

    def finished_runs(self) -> list[Run]:
        return [r for r in self.runs if r.status != "pending" and r.reward is not None]

    @property
    def succeeded(self) -> bool:
        """At least one run produced a finite reward (a node of failures only is never "best")."""
        return any(r.status == "completed" for r in self.runs)

    @property
    def reward(self) -> Optional[float]:
        """Mean reward over finished runs (None before the first one)."""
        rewards = [r.reward for r in self.finished_runs()]
        return statistics.fmean(rewards) if rewards else None

    @property
    def spread(self) -> float:
        """Sample standard deviation of the rewards (0 for a single run)."""
        rewards = [r.reward for r in self.finished_runs()]
        return statistics.stdev(rewards) if len(rewards) > 1 else 0.0

    def mean_metric(self, key: str) -> Optional[float]:
        vals = [r.metrics.get(key) for r in self.finished_runs()]
        vals = [float(v) for v in vals if isinstance(v, (int, float)) and math.isfinite(float(v))]
        return statistics.fmean(vals) if vals else None


@dataclass
class BlockSummary:
    block: int
    regime: str
    first_iter: int
    last_iter: int
    best_node: Optional[int]
    best_reward: Optional[float]
    best_spread: float
    best_config: dict[str, str] = field(default_factory=dict)
    note: str = ""
    reward_key: str = ""
    summary: str = ""  # the LLM's block-end summary (capped; escaped when rendered)
    summary_by: str = ""  # the proposer that wrote it


@dataclass
class Memory:
    """The working memory the LLM reads and may rewrite (rendered to ``memory.md``)."""

    principles: list[str] = field(default_factory=list)
    open_questions: list[str] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)
    hypothesis: str = ""


@dataclass
class TreeState:
    regime: str
    reward_key: str
    base_overrides: list[str] = field(default_factory=list)
    iteration: int = 0  # runs launched so far (finished or pending)
    job_idx: int = 0
    block: int = 1
    block_regime: str = ""
    block_reward_key: str = ""  # the current block's regime's reward key ("": reward_key)
    block_base: dict[str, str] = field(default_factory=dict)
    nodes: dict[int, Node] = field(default_factory=dict)
    blocks: list[BlockSummary] = field(default_factory=list)
    memory: Memory = field(default_factory=Memory)
    llm_calls: list[LLMCall] = field(default_factory=list)
    proposer_calls: int = 0
    failed_rounds: int = 0  # rounds in a row in which the proposer gave no usable reply
    fallback_slots: int = 0  # slots the fallback proposer filled
    logged_iterations: list[int] = field(default_factory=list)
    next_regime: str = ""  # the proposer's choice for the next block (landscape mode)
    last_visual: str = ""  # the proposer's latest visual assessment of the plots
    version: int = STATE_VERSION

    # ---- queries -------------------------------------------------------------------------
    @property
    def block_key(self) -> str:
        """The metric the current block is scored by (the first regime's in a file without it)."""
        return self.block_reward_key or self.reward_key

    def block_nodes(self, block: Optional[int] = None) -> list[Node]:
        b = self.block if block is None else block
        return [n for n in self.nodes.values() if n.block == b]

    def all_runs(self) -> list[tuple[Node, Run]]:
        pairs = [(n, r) for n in self.nodes.values() for r in n.runs]
        return sorted(pairs, key=lambda p: p[1].iteration)

    def pending_runs(self) -> list[tuple[Node, Run]]:
        return [(n, r) for n, r in self.all_runs() if r.status == "pending"]

    def best_node(self, block: Optional[int] = None) -> Optional[Node]:
        """The node to report: the highest mean reward less one standard error,
        ``R̄ - σ / √n`` (σ the pooled seed noise of the pool, n the node's runs), so a single
        lucky run does not outrank a config whose replicates agree. Without replicates σ = 0
        and this is the highest mean. Nodes of failed runs only are never best."""
        pool = self.block_nodes(block) if block is not None else list(self.nodes.values())
        scored = [n for n in pool if n.reward is not None and n.succeeded]
        if not scored:
            return None
        noise = seed_noise(pool)
        return max(scored, key=lambda n: (lower_bound(n, noise), n.reward, -n.id))

    def regime_of(self, node: Node) -> str:
        for b in self.blocks:
            if b.block == node.block:
                return b.regime
        return self.block_regime

    def chain(self, node_id: Optional[int]) -> list[Node]:
        """The node and its ancestors, nearest first."""
        out = []
        while node_id is not None and node_id in self.nodes:
            out.append(self.nodes[node_id])
            node_id = self.nodes[node_id].parent
        return out


def seed_noise(nodes: list[Node]) -> float:
    """Pooled seed-to-seed standard deviation of the reward over the replicated nodes (0 if
    none): ``σ² = mean of the nodes' sample variances``; failed runs are no measurement."""
    variances = [statistics.variance([r.reward for r in n.finished_runs()])
                 for n in nodes
                 if n.succeeded and len(n.finished_runs()) > 1
                 and all(r.status == "completed" for r in n.finished_runs())]
    return math.sqrt(statistics.fmean(variances)) if variances else 0.0


def lower_bound(node: Node, noise: float) -> float:
    """``R̄ - σ / √n``: the node's mean reward less one standard error of that mean."""
    runs = len(node.finished_runs())
    return (node.reward or 0.0) - noise / math.sqrt(max(runs, 1))


# ---- persistence ---------------------------------------------------------------------------
def save_state(state: TreeState, path: Path) -> None:
    """Write the tree atomically; a NaN or infinite metric becomes null (JSON has neither)."""
    write_json(path, asdict(state), indent=1)


# Files written before NaN became null hold the text "nan"; read it as the null it means now.
_OLD_NON_FINITE = ("nan", "inf", "-inf")


def _run(raw: dict[str, Any]) -> Run:
    metrics = {k: None if v in _OLD_NON_FINITE else v for k, v in raw.pop("metrics").items()}
    return Run(**raw, metrics=metrics)


def load_state(path: Path) -> TreeState:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    if raw.get("version") != STATE_VERSION:
        raise ValueError(
            f"{path}: tree state version {raw.get('version')} is not {STATE_VERSION}; "
            "start a new sweep directory"
        )
    nodes = {}
    for k, n in raw.pop("nodes").items():
        runs = [_run(r) for r in n.pop("runs")]
        nodes[int(k)] = Node(**n, runs=runs)
    blocks = [BlockSummary(**b) for b in raw.pop("blocks")]
    memory = Memory(**raw.pop("memory"))
    calls = [LLMCall(**c) for c in raw.pop("llm_calls")]
    return TreeState(**raw, nodes=nodes, blocks=blocks, memory=memory, llm_calls=calls)
