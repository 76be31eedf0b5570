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


def test_optuna_regime_preset(cfg_for):
    sweeper = cfg_for("hydra/sweeper=optuna_regime").hydra.sweeper
    assert sweeper.direction == "maximize" and sweeper.storage is None
