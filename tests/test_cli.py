"""What only a subprocess shows: the command line end to end on the tiny regime (exit code, Hydra's
own files, plots), one clear line and the right exit code on bad input, plugins found from
anywhere. The same checks that need no subprocess run in-process here and in test_pipeline.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from neuralgraph import rundir
from neuralgraph.datacache import dataset_dir
from neuralgraph.errors import ConfigError
from neuralgraph.launch import REPO, compose_regime
from neuralgraph.metrics import r2_score
from neuralgraph.train import run, typed

TINY = ("+regime=tiny_metabolism", "progress=false", "training.data_augmentation_loop=100")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, cache_dir):
    from conftest import run_cli

    out = tmp_path_factory.mktemp("run")
    proc = run_cli(*TINY, f"hydra.run.dir={out}", cache=cache_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_run_directory_contract(tiny_run):
    for name in ("analysis.log", "metrics.json", "results.npz", "model.pt", ".hydra/config.yaml",
                 ".hydra/overrides.yaml"):
        assert (tiny_run / name).exists(), name
    for name in ("loss.png", "rate_constants.png", "mlp_sub.png", "homeostasis.png", "rollout.png", "activity.png"):
        assert (tiny_run / "plots" / name).stat().st_size > 1000, name
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["status"] in {"converged", "partial", "failed"}
    for key in ("rate_constants_R2", "rate_constants_R2_shifted", "trimmed_R2", "n_outliers", "slope", "alpha",
                "test_R2", "test_pearson", "activity_rank", "final_loss", "training_time_min",
                "homeostasis_slope_t0", "homeostasis_slope_true_t0"):
        assert key in metrics, key
    log = rundir.read_analysis_log(tiny_run)
    assert log["rate_constants_R2"] == pytest.approx(metrics["rate_constants_R2"], rel=1e-5)
    assert "regime: tiny_metabolism" in torch.load(tiny_run / "model.pt", weights_only=False)["config"]


def test_metrics_can_be_recomputed_from_results(tiny_run):
    res = rundir.read_results(tiny_run)
    metrics = rundir.read_metrics(tiny_run)
    ok = res["identifiable"].astype(bool)
    assert r2_score(res["log_k_true"][ok], res["log_k_learned"][ok]) == pytest.approx(metrics["rate_constants_R2"])
    assert np.allclose(np.log10(res["k_true"]), res["log_k_true"])


@pytest.mark.parametrize(
    "args,needle,code",
    [
        (("+regime=no_such_regime",), "no_such_regime", 1),  # Hydra refuses the composition
        (("+regime=tiny_metabolism", "simulation.n_metabolites=-3"), "simulation.n_metabolites", 2),  # our check
        ((), "+regime=", 2),
    ],
)
def test_bad_input_gives_one_clear_line(args, needle, code, tmp_path, cli):
    proc = cli(*args, "progress=false", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == code, proc.stderr[-2000:]
    err = proc.stderr + proc.stdout
    assert needle in err
    assert "Traceback" not in err


def error_text(err: BaseException) -> str:
    """The message of ``err`` and of what caused it (Hydra wraps OmegaConf's errors)."""
    return f"{err} {err.__cause__ or ''}"


@pytest.mark.parametrize(
    "overrides,needle",
    [
        (("training.lr_kk=0.1",), "lr_kk"),
        (("training.batch_size=abc",), "batch_size"),
        (("device=tpu",), "device"),
        (("simulation.n_metabolites=-3",), "simulation.n_metabolites"),
        (("simulation.log_k_min=0",), "log_k_min"),
        (("training.lr_k=-1",), "training.lr_k"),
    ],
)
def test_a_bad_key_or_value_is_named(overrides, needle, cache_dir):
    with pytest.raises(Exception) as caught:
        typed(compose_regime("tiny_metabolism", *overrides))
    assert needle in error_text(caught.value)


def test_an_unknown_regime_lists_the_known_ones():
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        with pytest.raises(Exception, match="tiny_metabolism"):
            compose("config", overrides=["+regime=no_such_regime"])
        cfg = compose("config")
    with pytest.raises(ConfigError, match=r"\+regime="):
        typed(cfg)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_an_error(tmp_path, cache_dir):
    with pytest.raises(ConfigError, match="device=cuda"):
        run(compose_regime("tiny_metabolism", "device=cuda", "progress=false"), tmp_path)


def test_dataset_dir_depends_on_config_only(tmp_path):
    from omegaconf import OmegaConf

    a = OmegaConf.create({"n": 1, "m": 2})
    b = OmegaConf.create({"m": 2, "n": 1})
    c = OmegaConf.create({"m": 2, "n": 3})
    assert dataset_dir(tmp_path, "x", a) == dataset_dir(tmp_path, "x", b) != dataset_dir(tmp_path, "x", c)


def test_sweeper_plugins_are_found_from_another_directory(tmp_path, cli):
    proc = cli("--info", "plugins", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "UCBLLMSweeper" in proc.stdout and "OptunaRegimeSweeper" in proc.stdout
