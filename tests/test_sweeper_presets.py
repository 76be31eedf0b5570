"""The launcher and sweeper presets compose against the real config tree."""

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from sweeper_helpers import ROOT

from neuralgraph.config import register_configs


@pytest.fixture
def cfg_for():
    register_configs()

    def make(*overrides):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            return compose("config", overrides=["+regime=tiny_metabolism", *overrides],
                           return_hydra_config=True)
    yield make
    GlobalHydra.instance().clear()


def test_slurm_gpu_preset(cfg_for):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    launcher = cfg_for("hydra/launcher=slurm_gpu").hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.gpus_per_node == 1


def test_local_parallel_preset(cfg_for):
    assert cfg_for("hydra/launcher=local_parallel").hydra.launcher.n_jobs == 4


def test_ucb_llm_proposer_group(cfg_for):
    cfg = cfg_for("hydra/sweeper=ucb_llm", "hydra/sweeper/proposer=openai",
                  "hydra.sweeper.proposer.base_url=http://localhost:8000/v1")
    assert cfg.hydra.sweeper.proposer.name == "openai"
    assert cfg.hydra.sweeper.params is None  # falls back to the regime's search_space
    assert "training.lr_k" in cfg.search_space and cfg.reward_key == "rate_constants_R2"


@pytest.mark.parametrize("name", ["optuna", "optuna_regime"])
def test_optuna_is_our_regime_aware_sweeper(cfg_for, name):
    """Not the PyPI hydra-optuna-sweeper (whose optuna<3 pin this package replaces): the direction
    comes from the regime, and the study lives in memory unless a storage is given."""
    sweeper = cfg_for(f"hydra/sweeper={name}").hydra.sweeper
    assert sweeper._target_ == "hydra_plugins.ucb_llm_sweeper.optuna_regime.OptunaRegimeSweeper"
    assert sweeper.direction is None and sweeper.storage is None
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler"
    assert cfg_for(f"hydra/sweeper={name}", "hydra/sweeper/sampler=random").hydra.sweeper.sampler.seed is None
