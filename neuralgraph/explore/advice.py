"""The model's advice for one round: ranked mutations of each slot's parent, and replicates.

A Gaussian process (:mod:`.surrogate`) is fitted on every finished run of the block's regime,
in every block so far (replicates are repeated observations; a failed run counts as the worst
finished reward). For each slot, the candidates are the mutations the validator allows of the
slot's parent: every value of a grid on each dimension (the unit positions 0, 1/8, ..., 1, and
±0.1, ±0.25 around the parent's; every choice of a choice), alone or in pairs up to
``max_keys`` keys, configs already evaluated or queued left out. They are ranked by

- expected improvement over the best posterior mean (``exploit`` and ``principle`` slots);
- ``μ + κ sd`` (``explore`` slots), which values what the model does not know yet.

A slot's choice is then "believed" at its predicted mean, so the next slot of the round looks
elsewhere. A ``principle`` slot replicates the block's best node instead when that pays: the node
has fewer than ``replicates`` runs and its lead over the runner-up is not yet beyond twice the
seed noise measured so far (or no noise has been measured yet), and the regime has at least
``replicate_after`` finished runs (in the first rounds a new point is worth more to the model).

The ``model_based`` proposer takes each slot's first suggestion; an LLM proposer is shown the
first few of each, with the statistics, and chooses among them, edits them or ignores them.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

import numpy as np

from .config import ModelConf
from .evidence import position
from .space import Dimension, SearchSpace
from .surrogate import GaussianProcess, encode, fold_tail
from .tree import Node, TreeState, seed_noise

_GRID = tuple(i / 8 for i in range(9))
_STEPS = (-0.25, -0.1, 0.1, 0.25)


class Slot(Protocol):
    """What the advice reads of a slot (:class:`~.proposers.base.Slot` has it)."""

    index: int
    parent: Optional[int]  # None: the block root
    role: str


@dataclass
class Suggestion:
    """One mutation (or replicate) the model proposes for a slot, with its prediction."""

    slot: int
    parent: Optional[int]
    changes: dict[str, Any] = field(default_factory=dict)
    replicate: bool = False
    mean: float = math.nan  # predicted reward of the mutated config
    sd: float = math.nan  # the model's uncertainty about it
    score: float = math.nan  # the acquisition the slot ranks by (standardised units)
    rationale: str = ""


@dataclass
class Advice:
    """Suggestions per slot (best first) and what the model and the replicates say so far."""

    suggestions: dict[int, list[Suggestion]] = field(default_factory=dict)
    n_runs: int = 0
    model_noise: float = math.nan
    seed_noise: float = 0.0
    replicated_nodes: int = 0
    best: Optional[Node] = None
    relevance: list[tuple[str, float]] = field(default_factory=list)  # key, lengthscale


def observations(state: TreeState) -> tuple[list[dict[str, str]], list[float]]:
    """Every finished run of the block's regime: its config and reward (a failed run at the
    worst finished reward, since its placeholder is no measurement)."""
    nodes = [n for n in state.nodes.values() if state.regime_of(n) == state.block_regime]
    done = [r.reward for n in nodes for r in n.runs if r.status == "completed" and r.reward is not None]
    if not done:
        return [], []
    worst = min(done)
    configs, rewards = [], []
    for n in nodes:
        for r in n.runs:
            if r.status == "completed" and r.reward is not None:
                configs.append(n.config)
                rewards.append(r.reward)
            elif r.status == "failed":
                configs.append(n.config)
                rewards.append(worst)
    return configs, rewards


class Advisor:
    """Fits the model once per round (on first use) and ranks each slot's mutations."""

    def __init__(self, state: TreeState, space: SearchSpace, conf: ModelConf,
                 root_config: dict[str, str], seed: int, max_keys: int) -> None:
        self.state, self.space, self.conf = state, space, conf
        self.root_config = root_config
        self.seed, self.max_keys = seed, max_keys
        self._model: Optional[GaussianProcess] = None
        self._fitted = False

    def model(self) -> Optional[GaussianProcess]:
        """The fitted model, or None before the regime's first finished run."""
        if not self._fitted:
            configs, rewards = observations(self.state)
            if configs and self.space.dims:
                self._model = GaussianProcess(encode(configs, self.space), fold_tail(rewards),
                                              seed=self.seed)
            self._fitted = True
        return self._model

    def advise(self, slots: list[Slot], taken: list[dict[str, str]]) -> Advice:
        advice = self._statistics()
        model = self.model()
        if model is None:
            return advice
        taken = [dict(t) for t in taken]
        rep_done = False
        for slot in slots:
            rng = random.Random(self.seed * 1_000_003 + self.state.iteration * 101 + slot.index)
            ranked: list[Suggestion] = []
            if slot.role == "principle" and not rep_done:
                rep = self._replicate(advice, slot)
                if rep is not None:
                    ranked.append(rep)
                    rep_done = True
            ranked += self._ranked(model, slot, taken, rng, advice.best)
            advice.suggestions[slot.index] = ranked[: max(int(self.conf.shown), 1)]
            top = ranked[0] if ranked else None
            if top is not None and not top.replicate:
                config = self._config(top.parent, top.changes)
                taken.append(config)
                model = model.believe(encode([config], self.space))
        return advice

    # ---- statistics ------------------------------------------------------------------------
    def _statistics(self) -> Advice:
        configs, _ = observations(self.state)
        # The noise is the regime's, measured on replicates in any of its blocks.
        regime = [n for n in self.state.nodes.values()
                  if self.state.regime_of(n) == self.state.block_regime]
        advice = Advice(n_runs=len(configs), seed_noise=seed_noise(regime),
                        replicated_nodes=sum(len(n.finished_runs()) > 1 for n in regime),
                        best=self.state.best_node(self.state.block))
        model = self.model()
        if model is not None:
            advice.model_noise = model.noise_sd
            advice.relevance = sorted(zip(self.space.dims, map(float, model.lengthscales)),
                                      key=lambda kv: kv[1])
        return advice

    def _replicate(self, advice: Advice, slot: Slot) -> Optional[Suggestion]:
        best = advice.best
        if best is None or len(best.finished_runs()) >= int(self.conf.replicates):
            return None
        if advice.n_runs < int(self.conf.replicate_after):
            return None
        others = [n for n in self.state.block_nodes()
                  if n.id != best.id and n.reward is not None and n.succeeded]
        lead = best.reward - max((n.reward for n in others), default=-math.inf)
        if advice.replicated_nodes and lead > 2 * advice.seed_noise:
            return None  # its lead is beyond the noise: another run would not change the choice
        why = ("no seed noise measured yet" if not advice.replicated_nodes else
               f"its lead of {lead:.3f} is within twice the seed noise ({advice.seed_noise:.3f})")
        return Suggestion(slot.index, best.id, replicate=True, rationale=(
            f"replicate the block's best node {best.id} (R={best.reward:.3f}, "
            f"{len(best.finished_runs())} run(s)): {why}"))

    # ---- candidates ------------------------------------------------------------------------
    def _config(self, parent: Optional[int], changes: dict[str, Any]) -> dict[str, str]:
        config = dict(self.root_config if parent is None else self.state.nodes[parent].config)
        config.update({k: self.space.dims[k].canonical(v) for k, v in changes.items()})
        return config

    def _parents(self, slot: Slot, best: Optional[Node]) -> list[Optional[int]]:
        """The slot's UCB pick, and for a slot that exploits also the block's best node."""
        parents = [slot.parent]
        if slot.role != "explore" and best is not None and best.id != slot.parent:
            parents.append(best.id)
        return parents

    def _ranked(self, model: GaussianProcess, slot: Slot, taken: list[dict[str, str]],
                rng: random.Random, best: Optional[Node]) -> list[Suggestion]:
        configs, kept = [], []
        for parent in self._parents(slot, best):
            for changes in self._mutations(parent, rng):
                config = self._config(parent, changes)
                if config not in taken and config not in configs:
                    configs.append(config)
                    kept.append((parent, changes))
        if not kept:
            return []
        x = encode(configs, self.space)
        explore = slot.role == "explore"
        score = model.ucb(x, float(self.conf.kappa)) if explore else model.ei(x, float(self.conf.xi))
        post = model.predict(x)
        order = np.lexsort((-post.mean, -score))[: max(int(self.conf.shown), 1)]
        how = f"μ+{self.conf.kappa:g}sd" if explore else "EI"
        return [Suggestion(slot.index, kept[i][0], kept[i][1], mean=float(post.mean[i]),
                           sd=float(post.sd[i]), score=float(score[i]),
                           rationale=f"model: predicted R={post.mean[i]:.3f} ± {post.sd[i]:.3f} "
                           f"({how} {score[i]:.3g}, fitted on {len(model.x)} runs)")
                for i in order]

    def _mutations(self, parent: Optional[int], rng: random.Random) -> list[dict[str, Any]]:
        """Single-key moves on every dimension, and pairs of them up to ``max_keys`` keys (a
        random sample of ``pairs`` when there are more)."""
        config = self.root_config if parent is None else self.state.nodes[parent].config
        singles = [(d.key, v) for d in self.space.dims.values() for v in _values(d, config.get(d.key))]
        moves: list[dict[str, Any]] = [{k: v} for k, v in singles]
        if self.max_keys >= 2:
            pairs = [(a, b) for a, b in itertools.combinations(singles, 2) if a[0] != b[0]]
            if len(pairs) > int(self.conf.pairs):
                pairs = rng.sample(pairs, int(self.conf.pairs))
            moves += [dict(p) for p in pairs]
        return moves


def _values(dim: Dimension, current: Optional[str]) -> list[Any]:
    """The grid of values tried on one dimension, the current value left out."""
    if dim.kind != "interval":
        values = list(dim.choices)
    else:
        u = position(dim, current) if current is not None else 0.5
        units = sorted(set(_GRID) | {min(max(u + s, 0.0), 1.0) for s in _STEPS})
        values = list(dict.fromkeys(dim.from_unit(x) for x in units))
    now = None if current is None else str(current)
    return [v for v in values if dim.canonical(v) != now]
