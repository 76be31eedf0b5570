"""benchmarks/gpu_check.sh and gpu_probe.py without a GPU: the script parses and stops with one line
when torch sees no CUDA device; the probe's speed, parity and compare commands run on the CPU."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"


@pytest.fixture(scope="module")
def probe():
    spec = importlib.util.spec_from_file_location("gpu_probe", REPO / "benchmarks" / "gpu_probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_without_cuda_the_script_says_so_in_one_line(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "out")], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stdout.strip().splitlines() == [proc.stdout.strip()] and "no CUDA device" in proc.stdout
    assert not (tmp_path / "out").exists()


def test_speed_times_the_trainer_step_on_the_cpu(probe, cache_dir, capsys):
    out = probe.speed(probe_args(probe, "speed", "--regime", "tiny_signal", "--device", "cpu", "--steps", "5"))
    assert out["steps_timed"] == 5 and out["steps_per_s"] > 0 and out["n_nodes"] == 24
    assert out["peak_gib"] > 0 and out["full_steps"] > 0
    assert "speed tiny_signal on cpu" in capsys.readouterr().out


def test_parity_of_a_device_with_itself_is_exact(probe, cache_dir):
    out = probe.parity(probe_args(probe, "parity", "--regime", "tiny_signal", "--devices", "cpu", "--steps", "20"))
    assert out["ok"] and out["max_delta"] == 0.0 and out["early_loss_rel_delta"] == 0.0
    assert out["jitter_delta"] >= 0.0


def test_draws_come_from_the_cpu_generator_and_torch_is_restored(probe):
    real = torch.randint
    torch.manual_seed(3)
    plain = torch.randint(0, 100, (8,))
    torch.manual_seed(3)
    with probe.draws_on_cpu():
        drawn = torch.randint(0, 100, (8,), device="cpu")
    assert torch.equal(plain, drawn) and torch.randint is real


def test_compare_reads_two_runs(probe, tmp_path):
    for name, value in (("a", 0.99), ("b", 0.97)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(f'{{"connectivity_R2": {value}, "device": "cpu"}}')
    args = ["compare", "--regime", "tiny_signal", str(tmp_path / "a"), str(tmp_path / "b")]
    assert probe.compare(probe_args(probe, *args, "--tol", "0.03"))["ok"]
    assert not probe.compare(probe_args(probe, *args, "--tol", "0.01"))["ok"]


def probe_args(probe, *argv: str):
    """The namespace ``gpu_probe.py ARGV`` parses to."""
    return probe.parse_args(list(argv))
