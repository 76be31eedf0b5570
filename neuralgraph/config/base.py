"""The top-level run config, the training keys every family shares, and the range checks.

Each family's schema dataclasses live in its own folder (``neuralgraph/families/<name>/config.py``)
and check their own ranges in ``__post_init__`` with the helpers below, so a setting is written
once: its field, its type, its default, its comment and its check sit together. The checks run
when a composed config becomes typed objects (``OmegaConf.to_object``, at the start of a run).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Dict

from omegaconf import MISSING

from neuralgraph.errors import ConfigError


def _where(obj: Any) -> str:
    return getattr(obj, "_section", type(obj).__name__)


def check_positive(obj: Any, *keys: str) -> None:
    """Refuse ``obj.key <= 0``, naming ``<section>.<key>``."""
    for key in keys:
        value = getattr(obj, key)
        if not value > 0:
            raise ConfigError(f"{_where(obj)}.{key}={value} must be positive")


def check_nonnegative(obj: Any, *keys: str) -> None:
    """Refuse ``obj.key < 0``, naming ``<section>.<key>``."""
    for key in keys:
        value = getattr(obj, key)
        if value < 0:
            raise ConfigError(f"{_where(obj)}.{key}={value} must be >= 0")


def check_range(obj: Any, key: str, low: float, high: float, low_open: bool = False) -> None:
    """Refuse a value outside [low, high] (or (low, high] with ``low_open``)."""
    value = getattr(obj, key)
    if not ((low < value) if low_open else (low <= value)) or not value <= high:
        bracket = "(" if low_open else "["
        raise ConfigError(f"{_where(obj)}.{key}={value} must be in {bracket}{low}, {high}]")


def learning_rates_and_coefficients(obj: Any) -> list[str]:
    """Fields of ``obj`` named ``lr*`` or ``coeff_*`` (all must be >= 0)."""
    return [f.name for f in dataclasses.fields(obj) if f.name.startswith(("lr", "coeff_"))
            and isinstance(getattr(obj, f.name), (int, float))]


class Device(str, Enum):
    """Where tensors live: ``auto`` picks CUDA when present, else the CPU; ``cuda`` may carry a GPU
    index (``cuda:1``)."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def check_device(obj: Any, key: str = "device") -> None:
    """Refuse a device other than ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    value = str(getattr(obj, key))
    kind, colon, index = value.partition(":")
    if kind not in {d.value for d in Device} or (colon and (kind != Device.cuda or not index.isdigit())):
        raise ConfigError(f"{key}={value} must be auto, cpu, cuda or cuda:N (a GPU index)")


#: Keys named ``lr*`` that are not the rate of a parameter group.
NOT_RATES = ("lr_schedule", "lr_final_factor")


def rate_keys(training: Any) -> list[str]:
    """The learning-rate keys of a training block (``lr``, ``lr_W``, ``lr_k``, …)."""
    return [f.name for f in dataclasses.fields(training) if f.name.startswith("lr") and f.name not in NOT_RATES]


def used_rates(training: Any, model: Any) -> list[str]:
    """The learning-rate keys this run's Adam groups take their rate from: each group's own key
    (``training.group_rates(model)``), or where that is 0, the key it falls back to
    (``training.RATE_FALLBACK``, followed while the rate found is 0, as ``adam_group`` does)."""
    used: list[str] = []
    for key in training.group_rates(model):
        used.append(key)
        while getattr(training, key) <= 0 and key in training.RATE_FALLBACK:
            key = training.RATE_FALLBACK[key]
            used.append(key)
    return list(dict.fromkeys(used))


def check_rates_reach_a_group(training: Any, model: Any) -> None:
    """Refuse a learning rate set (away from its default) that no parameter group of this run
    uses, naming the ones that are used: ``training.lr=1`` with every group at its own rate."""
    if not training.group_rates(model):
        return  # the family does not declare its groups
    used = used_rates(training, model)
    defaults = {f.name: f.default for f in dataclasses.fields(training)}
    for key in rate_keys(training):
        if key not in used and getattr(training, key) != defaults[key]:
            raise ConfigError(f"training.{key}={getattr(training, key)} reaches no parameter group of this run; "
                              f"the learning rates used are {', '.join('training.' + k for k in used)}")


class LRSchedule(str, Enum):
    """How every learning rate evolves over the run."""

    constant = "constant"
    cosine = "cosine"  # half-cosine from lr to lr·lr_final_factor: Adam's noise floor drops at the end


@dataclass
class TrainingBase:
    """Keys every family's trainer understands (names as the users' seeds use them)."""

    _section = "training"

    seed: int = 42  # training seed: model init and frame sampling (the data has its own seed)
    n_epochs: int = 1  # passes of n_iter steps each
    batch_size: int = 8  # frames per gradient step
    # Frames per forward/backward pass inside one step (0 = the whole batch): the same gradient in
    # cache-sized pieces, faster on a CPU for large batches of many nodes; a speed setting only.
    micro_batch: int = 0
    # Steps per epoch = n_frames * data_augmentation_loop / batch_size * 0.2 (the users' convention;
    # no augmentation happens, it is only a step multiplier).
    data_augmentation_loop: int = 1000
    lr: float = 1e-3  # fallback learning rate for parameters without a group of their own
    lr_embedding: float = 1e-4  # learning rate of the per-node embeddings a_i
    lr_schedule: LRSchedule = LRSchedule.constant  # constant | cosine (decay to lr_final_factor·lr)
    lr_final_factor: float = 0.01  # cosine: final learning rate as a fraction of the initial one
    n_checkpoints: int = 10  # evaluations, plots and checkpoints per run (never in the hot loop)
    divergence_threshold: float = 1e8  # loss above this (or NaN/inf) stops the run as diverged

    #: ``{rate key: the key its group falls back to when the rate is 0}``, as ``param_groups`` does.
    RATE_FALLBACK: ClassVar[Dict[str, str]] = {}

    def group_rates(self, model: Any) -> list[str]:
        """The rate key of each Adam group that ``Family.param_groups`` builds for ``model`` (the
        model block); empty: not declared, no key is checked (see ``check_rates_reach_a_group``)."""
        return []

    def __post_init__(self) -> None:
        check_positive(self, "batch_size", "n_epochs", "data_augmentation_loop")
        check_nonnegative(self, "micro_batch")
        check_range(self, "lr_final_factor", 0.0, 1.0, low_open=True)
        check_nonnegative(self, *learning_rates_and_coefficients(self))


@dataclass
class RunConfig:
    """Root of every composed config; ``simulation``, ``model``, ``training`` and ``evaluation`` come
    from a regime."""

    regime: str = MISSING  # name of the regime this config was built from (set by conf/regime/*.yaml)
    simulation: Any = MISSING  # a family's simulation schema (ground truth; frozen during sweeps)
    model: Any = MISSING  # a family's model schema
    training: Any = MISSING  # a family's training schema
    # A family's evaluation schema: the settings that define its metrics (rollout lengths, cluster
    # thresholds, windows). Frozen during sweeps; None for a family that has none.
    evaluation: Any = None
    # Where the data come from: the block of one data source (neuralgraph/sources/), chosen with
    # data=NAME: simulated (the simulator, the default) or recording (a file).
    data: Any = MISSING
    # The LLM's instruction document in agents/ for this regime ("" = <simulation.family>.md).
    instructions: str = ""
    # auto | cpu | cuda | cuda:N. auto: CUDA when torch sees it (the jobs of a sweep take the
    # visible GPUs in turn), else the CPU.
    device: str = Device.auto.value
    # Simulated datasets are cached here by a hash of their simulation config.
    cache_dir: str = "${oc.env:NEURALGRAPH_CACHE,${oc.env:HOME,.}/.cache/neuralgraph}"
    plots: bool = True  # draw plots/ at the end of a run (and at checkpoints)
    progress: bool = True  # show a progress bar with the live loss and recovery metric
    reward_key: str = MISSING  # the metric a sweeper maximises for this regime
    # Keys a sweeper may change, in Hydra's override grammar (interval, tag(log, ...), choice).
    search_space: Dict[str, str] = field(default_factory=dict)
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    # Where the run starts (see neuralgraph/checkpoint.py): auto (continue this run directory's
    # unfinished run of the same config, else start) | true (continue it; it must exist) | false
    # (start at step 0) | a path to a model.pt or run directory to continue from.
    resume: str = "auto"
    checkpoint_every_min: float = 5.0  # minutes between two checkpoints besides the n_checkpoints ones (0: none)
    log_every: int = 0  # steps between two lines of the job log when progress=false; 0: a tenth of the run
    tensorboard: bool = False  # also log the learning curves to <run dir>/tensorboard (needs tensorboard)

    def __post_init__(self) -> None:
        check_nonnegative(self, "num_threads", "log_every", "checkpoint_every_min")
        check_device(self)
        if isinstance(self.training, TrainingBase) and dataclasses.is_dataclass(self.model):
            check_rates_reach_a_group(self.training, self.model)

    @property
    def instructions_file(self) -> str:
        """The instruction document's file name in agents/."""
        family = getattr(self.simulation, "family", None) or self.simulation["family"]
        return self.instructions or f"{family}.md"
