"""Thin Hydra glue for ``hydra/sweeper=ucb_llm``: config registration and the Sweeper subclass.

Hydra imports this module on every start-up to discover plugins, so it imports only dataclasses;
the loop (``neuralgraph.explore.loop``) is imported when a sweep actually starts.
"""


from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from neuralgraph.explore.config import (AnthropicConf, ClaudeCLIConf, HeuristicConf, ModelBasedConf,
                                        OpenAIConf, ScriptedConf, UCBLLMSweeperConf)

_cs = ConfigStore.instance()
_cs.store(group="hydra/sweeper", name="ucb_llm", node=UCBLLMSweeperConf, provider="ucb_llm_sweeper")
for _name, _node in (("model_based", ModelBasedConf), ("heuristic", HeuristicConf),
                     ("scripted", ScriptedConf),
                     ("anthropic", AnthropicConf), ("openai", OpenAIConf),
                     ("claude_cli", ClaudeCLIConf)):
    _cs.store(group="hydra/sweeper/proposer", name=_name, node=_node, provider="ucb_llm_sweeper")


class UCBLLMSweeper(Sweeper):
    """Each round: pick ``n_parallel`` parents by UCB, ask the proposer for one validated
    mutation per parent, run them with the configured launcher, record, render."""

    def __init__(self, **kwargs: Any) -> None:
        schema = OmegaConf.structured(UCBLLMSweeperConf)
        self.conf: DictConfig = OmegaConf.merge(schema, {k: v for k, v in kwargs.items()
                                                         if k not in ("_target_", "defaults")})
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.launcher: Any = None
        self.job_idx = 0

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        from neuralgraph.explore.liveness import TrackedTask

        self.config = config
        self.hydra_context = hydra_context
        # Each job keeps a liveness marker, so a resumed sweep waits for the jobs a kill left
        # running (joblib workers, submitit, SLURM) instead of launching them twice.
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=TrackedTask(task_function), config=config)

    def sweep(self, arguments: List[str]) -> Any:
        from pathlib import Path

        from neuralgraph.explore.loop import Explorer

        assert self.config is not None and self.hydra_context is not None
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        def launch(batch: List[List[str]], initial_job_idx: int) -> Any:
            # Each candidate was composed when it was accepted (RegimeCatalogue.check_composes).
            returns = self.launcher.launch(batch, initial_job_idx=initial_job_idx)
            self.job_idx = initial_job_idx + len(returns)
            return returns

        def compose(overrides: List[str]) -> DictConfig:
            return self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))

        explorer = Explorer(self.conf, sweep_dir, arguments, launch, compose)
        return explorer.run()
