"""``hydra/sweeper=optuna`` (alias ``optuna_regime``): Optuna TPE on a regime's own search space.

The baseline the users compare ``ucb_llm`` against, and what a Hydra user types first. Our own
thin sweeper, not the PyPI ``hydra-optuna-sweeper``: that plugin's metadata pins optuna<3 (2021),
whose stored studies fail under SQLAlchemy 2, and its sweeper wants the task to return a float
while ``neuralgraph.train`` returns its metrics dict. This one reads the regime's ``search_space``,
``reward_key`` (out of the metrics dict) and ``direction`` (default maximize), runs with any
modern optuna (4.x, 5.x), and resumes a stored study (``hydra.sweeper.storage=sqlite:///x.db``)
when the same command runs again. The loop is :mod:`neuralgraph.explore.optuna_study`; the
config keeps the plugin's names (``n_trials``, ``n_jobs``, ``storage``, ``study_name``,
``sampler``, ``params``, ``direction``, ``max_failure_rate``).
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import MISSING, DictConfig, OmegaConf

try:  # a stale hydra-optuna-sweeper beside us: let it register first, so that ours win below
    import hydra_plugins.hydra_optuna_sweeper.config  # noqa: F401
except ImportError:
    pass


@dataclass
class TPESamplerConf:
    _target_: str = "optuna.samplers.TPESampler"
    seed: Optional[int] = None
    n_startup_trials: int = 10
    multivariate: bool = False


@dataclass
class RandomSamplerConf:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: Optional[int] = None


@dataclass
class GPSamplerConf:
    _target_: str = "optuna.samplers.GPSampler"
    seed: Optional[int] = None


@dataclass
class OptunaRegimeSweeperConf:
    _target_: str = "hydra_plugins.ucb_llm_sweeper.optuna_regime.OptunaRegimeSweeper"
    defaults: List[Any] = field(default_factory=lambda: [{"sampler": "tpe"}])
    sampler: Any = MISSING  # filled by the hydra/sweeper/sampler group (tpe | random | gp)
    direction: Optional[str] = None  # None: the composed config's `direction`, else maximize
    storage: Optional[str] = None  # e.g. sqlite:///study.db; None: in memory
    study_name: Optional[str] = None  # None with a storage: the regime's name (so reruns resume)
    n_trials: int = 20  # the study's total: a rerun of the same command runs only what is owed
    n_jobs: int = 2  # trials launched together
    max_failure_rate: float = 0.5  # stop when more than this fraction of the trials failed
    params: Optional[Dict[str, str]] = None  # None: the composed config's `search_space`
    reward_key: Optional[str] = None  # None: the composed config's `reward_key`


_cs = ConfigStore.instance()
for _name in ("optuna", "optuna_regime"):
    _cs.store(group="hydra/sweeper", name=_name, node=OptunaRegimeSweeperConf,
              provider="ucb_llm_sweeper")
for _name, _node in (("tpe", TPESamplerConf), ("random", RandomSamplerConf), ("gp", GPSamplerConf)):
    _cs.store(group="hydra/sweeper/sampler", name=_name, node=_node, provider="ucb_llm_sweeper")


class OptunaRegimeSweeper(Sweeper):
    """Asks the study for ``n_jobs`` trials at a time and launches them with the configured
    launcher; each job's reward is its metrics' ``reward_key``."""

    def __init__(self, sampler: Any = None, **kwargs: Any) -> None:
        # Hydra instantiates the sampler node before it gets here: it arrives as a sampler.
        self.sampler = sampler
        schema = OmegaConf.structured(OptunaRegimeSweeperConf)
        self.conf: DictConfig = OmegaConf.merge(schema, {k: v for k, v in kwargs.items()
                                                         if k not in ("_target_", "defaults")})
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.launcher: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        from pathlib import Path

        from neuralgraph.explore.lock import SweepLock
        from neuralgraph.explore.optuna_study import OptunaStudy

        assert self.config is not None and self.hydra_context is not None
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        def launch(batch: List[List[str]], initial_job_idx: int) -> Any:
            return self.launcher.launch(batch, initial_job_idx=initial_job_idx)

        def compose(overrides: List[str]) -> DictConfig:
            return self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))

        with SweepLock(sweep_dir, "optuna"):
            return OptunaStudy(self.conf, sweep_dir, arguments, launch, compose, self.sampler).run()
