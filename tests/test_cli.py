"""What only a subprocess shows: the command line end to end on the tiny regime (exit code, Hydra's
own files, plots), one clear line and the right exit code on bad input, plugins found from
anywhere. The same checks that need no subprocess run in-process here and in test_pipeline.py."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from neuralgraph import resources, rundir
from neuralgraph.datacache import dataset_dir
from neuralgraph.errors import ConfigError
from neuralgraph.launch import compose_regime
from neuralgraph.metrics import r2_score
from neuralgraph.train import resolve_device, run, typed

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
        (("+regime=tiny_metabolism", "+training.lr_kk=1"), "training.lr_kk", 2),  # a key no schema has
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
        (("+training.lr_kk=0.1",), "training.lr_kk (did you mean training.lr_k?)"),
        (("+no_such_key=1",), "no_such_key"),
        (("device=cuda:x",), "device=cuda:x"),
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
    with initialize_config_dir(config_dir=resources.CONF_SEARCH_PATH, version_base="1.3"):
        with pytest.raises(Exception, match="tiny_metabolism"):
            compose("config", overrides=["+regime=no_such_regime"])
        cfg = compose("config")
    with pytest.raises(ConfigError, match=r"\+regime="):
        typed(cfg)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_gpu_is_an_error(device, tmp_path, cache_dir):
    with pytest.raises(ConfigError, match=f"device={device} but torch sees no CUDA device"):
        run(compose_regime("tiny_metabolism", f"device={device}", "progress=false"), tmp_path)


def test_gpu_index_and_sweep_jobs_over_the_visible_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    assert resolve_device("cpu", job_num=3) == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda")  # a single run: the current GPU
    assert [resolve_device("auto", job_num=j) for j in range(3)] == [torch.device(f"cuda:{i}") for i in (0, 1, 0)]
    with pytest.raises(ConfigError, match=r"device=cuda:2 but torch sees 2 CUDA device\(s\), cuda:0 to cuda:1"):
        resolve_device("cuda:2")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto", job_num=5) == torch.device("cuda")


def test_outputs_follow_the_umask(tmp_path, monkeypatch):
    """Run files, plots, the checkpoint, the curves and the dataset cache are group-readable under
    umask 027 (owner rw, group r, others nothing), as an ordinary open() would make them."""
    monkeypatch.setenv("NEURALGRAPH_CACHE", str(tmp_path / "cache"))
    cfg = compose_regime("tiny_metabolism", "progress=false", "training.data_augmentation_loop=20")
    old = os.umask(0o027)
    try:
        run(cfg, tmp_path / "run")
    finally:
        os.umask(old)
    written = [p for root in (tmp_path / "run", tmp_path / "cache") for p in root.rglob("*")]
    assert any(p.name == "model.pt" for p in written) and any(p.suffix == ".png" for p in written)
    assert any(p.name == "data.npz" for p in written) and any(p.name == "metrics.csv" for p in written)
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) for p in written}
    expected = {name: 0o750 if (tmp_path / name).is_dir() else 0o640 for name in modes}
    assert modes == expected


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
