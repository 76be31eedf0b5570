"""The CLI end to end on the tiny regime, the run-directory contract, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neuralgraph import rundir
from neuralgraph.datacache import dataset_dir
from neuralgraph.metrics import r2_score

TINY = ("+regime=tiny_metabolism", "progress=false", "training.data_augmentation_loop=100")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, cache_dir):
    from conftest import run_cli

    out = tmp_path_factory.mktemp("run")
    proc = run_cli(*TINY, f"hydra.run.dir={out}", cache=cache_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_run_directory_contract(tiny_run):
    for name in ("analysis.log", "metrics.json", "results.npz", "model.pt", ".hydra/config.yaml"):
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


def test_metrics_can_be_recomputed_from_results(tiny_run):
    res = rundir.read_results(tiny_run)
    metrics = rundir.read_metrics(tiny_run)
    ok = res["identifiable"].astype(bool)
    assert r2_score(res["log_k_true"][ok], res["log_k_learned"][ok]) == pytest.approx(metrics["rate_constants_R2"])
    assert np.allclose(np.log10(res["k_true"]), res["log_k_true"])


def test_checkpoint_loads_into_a_fresh_model(tiny_run):
    ckpt = torch.load(tiny_run / "model.pt", weights_only=False)
    assert "log_k" in ckpt["state_dict"] and "regime: tiny_metabolism" in ckpt["config"]


def test_second_run_reuses_the_cached_dataset(tmp_path, cli, cache_dir):
    proc = cli(*TINY, f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0
    assert "(cached" in proc.stderr + proc.stdout


def test_corrupt_cache_entry_is_regenerated(tmp_path, cli, cache_dir):
    proc = cli(*TINY, "simulation.seed=7", f"hydra.run.dir={tmp_path / 'a'}")
    assert proc.returncode == 0
    entries = [p for p in (cache_dir / "datasets").iterdir() if (p / "simulation.yaml").read_text().count("seed: 7")]
    assert len(entries) == 1
    (entries[0] / "data.npz").write_bytes(b"not a zip file")
    proc = cli(*TINY, "simulation.seed=7", f"hydra.run.dir={tmp_path / 'b'}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "unreadable" in proc.stderr + proc.stdout
    assert np.load(entries[0] / "data.npz")["x"].shape[-1] == 12


@pytest.mark.parametrize(
    "args,needle,code",
    [
        (("+regime=no_such_regime",), "no_such_regime", 1),
        (("+regime=tiny_metabolism", "training.lr_kk=0.1"), "lr_kk", 1),
        (("+regime=tiny_metabolism", "training.batch_size=abc"), "batch_size", 1),
        (("+regime=tiny_metabolism", "simulation.n_metabolites=-3"), "simulation.n_metabolites", 2),
        (("+regime=tiny_metabolism", "simulation.log_k_min=0"), "log_k_min", 2),
        (("+regime=tiny_metabolism", "training.lr_k=-1"), "training.lr_k", 2),
        (("+regime=tiny_metabolism", "device=tpu"), "device", 1),
        ((), "+regime=", 2),
    ],
)
def test_bad_input_gives_one_clear_line(args, needle, code, tmp_path, cli):
    proc = cli(*args, "progress=false", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == code, proc.stderr[-2000:]
    err = proc.stderr + proc.stdout
    assert needle in err
    assert "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_an_error(tmp_path, cli):
    proc = cli(*TINY, "device=cuda", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 2
    err = proc.stderr + proc.stdout
    assert "device=cuda" in err and "Traceback" not in err


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
