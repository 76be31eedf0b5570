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
# # 02 · Neural signal networks: recovering the connectivity W
#
# **What this shows.** Three settings of a 100-neuron rate network du/dt = −u + g W φ(u): a
# chaotic random W (`signal_chaotic`), a rank-20 W (`signal_low_rank20`) and a chaotic W obeying
# Dale's law (`signal_chaotic_dale`: each neuron's outgoing weights share one sign). For each we
# look at the activity and its effective rank, train the GNN from the command line, and read the
# run directories back: learned against true W, the learned neuron embeddings against the true
# types, and the learned transfer functions φ and ψ against the truth. The question the comparison
# asks: does activity confined to few dimensions (low-rank W), or a sign constraint (Dale), make W
# harder to recover from the data?
#
# **How long.** Full size: the three trainings run side by side, one CPU thread each: about
# 4.5 min on a loaded 2-core machine (3 min of training each). Set
# `NEURALGRAPH_NOTEBOOK_SIZE=tiny` for 24-neuron versions of the same three settings
# (`tiny_signal` with overrides): about a minute.
#
# Runs go to `outputs/notebooks/02_signal/<size>/` under the working directory; finished runs
# there are reused (delete the folder to train again).

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from omegaconf import OmegaConf

from neuralgraph.datacache import load_or_simulate
from neuralgraph.family import get_family
from neuralgraph.launch import compose_regime, finish, start as start_training
from neuralgraph.rundir import read_results

SIZE = os.environ.get("NEURALGRAPH_NOTEBOOK_SIZE", "full")
if SIZE not in ("tiny", "full"):
    raise ValueError(f"NEURALGRAPH_NOTEBOOK_SIZE={SIZE!r}: use 'tiny' or 'full'")
TINY = SIZE == "tiny"
# name -> (regime, overrides): the tiny versions change only what makes each setting what it is.
if TINY:
    TINY_BUDGET = ["training.data_augmentation_loop=150"]
    SETTINGS = {
        "chaotic": ("tiny_signal", TINY_BUDGET),
        "low rank": ("tiny_signal", ["simulation.connectivity_type=low_rank", "simulation.connectivity_rank=3", *TINY_BUDGET]),
        "Dale": ("tiny_signal", ["simulation.Dale_law=true", "simulation.Dale_law_factor=0.5", *TINY_BUDGET]),
    }
else:
    SETTINGS = {
        "chaotic": ("signal_chaotic", []),
        "low rank": ("signal_low_rank20", []),
        "Dale": ("signal_chaotic_dale", []),
    }
OUT = Path("outputs/notebooks/02_signal").resolve() / SIZE
OUT.mkdir(parents=True, exist_ok=True)
print(f"size={SIZE}  output={OUT}")
for name, (regime, overrides) in SETTINGS.items():
    print(f"  {name:>9}: +regime={regime} {' '.join(overrides)}")



# %% [markdown]
# ## 1. Simulate the three settings
#
# Composing each regime in Python gives the config the command line builds (turned into its typed
# dataclasses, as a run does); the dataset is cached by a hash of its simulation block, so the
# training runs below reuse it.

# %%
family = get_family("signal")
data = {}
for name, (regime, overrides) in SETTINGS.items():
    cfg = OmegaConf.to_object(compose_regime(regime, *overrides))
    arrays, folder, cached = load_or_simulate(cfg.cache_dir, family.name, cfg.simulation, family.simulate)
    data[name] = arrays
    print(f"{name:>9}: {arrays['u'].shape[1]} neurons, {arrays['u'].shape[0]} frames, "
          f"spectral radius {float(arrays['spectral_radius']):.2f}, "
          f"effective rank (90% / 99%) {int(arrays['effective_rank_90'])} / {int(arrays['effective_rank_99'])}"
          f" ({'cached' if cached else 'simulated'})")

# %% [markdown]
# ## 2. Activity and effective rank
#
# Top: the first frames of every neuron. Bottom: the singular-value spectrum of the activity
# (left) and of W itself (right). A rank-20 W drives the activity into a low-dimensional subspace;
# W along directions the activity never visits leaves no trace in the data.

# %%
fig, axes = plt.subplots(2, 3, figsize=(15, 7))
for col, (name, arrays) in enumerate(data.items()):
    u = arrays["u"]
    n_show = min(u.shape[0], 1000)
    im = axes[0, col].imshow(u[:n_show].T, aspect="auto", cmap="RdBu_r", vmin=-np.abs(u).max(), vmax=np.abs(u).max())
    axes[0, col].set(title=f"{name}: activity (first {n_show} frames)", xlabel="frame", ylabel="neuron")
    fig.colorbar(im, ax=axes[0, col])
ax_u, ax_w = axes[1, 0], axes[1, 1]
for name, arrays in data.items():
    sv = np.linalg.svd(arrays["u"].astype(np.float64), compute_uv=False)
    ax_u.semilogy(np.arange(1, len(sv) + 1), sv / sv[0], ".-", ms=3,
                  label=f"{name} (rank₉₉ {int(arrays['effective_rank_99'])})")
    sw = np.linalg.svd(arrays["W"].astype(np.float64), compute_uv=False)
    ax_w.semilogy(np.arange(1, len(sw) + 1), sw / sw[0], ".-", ms=3, label=name)
ax_u.set(xlabel="component", ylabel="σ / σ₁", title="activity singular values")
ax_w.set(xlabel="component", ylabel="σ / σ₁", title="W singular values", ylim=(1e-8, 2))
ax_u.legend(fontsize=8)
ax_w.legend(fontsize=8)
axes[1, 2].axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Train all three
#
# Three command lines, started side by side (one CPU thread each), then their run directories are
# read. `connectivity_R2` is the line-fit R² of the learned weights against the true ones, each
# multiplied by its own sender's level m_j (the median of its transfer function at high
# activity): a ψ that is learned α times too large makes W α times too small, the data cannot
# tell them apart, and W_ij·m_j is what they do determine. The learned side uses only the learned
# functions; the truth enters only as the target. `transfer_condition` measures how well the data
# determine W (larger is worse).
#
# In our full-size run (default settings, one seed) all three reached `connectivity_R2` ≈ 0.9999
# although the activity rank drops from 53 (chaotic) to 16 (rank-20 W): with 10,000 noise-free
# frames even the low-rank activity pins W down; the difference shows in `transfer_condition` and
# in smaller budgets (try `training.data_augmentation_loop=10`).

# %%
runs = {name: OUT / name.replace(" ", "_") for name in SETTINGS}
procs = {name: start_training(runs[name], regime, *overrides) for name, (regime, overrides) in SETTINGS.items()}
metrics = {name: finish(procs[name], runs[name]) for name in SETTINGS}
results = {name: read_results(runs[name]) for name in SETTINGS}

keys = ["status", "connectivity_R2", "connectivity_slope", "connectivity_R2_raw", "W_sign_accuracy",
        "effective_rank_99", "transfer_condition", "cluster_accuracy", "test_R2", "test_horizon",
        "truth_horizon", "training_time_min"]
print(f"{'':>20}" + "".join(f"{name:>14}" for name in SETTINGS))
for k in keys:
    cells = []
    for name in SETTINGS:
        v = metrics[name].get(k)
        cells.append(f"{v:>14.4g}" if isinstance(v, (int, float)) else f"{str(v):>14}")
    print(f"{k:>20}" + "".join(cells))

# %% [markdown]
# ## 4. W recovery
#
# Top: learned weights W*_ij·m*_j against the true g_i·W_ij·m_j. Bottom: the matrices side by side for a
# block of neurons. Under Dale's law every column (a sender's outgoing weights) has one sign; the
# sign accuracy counts how many non-zero weights were learned with the right sign.

# %%
fig, axes = plt.subplots(2, 3, figsize=(15, 9))
for col, name in enumerate(SETTINGS):
    r, m = results[name], metrics[name]
    wt, wl = r["W_target"].ravel(), r["W_corrected"].ravel()
    ax = axes[0, col]
    lim = 1.1 * np.abs(wt).max()
    ax.scatter(wt, wl, s=2, alpha=0.4)
    ax.plot([-lim, lim], [-lim, lim], "k--", lw=0.8)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="true g_i W_ij m_j", ylabel="learned W*_ij m*_j",
           title=f"{name}: R² = {m['connectivity_R2']:.3f}, slope {m['connectivity_slope']:.2f}")
    k = min(30, r["W_true"].shape[0])
    both = np.concatenate([r["W_target"][:k, :k], np.full((k, 1), np.nan), r["W_corrected"][:k, :k]], axis=1)
    vmax = np.nanmax(np.abs(r["W_target"][:k, :k]))
    axes[1, col].imshow(both, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    axes[1, col].set(title=f"{name}: true | learned (first {k} neurons)", xticks=[], yticks=[])
plt.tight_layout()
plt.show()
if "W_sign_accuracy" in metrics["Dale"]:
    print(f"Dale: {100 * metrics['Dale']['W_sign_accuracy']:.1f}% of the non-zero weights have the right sign")

# %% [markdown]
# ## 5. Embeddings and types
#
# Each neuron carries a learned embedding a_i that conditions its functions; neurons of the same
# true type should cluster. `cluster_accuracy` is reported when the setting has more than one
# type (the full-size regimes of this notebook have a single type, so their embeddings form one
# cloud; see `signal_fig2` for four types).

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for ax, name in zip(axes, SETTINGS):
    r = results[name]
    emb, types = r["embeddings"], r["types"]
    for t in np.unique(types):
        sel = types == t
        ax.scatter(emb[sel, 0], emb[sel, 1] if emb.shape[1] > 1 else np.zeros(sel.sum()), s=12, label=f"type {t}")
    acc = metrics[name].get("cluster_accuracy")
    ax.set(xlabel="a₀", ylabel="a₁", title=f"{name}: embeddings" + (f" (cluster accuracy {acc:.2f})" if acc is not None else ""))
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 6. Learned φ and ψ against the truth
#
# The model's message function ψ (what a sender transmits, per sender) and update function φ
# (each neuron's own dynamics), read from `results.npz`: learned curves in colour, the truth
# dashed, on [−x_norm, x_norm] with x_norm = 1.5·std(u). Each ψ, learned or true, is divided by
# its own level m_j, the factor the data cannot separate from W's column j.

# %%
fig, axes = plt.subplots(2, 3, figsize=(15, 8))
for col, name in enumerate(SETTINGS):
    r = results[name]
    u = r["curve_u"]
    psi = r["psi_learned"] / r["sender_scale"][:, None]
    for j in range(0, len(psi), max(1, len(psi) // 50)):
        axes[0, col].plot(u, psi[j], lw=0.5, alpha=0.5)
        axes[1, col].plot(u, r["phi_learned"][j], lw=0.5, alpha=0.5)
    for t in np.unique(r["types"]):  # the truth once per neuron type
        i = int(np.flatnonzero(r["types"] == t)[0])
        axes[0, col].plot(u, r["psi_true"][i] / r["sender_level_true"][i], "k--", lw=2)
        axes[1, col].plot(u, r["phi_true"][i], "k--", lw=2)
    axes[0, col].set(title=f"{name}: ψ*_j / m*_j and the true ψ_j / m_j", xlabel="u")
    axes[1, col].set(title=f"{name}: φ*_i and the true φ", xlabel="u")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 7. Free rollout
#
# The learned model integrated from the first frame, against a noise-free re-simulation. These
# networks are chaotic: even the true system started 10⁻⁶ away loses the trajectory after
# `truth_horizon` frames, so `test_horizon` is read against it.

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.5))
for ax, name in zip(axes, SETTINGS):
    r, m = results[name], metrics[name]
    for i in range(3):
        ax.plot(r["rollout_true"][:, i], color=f"C{i}", lw=1)
        ax.plot(r["rollout_pred"][:, i], color=f"C{i}", lw=1, ls="--")
    ax.set(xlabel="frame", title=f"{name}: horizon {m['test_horizon']} (truth {m['truth_horizon']})")
plt.tight_layout()
plt.show()
