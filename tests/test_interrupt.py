"""Stopping and continuing a run. SIGINT/SIGTERM save a checkpoint after the step in progress,
write metrics.json with ``status: interrupted`` and exit with the shell's code (130 / 143) and one
log line; ``resume`` continues to the very metrics an uninterrupted run reaches (bit for bit on the
CPU). The command-line tests send real signals to a real process; the in-process ones raise the
signal at a chosen record, so the stop lands on a known step."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from neuralgraph import checkpoint, rundir
from neuralgraph import train as train_module
from neuralgraph.errors import ConfigError
from neuralgraph.launch import compose_regime
from neuralgraph.signals import Interrupted

TINY = ("+regime=tiny_metabolism", "progress=false", "plots=false", "num_threads=1", "training.n_checkpoints=50",
        "training.data_augmentation_loop=150")
FAST = ("progress=false", "plots=false", "training.data_augmentation_loop=60")


def same(a: dict, b: dict) -> bool:
    """Metrics equal but for the wall time (NaN equal to NaN)."""
    def norm(m):
        return {k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in m.items()
                if k != "training_time_min"}
    return norm(a) == norm(b)


def same_results(a: Path, b: Path) -> bool:
    ra, rb = rundir.read_results(a), rundir.read_results(b)
    return ra.keys() == rb.keys() and all(np.array_equal(ra[k], rb[k], equal_nan=ra[k].dtype.kind in "fc")
                                          for k in ra)


def curves_without_time(run_dir: Path):
    return rundir.read_curves(run_dir).drop(columns="wall_time_s")


# ---- the command line, real signals --------------------------------------------------------------
@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cache_dir):
    from conftest import run_cli

    out = tmp_path_factory.mktemp("uninterrupted")
    proc = run_cli(*TINY, f"hydra.run.dir={out}", cache=cache_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def start_cli(run_dir: Path, cache: Path) -> subprocess.Popen:
    from conftest import REPO, cli_env

    return subprocess.Popen([sys.executable, "-m", "neuralgraph.train", *TINY, f"hydra.run.dir={run_dir}"],
                            cwd=REPO, env=cli_env(cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_training(proc: subprocess.Popen, run_dir: Path, timeout: float = 120.0) -> None:
    """Until the first periodic checkpoint exists (training has started)."""
    deadline = time.monotonic() + timeout
    while not (run_dir / rundir.MODEL_PT).exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "training did not start"
        time.sleep(0.02)


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_run_with_a_checkpoint_and_its_exit_code(signum, code, tmp_path, cache_dir, uninterrupted):
    run_dir = tmp_path / "run"
    proc = start_cli(run_dir, cache_dir)
    wait_for_training(proc, run_dir)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err[-3000:]
    text = out + err
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if "interrupted by" in line]
    assert len(lines) == 1 and signal.Signals(signum).name in lines[0] and "resume=true" in lines[0]
    metrics = rundir.read_metrics(run_dir)
    saved = checkpoint.load(run_dir / rundir.MODEL_PT)
    assert metrics["status"] == "interrupted" and metrics["n_steps"] == saved["step"] == saved["training"]["step"]
    assert 0 < saved["step"] < saved["training"]["total"]
    assert {"optimizer", "scheduler", "generator", "rng", "meter"} <= set(saved["training"])
    if signum == signal.SIGTERM:  # and the same command with resume=true finishes the run
        from conftest import run_cli

        proc = run_cli(*TINY, "resume=true", f"hydra.run.dir={run_dir}", cache=cache_dir)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert same(rundir.read_metrics(run_dir), rundir.read_metrics(uninterrupted))
        assert same_results(run_dir, uninterrupted)
        assert curves_without_time(run_dir).equals(curves_without_time(uninterrupted))


# ---- in-process: a stop on a known step -----------------------------------------------------------
@pytest.fixture
def stop_at_record(monkeypatch):
    """``stop_at_record(n, signum)``: the run's n-th record raises ``signum`` in this process."""
    def arm(n: int, signum: int = signal.SIGTERM) -> None:
        real = train_module.CurveLog

        class Signalling(real):
            def __call__(self, rows, total):
                super().__call__(rows, total)
                if len(rows) == n:
                    signal.raise_signal(signum)

        monkeypatch.setattr(train_module, "CurveLog", Signalling)

    return arm


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("reference")
    metrics = train_module.run(compose_regime("tiny_metabolism", *FAST), out)
    return out, metrics


def test_resume_continues_bit_for_bit(tmp_path, reference, stop_at_record):
    ref_dir, ref_metrics = reference
    cfg = compose_regime("tiny_metabolism", *FAST)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    stop_at_record(7)
    with pytest.raises(Interrupted) as caught:
        train_module.run(cfg, tmp_path)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers  # put back
    assert caught.value.exit_code == 143
    stopped = checkpoint.load(tmp_path / rundir.MODEL_PT)
    assert caught.value.step == stopped["step"] == rundir.read_curves(tmp_path)["step"].iloc[-1]
    assert rundir.read_metrics(tmp_path) == {"status": "interrupted", "n_steps": stopped["step"],
                                             "error": f"interrupted by SIGTERM at step {stopped['step']} of "
                                                      f"{stopped['training']['total']}"}
    metrics = train_module.run(cfg, tmp_path)  # resume=auto, the default, continues it
    assert same(metrics, ref_metrics) and same(rundir.read_metrics(tmp_path), rundir.read_metrics(ref_dir))
    assert same_results(tmp_path, ref_dir)
    assert curves_without_time(tmp_path).equals(curves_without_time(ref_dir))
    final = torch.load(tmp_path / rundir.MODEL_PT, weights_only=True)
    expected = torch.load(ref_dir / rundir.MODEL_PT, weights_only=True)
    assert all(torch.equal(final["state_dict"][k], v) for k, v in expected["state_dict"].items())


def test_which_checkpoint_a_run_continues_from(tmp_path, reference, stop_at_record):
    ref_dir, _ = reference
    config_yaml = checkpoint.load(ref_dir / rundir.MODEL_PT)["config"]
    other_yaml = config_yaml.replace("batch_size: 32", "batch_size: 16")
    assert other_yaml != config_yaml
    # A finished run: auto starts afresh, true re-evaluates it.
    assert checkpoint.to_resume("auto", ref_dir, config_yaml) is None
    assert checkpoint.to_resume("true", ref_dir, config_yaml)["step"] > 0
    stop_at_record(3)
    with pytest.raises(Interrupted):
        train_module.run(compose_regime("tiny_metabolism", *FAST), tmp_path)
    for resume in ("auto", "true", str(tmp_path), str(tmp_path / rundir.MODEL_PT)):
        assert checkpoint.to_resume(resume, tmp_path, config_yaml)["step"] > 0, resume
    assert checkpoint.to_resume("false", tmp_path, config_yaml) is None
    assert checkpoint.to_resume("auto", tmp_path, other_yaml) is None  # another config: start afresh
    with pytest.raises(ConfigError, match="training.batch_size"):
        checkpoint.to_resume("true", tmp_path, other_yaml)
    with pytest.raises(ConfigError, match="no checkpoint"):
        checkpoint.to_resume("true", tmp_path / "empty", config_yaml)


def test_a_signal_before_training_stops_at_once(tmp_path, monkeypatch, cache_dir):
    def simulate_then_signal(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)

    from neuralgraph.sources.simulated.source import SimulatedSource

    monkeypatch.setattr(SimulatedSource, "load", simulate_then_signal)
    with pytest.raises(Interrupted) as caught:
        train_module.run(compose_regime("tiny_metabolism", *FAST), tmp_path)
    assert caught.value.exit_code == 130 and caught.value.step is None
    assert rundir.read_metrics(tmp_path)["error"] == "interrupted by SIGINT before training"


def test_a_signal_after_training_keeps_the_trained_model(tmp_path, monkeypatch, cache_dir):
    """Stopped while evaluating: the final checkpoint is there, and resume=true only evaluates."""
    real = train_module._evaluate

    def signal_then_evaluate(*args, **kwargs):
        signal.raise_signal(signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "_evaluate", signal_then_evaluate)
    with pytest.raises(Interrupted) as caught:
        train_module.run(compose_regime("tiny_metabolism", *FAST), tmp_path)
    saved = checkpoint.load(tmp_path / rundir.MODEL_PT)
    assert caught.value.step == saved["step"] == saved["training"]["total"]
    assert rundir.read_metrics(tmp_path)["error"] == f"interrupted by SIGTERM after training ({saved['step']} steps)"
    monkeypatch.setattr(train_module, "_evaluate", real)
    metrics = train_module.run(compose_regime("tiny_metabolism", *FAST, "resume=true"), tmp_path)
    assert metrics["n_steps"] == saved["step"] and metrics["status"] != "interrupted"


def test_submitit_preemption_checkpoints_then_hands_over(tmp_path, monkeypatch, stop_at_record, cache_dir):
    """Inside a submitit job its preemption signal is honoured like SIGTERM, then handed to the
    handler submitit installed (which requeues the job); the requeued run continues."""
    monkeypatch.setenv("SUBMITIT_FOLDER", str(tmp_path / "submitit"))
    seen = []

    def submitit_handler(signum, frame):
        seen.append((signum, rundir.read_metrics(tmp_path / "run")["status"],
                     checkpoint.load(tmp_path / "run" / rundir.MODEL_PT)["step"]))

    previous = signal.signal(signal.SIGUSR2, submitit_handler)
    try:
        stop_at_record(4, signal.SIGUSR2)
        with pytest.raises(Interrupted) as caught:
            train_module.run(compose_regime("tiny_metabolism", *FAST), tmp_path / "run")
        assert signal.getsignal(signal.SIGUSR2) is submitit_handler
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert seen == [(signal.SIGUSR2, "interrupted", caught.value.step)]
    resumed = checkpoint.to_resume("auto", tmp_path / "run",
                                   checkpoint.load(tmp_path / "run" / rundir.MODEL_PT)["config"])
    assert resumed["step"] == caught.value.step


def test_a_checkpoint_made_on_other_file_contents_is_not_continued(tmp_path):
    # The checkpoint stores the sha256 of every input file: overwriting the connectivity file
    # between two sessions makes the run start afresh (or refuse resume=true), naming the file.
    matrix = tmp_path / "W.npy"
    np.save(matrix, np.eye(4))
    cfg = train_module.typed(compose_regime(
        "tiny_signal", "simulation.connectivity_type=file", f"simulation.connectivity_file={matrix}"))
    before = checkpoint.inputs_yaml(cfg)
    assert "simulation.connectivity_file" in before
    np.save(matrix, 2 * np.eye(4))
    after = checkpoint.inputs_yaml(cfg)
    assert checkpoint.mismatch(before, after) == ["inputs.simulation.connectivity_file"]
    assert checkpoint.mismatch(before, before) == []
    plain = train_module.typed(compose_regime("tiny_signal"))
    assert checkpoint.inputs_yaml(plain) == ""  # no input files: the stored config is unchanged
