"""A recording NeuralGraph did not simulate, fitted the way a user fits one.

The data come from scipy's ``solve_ivp`` (neuralgraph.recording.demo), not from the project's
integrator: a 64-neuron rate network du/dt = −u + 3 W tanh(u), six trials sampled at irregular
times, 1 % measurement noise, 5 % of the samples missing, the last neuron never recorded. The fit
is ``python -m neuralgraph.train +regime=signal_recording data.path=FILE`` in a subprocess; the
learned W is then compared with the generating one. Also: a bad file fails in one line with
nothing half-written, truth metrics and other families are refused, a ucb_llm sweep rewards the
held-out prediction, and the file's stimulus, types and known graph reach the model.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from sweeper_helpers import ROOT, app_env, runs

from neuralgraph.explore.space import parse_space
from neuralgraph.family import get_family, scorer_for
from neuralgraph.launch import compose_regime
from neuralgraph.metrics.regression import linear_fit
from neuralgraph.recording.demo import demo_recording
from neuralgraph.recording.prepare import load_recording
from neuralgraph.rundir import read_metrics, read_results
from neuralgraph.sources import source_for

FAST = ["progress=false", "num_threads=1", "resume=false"]


def train(run_dir, *overrides, check=True):
    cmd = [sys.executable, "-m", "neuralgraph.train", *overrides, *FAST, f"hydra.run.dir={run_dir}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=app_env(), capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    arrays, W = demo_recording(n=64, n_trials=6, duration=30.0, noise=0.01, missing=0.05, unobserved=1, seed=0)
    path = tmp_path_factory.mktemp("rec") / "traces.npz"
    np.savez(path, **arrays)
    return path, W


def test_the_learned_W_matches_the_generating_one(recording, tmp_path):
    path, W_true = recording
    train(tmp_path / "run", "+regime=signal_recording", f"data.path={path}")
    metrics, results = read_metrics(tmp_path / "run"), read_results(tmp_path / "run")
    off = ~np.eye(len(W_true), dtype=bool)
    fit = linear_fit(W_true[off], results["W_normalized"].astype(np.float64)[off])
    assert fit.r2 > 0.9, fit.r2  # the known-law oracle on the same smoothed data reaches 0.978
    assert 2.0 < fit.slope < 4.0, fit.slope  # ψ* normalised to tanh's swing: W_normalized ≈ g W, g = 3
    assert metrics["status"] == "converged" and metrics["one_step_R2"] > 0.95
    assert metrics["n_neurons"] == 63 and metrics["n_trials"] == 6
    assert 0.005 < metrics["residual_fraction"] < 0.02  # the smoother removed about the 1 % noise
    for key in ("rollout_R2", "rollout_horizon", "design_rank", "n_weak_neurons", "n_clusters"):
        assert key in metrics
    assert "W_true" not in results and {"psi_learned", "phi_learned", "embeddings"} <= set(results)
    assert {p.name for p in (tmp_path / "run" / "plots").iterdir()} >= {"W_learned.png", "heldout_one_step.png"}


def test_a_bad_file_fails_in_one_line_with_nothing_half_written(tmp_path):
    x = np.random.default_rng(0).standard_normal((50, 3))
    x[10, 1] = np.inf
    np.savez(tmp_path / "bad.npz", x=x, t=0.1 * np.arange(50))
    proc = train(tmp_path / "run", "+regime=signal_recording", f"data.path={tmp_path / 'bad.npz'}", check=False)
    assert proc.returncode == 2
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if "ERROR" in line]  # Hydra logs to stdout
    assert len(errors) == 1 and "infinite value(s), the first at sample 10, neuron 1" in errors[0]
    assert "Traceback" not in proc.stderr
    assert read_metrics(tmp_path / "run")["status"] == "failed"
    assert not (tmp_path / "run" / "results.npz").exists() and not (tmp_path / "run" / "model.pt").exists()


def test_truth_metrics_and_other_families_are_refused(recording, tmp_path):
    path, _ = recording
    proc = train(tmp_path / "a", "+regime=tiny_signal", "data=recording", f"data.path={path}", check=False)
    assert proc.returncode == 2 and "reward_key=connectivity_R2 needs a ground truth" in proc.stdout
    proc = train(tmp_path / "b", "+regime=tiny_metabolism", "data=recording", f"data.path={path}", check=False)
    assert proc.returncode == 2 and "simulation.family=metabolism cannot be scored without a ground truth" in proc.stdout
    assert "families that can: signal" in proc.stdout


def test_a_sweep_rewards_held_out_prediction(recording, tmp_path):
    path, _ = recording
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "neuralgraph.train", "-m", "+regime=signal_recording", f"data.path={path}",
           "hydra/sweeper=ucb_llm", "hydra.sweeper.n_iterations=3", "hydra.sweeper.n_parallel=3",
           f"hydra.sweep.dir={out}", "plots=false", "training.data_augmentation_loop=10", *FAST]
    proc = subprocess.run(cmd, cwd=ROOT, env=app_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    done = runs(out)
    assert len(done) == 3 and all(r["status"] == "completed" for r in done)
    assert all(r["reward_key"] == "one_step_R2" and "one_step_R2" in r["metrics"] for r in done)
    assert json.loads((out / "ucb_llm_tree.json").read_text())["reward_key"] == "one_step_R2"


def test_the_recording_regime_composes_and_its_space_exists():
    cfg = compose_regime("signal_recording", "data.path=traces.npz")
    typed = OmegaConf.to_object(cfg)
    family = get_family(typed.simulation.family)
    family.check(typed)
    scorer = scorer_for(family, has_truth=False)
    scorer.check_scoring(typed)
    assert source_for(typed.data).name == "recording" and cfg.reward_key == "one_step_R2" in scorer.rewards
    for key in parse_space(OmegaConf.to_container(cfg.search_space)).dims:
        assert OmegaConf.select(cfg, key, throw_on_missing=True) is not None, key
    default = OmegaConf.to_object(compose_regime("tiny_signal")).data
    assert source_for(default).name == "simulated"  # every other regime still simulates


def test_stimulus_types_and_known_graph_reach_the_model_and_the_results(tmp_path):
    """In process, without training: the file's mask fixes W's zeros, the stimulus is an input,
    the types are scored, and every figure is drawn without a ground truth."""
    arrays, _ = demo_recording(n=8, n_trials=2, duration=20.0, unobserved=0, seed=1)
    n = arrays["x"].shape[1]
    mask = (np.random.default_rng(0).random((n, n)) < 0.5).astype(float)
    np.savez(tmp_path / "rec.npz", **arrays, mask=mask, types=np.arange(n) % 2,
             stimulus=0.1 * np.ones_like(arrays["x"]))
    cfg = OmegaConf.to_object(compose_regime("signal_recording", f"data.path={tmp_path / 'rec.npz'}"))
    family = get_family("signal")
    prepared = load_recording(cfg.data)
    model, data = family.build(prepared, cfg, torch.device("cpu"))
    W = model.weight().detach().numpy()
    assert np.all(W[mask == 0] == 0) and np.any(W != 0)
    assert data.extras["e"].shape == data.x.shape and model.input_mode is not None
    metrics, results = family.truth_free.evaluate(model, prepared, cfg, torch.device("cpu"))
    assert "cluster_accuracy" in metrics and np.array_equal(results["mask"], prepared["mask"])
    family.truth_free.plot(prepared, results, metrics, {"step": [1], "loss": [1.0], "regularization": [0.0]}, tmp_path / "plots",
                cfg)
    assert len(list((tmp_path / "plots").glob("*.png"))) == 7
