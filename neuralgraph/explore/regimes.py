"""The regimes a sweep studies and what each one contributes, read from its composed config.

A regime brings its search space (``search_space``, unless ``hydra.sweeper.params`` replaces
it; sweep arguments on the command line join it), the metric to maximise (``reward_key``), the
values its config gives the mutable keys (the block root), the training seed, and the name of
its LLM instruction document. Each regime is composed once through Hydra and remembered.
In landscape mode (``hydra.sweeper.landscape.regimes``) every block studies one regime; otherwise
the command line's own config is the only regime.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from omegaconf import DictConfig, OmegaConf

from .errors import SweepError
from .space import SearchSpace, fmt, parse_space
from .tree import TreeState
from .validate import ProposalError

log = logging.getLogger(__name__)


@dataclass
class RegimeInfo:
    """What a regime contributes: its space, reward key and the defaults of its mutable keys."""

    name: str
    space: SearchSpace
    reward_key: str
    defaults: dict[str, str] = field(default_factory=dict)
    seed: Optional[int] = None
    instructions: str = ""  # the instruction document's file name in agents/ ("" if none named)


def instructions_file(cfg: DictConfig) -> str:
    """The instruction document a composed config names, as a file name in ``agents/``.

    A NeuralGraph config answers with :attr:`RunConfig.instructions_file` (its ``instructions``
    key, else ``<simulation.family>.md``); another Hydra app (the tests' toy app) may name the
    file in a top-level ``instructions`` key. "" when the config names none.
    """
    name = str(OmegaConf.select(cfg, "instructions", default="") or "")
    if OmegaConf.select(cfg, "simulation.family", default=None) is None:
        return name
    # Imported here: it loads the families' floor (torch), which a NeuralGraph sweep has loaded
    # already and another app never needs.
    from neuralgraph.config.base import RunConfig

    return RunConfig(instructions=name, simulation=cfg.simulation).instructions_file


def split_arguments(arguments: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Command-line task overrides: plain ones go to every job, sweep ones join the space."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    base, space = [], {}
    for arg in arguments:
        ov = parser.parse_override(arg)
        if ov.is_sweep_override():
            key = ov.get_key_element().lstrip("+")
            space[key] = arg.split("=", 1)[1]
        else:
            base.append(arg)
    return base, space


class RegimeCatalogue:
    """Composes each regime once and gives the overrides a job of a block runs with."""

    def __init__(self, conf: DictConfig, arguments: Sequence[str],
                 compose: Callable[[list[str]], DictConfig]) -> None:
        self.conf = conf
        self.compose = compose
        self.base_args, self.cli_space = split_arguments(arguments)
        self.landscape = list(conf.landscape.regimes or [])
        self._cache: dict[str, RegimeInfo] = {}

    # ---- what a regime contributes ---------------------------------------------------------
    def first(self) -> RegimeInfo:
        """The regime of block 1: the landscape's first, else the command line's config."""
        return self.info(self.landscape[0] if self.landscape else None)

    def check_all(self) -> None:
        """Compose every regime the sweep may study, so a contradiction stops it at the start
        rather than at a block boundary hours later."""
        for regime in self.landscape or [None]:
            self.info(regime)

    def of_block(self, state: TreeState) -> RegimeInfo:
        return self.info(self._block_arg(state))

    def info(self, regime: Optional[str]) -> RegimeInfo:
        key = regime or ""
        if key not in self._cache:
            cfg = self.compose(self._args_for(regime))
            name = str(OmegaConf.select(cfg, "regime", default=None) or regime or "default")
            space = self._space(cfg)
            reward_key = self._reward_key(cfg)
            seed = OmegaConf.select(cfg, self.conf.seed_key, default=None)
            source = ("hydra.sweeper.params" if self.conf.params is not None
                      else "its search_space")
            defaults = _defaults(name, cfg, space, set(self.cli_space), source)
            self._cache[key] = RegimeInfo(name, space, reward_key, defaults,
                                          None if seed is None else int(seed),
                                          instructions_file(cfg))
        return self._cache[key]

    def _space(self, cfg: DictConfig) -> SearchSpace:
        params = self.conf.params if self.conf.params is not None else OmegaConf.select(cfg, "search_space")
        params = OmegaConf.to_container(params, resolve=True) if OmegaConf.is_config(params) else params
        merged = dict(params or {})
        merged.update(self.cli_space)
        if not merged:
            raise SweepError(
                "ucb_llm: empty search space; give the regime a `search_space`, or set "
                "hydra.sweeper.params in a config file (sweep syntax cannot go on the command line)"
            )
        return parse_space(merged)

    def _reward_key(self, cfg: DictConfig) -> str:
        reward_key = self.conf.reward_key or OmegaConf.select(cfg, "reward_key")
        if not reward_key:
            raise SweepError("ucb_llm: no reward key; set `reward_key` in the regime or "
                             "hydra.sweeper.reward_key")
        return str(reward_key)

    # ---- jobs ------------------------------------------------------------------------------
    def job_overrides(self, state: TreeState, config: dict[str, str]) -> list[str]:
        """Command-line arguments, the space's fixed entries, then the node's config."""
        info = self.of_block(state)
        fixed = [f"{k}={v}" for k, v in sorted(info.space.fixed.items()) if k not in config]
        return (self._args_for(self._block_arg(state)) + fixed
                + [f"{k}={v}" for k, v in sorted(config.items())])

    def check_composes(self, state: TreeState, config: dict[str, str]) -> None:
        """Compose the job's config (what Hydra's validate_batch_is_legal does), one candidate at
        a time, so a value of the wrong type rejects that proposal instead of the round."""
        try:
            self.compose(self.job_overrides(state, config))
        except Exception as exc:  # Hydra and OmegaConf raise several error types
            raise ProposalError(
                f"the config does not compose ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                "integer keys need tag(int, interval(...)) or choice(...) in the search space"
            ) from None

    # ---- the landscape ---------------------------------------------------------------------
    def next_regime(self, state: TreeState) -> str:
        """The next block's regime: the proposer's choice, else one not studied yet, else the
        one whose best reward is lowest."""
        if not self.landscape:
            return state.block_regime
        if state.next_regime in self.landscape:
            return state.next_regime
        studied = [b.regime for b in state.blocks]
        for r in self.landscape:
            if r not in studied:
                return r
        best = {r: max((b.best_reward or -math.inf) for b in state.blocks if b.regime == r)
                for r in self.landscape}
        return min(best, key=best.get)

    def _block_arg(self, state: TreeState) -> Optional[str]:
        return state.block_regime if self.landscape else None

    def _args_for(self, regime: Optional[str]) -> list[str]:
        if not regime:
            return list(self.base_args)
        out = [a for a in self.base_args if a.lstrip("+~").split("=", 1)[0] != "regime"]
        return out + [f"+regime={regime}"]


def _defaults(name: str, cfg: DictConfig, space: SearchSpace, cli_keys: set[str],
              source: str) -> dict[str, str]:
    """The composed config's value of each mutable key: the block root.

    A default outside the space the regime itself declares is a contradiction in the regime
    (its own config could never be a node of its sweep): :class:`SweepError` names it. A range
    typed on the command line is the user narrowing the search on purpose: the root moves to the
    legal value nearest the default, and the log says so.
    """
    defaults, outside = {}, []
    for k, dim in space.dims.items():
        v: Any = OmegaConf.select(cfg, k, default=None)
        if v is None:
            raise SweepError(f"ucb_llm: search-space key '{k}' is not in the composed config of "
                             f"regime '{name}'")
        if not dim.contains(v):
            near = dim.nearest(v) if k in cli_keys else None
            if near is None:
                outside.append(f"{k}={fmt(v)} ({dim.describe()})")
                continue
            log.warning("ucb_llm: %s=%s is outside the range given on the command line (%s); "
                        "the block root uses %s", k, fmt(v), dim.describe(), fmt(near))
            v = near
        defaults[k] = dim.canonical(v)
    if outside:
        raise SweepError(
            f"ucb_llm: regime '{name}': default {'; '.join(outside)} lies outside {source}; widen "
            "the range to include the default (or change the default): the block root is the "
            "regime's own config"
        )
    return defaults
