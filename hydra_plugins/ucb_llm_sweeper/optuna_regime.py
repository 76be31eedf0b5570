"""``hydra/sweeper=optuna_regime``: Hydra's Optuna sweeper on a regime's own search space.

The baseline the users compare ``ucb_llm`` against. It differs from ``hydra/sweeper=optuna`` in
three defaults only: ``params`` is the composed config's ``search_space``, the objective is the
composed ``reward_key`` read out of the task's metrics dict (Optuna wants one float), and the
direction is ``maximize``. Storage stays in memory: the PyPI plugin pins optuna<3, whose RDB
storage fails under SQLAlchemy 2, so these studies cannot be stored or resumed.
"""


import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

try:
    from hydra_plugins.hydra_optuna_sweeper.config import OptunaSweeperConf
    from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
except ImportError:  # the optuna plugin is optional: no preset without it
    OptunaSweeper = None

if OptunaSweeper is not None:

    @dataclass
    class OptunaRegimeSweeperConf(OptunaSweeperConf):
        _target_: str = "hydra_plugins.ucb_llm_sweeper.optuna_regime.OptunaRegimeSweeper"
        direction: Any = "maximize"
        n_jobs: int = 4
        reward_key: Optional[str] = None  # None: the composed config's `reward_key`

    ConfigStore.instance().store(group="hydra/sweeper", name="optuna_regime",
                                 node=OptunaRegimeSweeperConf, provider="ucb_llm_sweeper")

    class _RewardLauncher:
        """Wraps the real launcher: a completed job's metrics dict becomes its reward float."""

        def __init__(self, launcher: Any, reward_key: str) -> None:
            self.launcher = launcher
            self.reward_key = reward_key

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
            returns = self.launcher.launch(job_overrides, initial_job_idx=initial_job_idx)
            for ret in returns:
                if ret.status == JobStatus.COMPLETED and isinstance(ret.return_value, dict):
                    value = ret.return_value.get(self.reward_key)
                    try:
                        value = float(value)
                    except (TypeError, ValueError):
                        value = math.nan
                    if not math.isfinite(value):
                        ret.status = JobStatus.FAILED
                        ret.return_value = ValueError(
                            f"{self.reward_key} is missing or not finite in the job's metrics")
                    else:
                        ret.return_value = value
            return returns

    class OptunaRegimeSweeper(OptunaSweeper):
        def __init__(self, reward_key: Optional[str] = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.reward_key = reward_key

        def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
                  config: DictConfig) -> None:
            super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
            impl = self.sweeper
            if not impl.params and impl.search_space is None:
                space = OmegaConf.select(config, "search_space")
                if not space:
                    raise ValueError("optuna_regime: the composed config has no `search_space`; "
                                     "pick a regime (+regime=...) or set hydra.sweeper.params")
                impl.params = space
            key = self.reward_key or OmegaConf.select(config, "reward_key")
            if not key:
                raise ValueError("optuna_regime: no `reward_key` in the composed config; set "
                                 "hydra.sweeper.reward_key")
            impl.launcher = _RewardLauncher(impl.launcher, str(key))
