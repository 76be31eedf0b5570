# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Fitting a recording that NeuralGraph did not simulate
#
# **What this shows.** The path a user with their own traces takes: a file of activity `x`,
# timestamps `t` and trial labels goes in with `data=recording data.path=FILE`, and out come the
# learned connectivity W, transfer functions, neuron embeddings and held-out prediction scores —
# without any ground truth. To check that the answer is right we make the "recording" ourselves,
# with an integrator that is not NeuralGraph's (scipy's `solve_ivp` on a rate network
# du/dt = −u + 3 W tanh(u)), sampled the way an experiment is: irregular sampling intervals,
# measurement noise, missing samples and one neuron never recorded. Only at the end do we compare
# the learned W with the W that generated the data.
#
# **How long.** Full size (100 neurons, 10 trials of 50 time units, 1 % noise, 10 % of the samples
# missing): about 2 min on one CPU thread (the file is smoothed twice, about 20 s each time, and
# training takes a minute). Set `NEURALGRAPH_NOTEBOOK_SIZE=tiny` for 64 neurons, 6 trials of 30
# time units and 5 % missing samples: under a minute.
#
# Runs go to `outputs/notebooks/06_recording/<size>/`; a finished run there is reused (delete the
# folder to train again).

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from neuralgraph.errors import DataError
from neuralgraph.launch import run as train
from neuralgraph.metrics.regression import linear_fit
from neuralgraph.recording.config import RecordingData
from neuralgraph.recording.demo import demo_recording
from neuralgraph.recording.prepare import load_recording
from neuralgraph.rundir import read_results

SIZE = os.environ.get("NEURALGRAPH_NOTEBOOK_SIZE", "full")
if SIZE not in ("tiny", "full"):
    raise ValueError(f"NEURALGRAPH_NOTEBOOK_SIZE={SIZE!r}: use 'tiny' or 'full'")
TINY = SIZE == "tiny"
DEMO = (dict(n=64, n_trials=6, duration=30.0, missing=0.05) if TINY
        else dict(n=100, n_trials=10, duration=50.0, missing=0.10))
OUT = Path("outputs/notebooks/06_recording").resolve() / SIZE
OUT.mkdir(parents=True, exist_ok=True)
print(f"size={SIZE}  output={OUT}  recording: {DEMO}")

# %% [markdown]
# ## 1. A recording from somewhere else
#
# `demo_recording` integrates the network with `solve_ivp` (adaptive Runge–Kutta, tolerances
# 10⁻⁸) from a random state per trial, keeps samples at intervals 0.1·U(0.5, 1.5), adds noise of
# 1 % of the activity's std, blanks samples at random and drops the last neuron from the file. It
# also returns the generating W over the recorded neurons — which we put aside until section 5.
# The file is an ordinary `.npz` with the arrays `x` (samples × neurons, NaN = missing), `t` and
# `trial`; see the README ("Fitting your own recordings") for every array a file may hold.

# %%
arrays, W_generating = demo_recording(noise=0.01, jitter=0.5, unobserved=1, seed=0, **DEMO)
path = OUT / "traces.npz"
np.savez(path, **arrays)
x, t, trial = arrays["x"], arrays["t"], arrays["trial"]
print(f"{path.name}: x {x.shape} ({np.isnan(x).mean():.1%} missing), {len(np.unique(trial))} trials, "
      f"sampling interval {np.diff(t[trial == 0]).min():.3f} to {np.diff(t[trial == 0]).max():.3f}")

fig, ax = plt.subplots(figsize=(12, 3.5))
first = trial == 0
for k, i in enumerate(range(4)):
    ax.plot(t[first], x[first, i] + 5 * k, ".", ms=2, color=f"C{k}")
ax.set(xlabel="t", yticks=[], title="four neurons of trial 0 as recorded: irregular samples, noise, gaps")
plt.show()

# %% [markdown]
# ## 2. What the recording path makes of it
#
# Before training, each trial is split into a training part and a held-out part (its last 20 %),
# and each part is smoothed on its own with a cubic smoothing spline per neuron, whose roughness
# penalty λ is chosen by cross-validation. The smoothed states u and derivatives du/dt are read on
# a regular grid. `residual_fraction` is what the smoother took away, relative to the activity's
# std: it should be about the noise level (here 1 %).

# %%
prepared = load_recording(RecordingData(path=str(path)))
print(f"training frames {prepared['u'].shape}, held-out frames {prepared['u_heldout'].shape}, "
      f"grid Δt = {float(prepared['delta_t']):.4f}, residual_fraction = {float(prepared['residual_fraction']):.4f}")
grid = float(prepared["delta_t"]) * np.arange(200)
fig, axes = plt.subplots(1, 2, figsize=(12, 3.5))
axes[0].plot(grid, prepared["u"][:200, 0], color="k", label="smoothed u (grid)")
axes[1].plot(grid, prepared["du"][:200, 0], color="tab:red", label="smoothed du/dt (grid)")
for ax in axes:
    ax.set_xlabel("t from the first grid point")
    ax.legend(fontsize=8)
axes[0].set_title("neuron 0: training segment of trial 0")
plt.show()

# %% [markdown]
# ## 3. Fit it as a user would
#
# The command line below is what `neuralgraph.launch.run` executes in a child process:
#
# ```
# python -m neuralgraph.train +regime=signal_recording data.path=traces.npz
# ```
#
# `signal_recording` is the regime for rate networks: the signal family's GNN
# du_i/dt ≈ φ*(u_i, a_i) + Σ_j W_ij ψ*(u_j) with one transfer function ψ* shared by all neurons,
# rewarded on `one_step_R2` (held-out prediction), since there is no true W to score against.

# %%
run_dir = OUT / "fit"
metrics = train(run_dir, "signal_recording", f"data.path={path}")
results = read_results(run_dir)
for key in ("status", "one_step_R2", "train_one_step_R2", "rollout_R2", "rollout_horizon_time", "design_rank",
            "n_weak_neurons", "n_clusters", "n_neurons", "residual_fraction", "training_time_min"):
    value = metrics[key]
    print(f"{key:>22}: {value:.4g}" if isinstance(value, float) else f"{key:>22}: {value}")

# %% [markdown]
# ## 4. Truth-free read-out: held-out prediction and identifiability
#
# Left: the model's du/dt against the smoothed derivative on held-out time, which the fit never
# saw. Middle: the model run freely from the first held-out frame of trial 0 against the data —
# the network is chaotic, so even a perfect model drifts away after a few time constants
# (`rollout_horizon_time`). Right: the singular values of the design ψ*(u) over the training
# frames; directions under the red line are not determined by these data, whatever the learner
# (`n_weak_neurons` counts the senders mostly made of them).

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 4))
obs, pred = results["du_heldout"].ravel(), results["du_heldout_pred"].ravel()
keep = np.random.default_rng(0).choice(obs.size, min(obs.size, 20000), replace=False)
axes[0].scatter(obs[keep], pred[keep], s=1, alpha=0.3, color="k")
axes[0].set(xlabel="du/dt (smoothed data, held out)", ylabel="du/dt (model)",
            title=f"one_step_R2 = {metrics['one_step_R2']:.3f}")
for k in range(3):
    axes[1].plot(results["rollout_observed"][:, k], color=f"C{k}")
    axes[1].plot(results["rollout_pred"][:, k], color=f"C{k}", ls="--")
axes[1].set(xlabel="grid frame", title="held-out rollout: data (solid), model (dashed)")
sigma = results["design_singular_values"]
axes[2].semilogy(np.arange(1, sigma.size + 1), sigma, ".-", color="k", ms=3)
axes[2].axhline(float(results["design_level"]), color="tab:red", ls="--")
axes[2].set(xlabel="direction", title=f"design rank {metrics['design_rank']}/{sigma.size}")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Only now: the learned W against the generating W
#
# The data fix each sender's weights only together with its transfer function: W_ij·k and ψ*_j/k
# predict the same activity for any k, sign included. The run reports `W_normalized`, with each
# ψ*_j rescaled to rise by 2 across [−x_norm, x_norm] (x_norm = 1.5·std u), so a positive weight
# excites; for the tanh that generated these data that makes ψ*/k ≈ tanh and W_normalized ≈ g·W
# (g = 3). The score is the R² of the least-squares line over the off-diagonal entries, as
# `connectivity_R2` is in simulated runs; the README's table repeats it over noise levels.

# %%
W_learned = results["W_normalized"].astype(np.float64)
off = ~np.eye(len(W_generating), dtype=bool)
fit = linear_fit(W_generating[off], W_learned[off])
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
axes[0].scatter(W_generating[off], W_learned[off], s=2, alpha=0.3, color="k")
axes[0].set(xlabel="generating W_ij", ylabel="learned W_ij (normalised)",
            title=f"R² = {fit.r2:.4f}, slope {fit.slope:.2f} (the gain g = 3)")
u = results["curve_u"]
axes[1].plot(u, results["psi_learned"][0] / results["sender_scale"][0], color="k", label="learned ψ* / k")
axes[1].plot(u, np.tanh(u), "--", color="tab:red", label="generating tanh")
axes[1].set(xlabel="u", title="transfer function")
axes[1].legend(fontsize=8)
plt.show()
print(f"connectivity R² against the generating W: {fit.r2:.4f} ({len(W_generating)} recorded neurons of "
      f"{len(W_generating) + 1})")

# %% [markdown]
# ## 6. A bad file is refused in one line
#
# The checks run before anything is written: shape, NaN and infinities, time that goes back,
# trials that interleave, a known graph or types of the wrong size, gaps longer than
# `data.max_gap`. Here the clock goes back once inside a trial.

# %%
broken = dict(arrays)
broken["t"] = arrays["t"].copy()
broken["t"][30] = broken["t"][28]
np.savez(OUT / "broken.npz", **broken)
try:
    load_recording(RecordingData(path=str(OUT / "broken.npz")))
except DataError as err:
    print(err)
