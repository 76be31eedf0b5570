"""Typed configs of the ``ucb_llm`` sweeper and its proposers (registered by the plugin).

Kept free of heavy imports: Hydra imports the plugin module on every start-up.
Proposer configs carry a ``name`` instead of a ``_target_`` so that Hydra's recursive
instantiation leaves them alone and the sweeper builds the proposer itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING


@dataclass
class HeuristicConf:
    """The seeds' strategy table, offline."""

    name: str = "heuristic"
    success_threshold: float = 0.9  # "converged" above this
    failure_threshold: float = 0.1  # "failed" below this
    degeneracy_key: str = "test_pearson"
    degeneracy_gap: float = 0.3  # degeneracy_key - reward above this means good dynamics, wrong parameters
    # key -> "up" | "down": the regime's degeneracy-break move (e.g. lr_k up, lr_sub down)
    degeneracy_break: Dict[str, str] = field(default_factory=dict)
    replicates: int = 2  # the principle slot replicates the best node until it has this many runs
    step: float = 0.15  # exploit step, as a fraction of a dimension's (log-)width


@dataclass
class ModelBasedConf:
    """Each slot takes the model's best-ranked mutation (``hydra.sweeper.model`` sets the model)."""

    name: str = "model_based"
    # Runs of the initial design (the block root and a Latin hypercube over every key) before the
    # model proposes: a handful of spread points is what a model needs first, and what random
    # search would have tried by then.
    design_runs: int = 8

    def __post_init__(self) -> None:
        if self.design_runs < 1:
            from .errors import SweepError

            raise SweepError(f"hydra.sweeper.proposer.design_runs={self.design_runs}: the initial design "
                             "needs at least 1 run (the block root)")


@dataclass
class ModelConf:
    """The Gaussian-process model of the reward that ranks mutations for every proposer: the
    ``model_based`` proposer follows it, an LLM is shown its suggestions (:mod:`.advice`)."""

    xi: float = 0.01  # expected-improvement margin (standardised reward units)
    kappa: float = 2.0  # explore slots rank by mean + kappa * sd
    replicates: int = 2  # a principle slot replicates the best node up to this many runs, if it pays
    # No replicate before the regime has this many finished runs: until then a new config teaches
    # the model more than a second seed of a leader picked from a handful of points.
    replicate_after: int = 8
    shown: int = 3  # suggestions per slot kept (and shown to an LLM)
    pairs: int = 400  # two-key mutations scored per slot (a random sample when there are more)


@dataclass
class ScriptedConf:
    """Canned replies, one per call, from a YAML/JSON list of strings or objects."""

    name: str = "scripted"
    path: str = "???"
    retries: int = 1


@dataclass
class APIConf:
    """Fields shared by the HTTP API proposers."""

    name: str = "???"
    model: str = "???"
    api_key_env: str = "???"  # the environment variable holding the key (never the key itself)
    base_url: Optional[str] = None  # None: the SDK default
    max_tokens: int = 4096
    temperature: Optional[float] = None
    timeout_s: float = 300.0
    max_retries: int = 2  # the SDK's own retries with backoff (429, 5xx, timeouts)
    retries: int = 1  # re-asks after a malformed or invalid reply, with the errors shown
    images: bool = True
    max_images: int = 4


@dataclass
class AnthropicConf(APIConf):
    name: str = "anthropic"
    model: str = "claude-sonnet-4-5"
    api_key_env: str = "ANTHROPIC_API_KEY"


@dataclass
class OpenAIConf(APIConf):
    """Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, ...)."""

    name: str = "openai"
    model: str = "gpt-4o"
    api_key_env: str = "OPENAI_API_KEY"


@dataclass
class ClaudeCLIConf:
    """Headless Claude Code (``claude -p``), as the users run their loop today."""

    name: str = "claude_cli"
    command: List[str] = field(default_factory=lambda: ["claude", "-p", "--output-format", "json"])
    allowed_tools: List[str] = field(default_factory=lambda: ["Read"])
    timeout_s: float = 1800.0
    retries: int = 1
    images: bool = True  # plot paths are listed in the prompt; Claude Code opens them with Read


@dataclass
class LandscapeConf:
    """Regime-landscape mode: each block studies one regime, chosen at block boundaries."""

    regimes: List[str] = field(default_factory=list)  # names under conf/regime/; empty: fixed regime


@dataclass
class UCBLLMSweeperConf:
    _target_: str = "hydra_plugins.ucb_llm_sweeper.ucb_llm_sweeper.UCBLLMSweeper"
    defaults: List[Any] = field(default_factory=lambda: [{"proposer": "model_based"}])
    # Filled by the hydra/sweeper/proposer group; MISSING (not None) so that this node, merged
    # after its defaults, does not overwrite the chosen proposer's config.
    proposer: Any = MISSING
    # None: the composed config's `search_space` and `reward_key`
    params: Optional[Dict[str, str]] = None
    reward_key: Optional[str] = None
    direction: str = "maximize"
    n_iterations: int = 48
    n_parallel: int = 4
    n_iter_block: int = 12
    ucb_c: float = 1.414
    ucb_formula: str = "puct"  # puct | ucb1
    slot_roles: List[str] = field(
        default_factory=lambda: ["exploit", "exploit", "explore", "principle"]
    )
    seed_key: str = "training.seed"
    # Reward of a failed job (it raised, or its reward is missing or not finite). None: below
    # every finished job's reward, recomputed as results arrive (see recording.failure_floor).
    failure_reward: Optional[float] = None
    max_failure_rate: float = 0.5  # stop when more than this fraction of the jobs so far failed
    max_changed_keys: int = 2  # keys one mutation may change (the prompt says the same)
    max_failed_rounds: int = 3  # stop when the proposer gave no usable reply this many rounds in a row
    resume_stale_s: float = 300.0  # a job's heartbeat older than this: the job is gone (resume)
    seed: int = 0  # the random streams of the heuristic and the model's candidate sampling
    instructions: Optional[str] = None  # path; None: the document the regime names in agents/
    model: ModelConf = field(default_factory=ModelConf)
    landscape: LandscapeConf = field(default_factory=LandscapeConf)


#: (key, lowest legal value, highest or None) of the sweeper's numeric settings.
_RANGES = (("n_iterations", 1, None), ("n_parallel", 1, None), ("n_iter_block", 1, None),
           ("ucb_c", 0, None), ("max_failure_rate", 0, 1), ("max_changed_keys", 1, None),
           ("max_failed_rounds", 0, None), ("resume_stale_s", 0, None), ("model.xi", 0, None),
           ("model.kappa", 0, None), ("model.replicates", 1, None), ("model.replicate_after", 0, None),
           ("model.shown", 1, None), ("model.pairs", 1, None))


def check_settings(conf: Any) -> None:  # conf: the sweeper's DictConfig
    """Refuse a numeric sweeper setting out of its range, naming the key, its value and the range."""
    from omegaconf import OmegaConf

    from .errors import SweepError

    for key, low, high in _RANGES:
        value = OmegaConf.select(conf, key)
        if value is None:
            continue
        if value < low or (high is not None and value > high):
            legal = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise SweepError(f"ucb_llm: hydra.sweeper.{key}={value} must be {legal}")
