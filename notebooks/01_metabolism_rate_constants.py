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
# # 01 · Metabolism: recovering rate constants with S given
#
# **What this shows.** We simulate the `oscillatory_rank50` metabolic network (100 metabolites,
# 256 mass-action reactions in autocatalytic 3-cycles, two homeostasis types), look at the
# concentrations and how many dimensions they explore (the activity rank), train the GNN with the
# command line a user types, and read the run directory back: learned against true rate constants
# k, the learned substrate function against c^s, the learned homeostasis per metabolite type, a
# free rollout against held-out data, and which reactions no method could identify, and why.
#
# **How long.** Full size: about 5 min of training on one quiet CPU core plus ~1 min of simulation
# and evaluation (about 15 min on a loaded 2-core machine). Set `NEURALGRAPH_NOTEBOOK_SIZE=tiny` for
# the 12-metabolite `tiny_metabolism` regime: under a minute.
#
# Everything the notebook trains goes to `outputs/notebooks/01_metabolism/<size>/` under the
# working directory; a finished run there is reused (delete the folder to train again).

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from neuralgraph.datacache import load_or_simulate
from neuralgraph.family import get_family
from neuralgraph.metrics.activity import effective_rank
from neuralgraph.launch import compose_regime, run as train
from neuralgraph.rundir import read_results
from neuralgraph.train import typed

SIZE = os.environ.get("NEURALGRAPH_NOTEBOOK_SIZE", "full")
if SIZE not in ("tiny", "full"):
    raise ValueError(f"NEURALGRAPH_NOTEBOOK_SIZE={SIZE!r}: use 'tiny' or 'full'")
TINY = SIZE == "tiny"
REGIME = "tiny_metabolism" if TINY else "oscillatory_rank50"
OUT = Path("outputs/notebooks/01_metabolism").resolve() / SIZE
OUT.mkdir(parents=True, exist_ok=True)
print(f"size={SIZE}  regime={REGIME}  output={OUT}")



# %% [markdown]
# ## 1. Simulate
#
# The regime is a Hydra config; composing it in Python gives the same config the command line
# builds, and `typed` turns it into the dataclasses a run works with (checking every value).
# `load_or_simulate` caches the dataset by a hash of the simulation block, so the training run
# below finds it in the cache and does not simulate again.

# %%
cfg = typed(compose_regime(REGIME))
family = get_family(cfg.simulation.family)
arrays, data_dir, cached = load_or_simulate(cfg.cache_dir, family.name, cfg.simulation, family.simulate)
x = arrays["x"][0]  # training run: (frames, metabolites)
S = arrays["S"]
print(f"dataset {data_dir} ({'cached' if cached else 'simulated'})")
print(f"{x.shape[1]} metabolites, {S.shape[1]} reactions, {x.shape[0]} frames, dt={float(arrays['delta_t'])}")
print(f"{arrays['x'].shape[0] - 1} held-out run(s) with other initial concentrations, for the rollout test")

# %% [markdown]
# ## 2. The activity and its rank
#
# Each reaction j fires at rate v_j = k_j Π c_i^{s_ij}; what we can learn about k_j depends on how
# much independent variation the trajectories carry. The effective rank (smallest r whose top-r
# singular values hold 99% of Σσ², uncentred) is the number of directions the data explore.

# %%
r90, r99 = effective_rank(x, 0.90), effective_rank(x, 0.99)
sv = np.linalg.svd(x.astype(np.float64), compute_uv=False)
t = np.arange(x.shape[0]) * float(arrays["delta_t"])
types = arrays["types"]

fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
for tt in np.unique(types):
    for i in np.flatnonzero(types == tt)[:5]:
        axes[0].plot(t, x[:, i], lw=0.8, color=f"C{tt}")
axes[0].set(xlabel="time", ylabel="concentration c_i", title="5 metabolites per homeostasis type (colour)")
im = axes[1].imshow(x.T, aspect="auto", cmap="viridis", extent=[t[0], t[-1], x.shape[1], 0])
axes[1].set(xlabel="time", ylabel="metabolite", title="all concentrations")
fig.colorbar(im, ax=axes[1])
energy = np.cumsum(sv**2) / np.sum(sv**2)
axes[2].semilogy(np.arange(1, len(sv) + 1), sv / sv[0], ".-")
axes[2].axvline(r99, color="k", ls="--", lw=0.8)
axes[2].set(xlabel="component", ylabel="σ / σ₁", title=f"singular values: rank₉₀={r90}, rank₉₉={r99}")
plt.tight_layout()
plt.show()
print(f"activity rank (99% of energy): {r99} of {x.shape[1]} metabolites")

# %% [markdown]
# ## 3. Train
#
# One command line, as a user types it (the notebook passes `hydra.run.dir` so it knows where the
# run directory is). In tiny mode the same command runs the `tiny_metabolism` regime.

# %%
RUN = OUT / "run"
# Tiny: the notebook draws its own figures, so the run skips its plots/ (section 9 lists them).
metrics = train(RUN, REGIME, *(["plots=false"] if TINY else []))
res = read_results(RUN)
keys = ["status", "rate_constants_R2", "rate_constants_R2_all", "n_unidentifiable", "MLP_sub_R2",
        "test_R2", "test_pearson", "activity_rank", "final_loss", "training_time_min"]
for k in keys:
    print(f"{k:>24}: {metrics.get(k)}")
print("files:", sorted(p.name for p in RUN.iterdir()))

# %% [markdown]
# ## 4. Rate constants
#
# `results.npz` holds log10 k true and learned (after the model's scale is removed). The headline
# `rate_constants_R2` is the identity-line R² over the **identifiable** reactions (red crosses are
# the others; section 8 says why they cannot be learned).

# %%
lt, ll, ok = res["log_k_true"], res["log_k_learned"], res["identifiable"].astype(bool)
fig, ax = plt.subplots(figsize=(4.8, 4.5))
lo, hi = min(lt.min(), ll.min()) - 0.1, max(lt.max(), ll.max()) + 0.1
ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
ax.scatter(lt[ok], ll[ok], s=12, label=f"identifiable ({ok.sum()})")
if (~ok).any():
    ax.scatter(lt[~ok], ll[~ok], marker="x", color="red", s=30, label=f"not identifiable ({(~ok).sum()})")
ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="true log10 k", ylabel="learned log10 k",
       title=f"R² = {metrics['rate_constants_R2']:.3f} (all: {metrics['rate_constants_R2_all']:.3f})")
ax.legend(fontsize=8)
plt.show()
err = ll - lt
print(f"median |error| = {np.median(np.abs(err[ok])):.3f} dex; mean offset = {err[ok].mean():+.3f} dex; "
      f"slope = {metrics['slope']:.3f}")

# %% [markdown]
# ## 5. The substrate function against c^s
#
# The model writes the rate as k_j Π f(c_i, s_ij) with f pinned at f(1, s) = 1; mass action is
# f(c, s) = c^s. The curves are drawn over the concentration range of the training data.

# %%
c, orders, f = res["mlp_sub_c"], res["mlp_sub_s"], res["mlp_sub_f"]
fig, ax = plt.subplots(figsize=(4.8, 4))
for i, s in enumerate(orders):
    ax.plot(c, c**s, "k--", lw=0.8)
    ax.plot(c, f[i], color=f"C{i}", label=f"learned f(c, {s:g})")
ax.set(xlabel="c", ylabel="f(c, s)", title=f"MLP_sub vs c^s (R² = {metrics['MLP_sub_R2']:.3f})")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 6. Homeostasis per metabolite type
#
# The node function MLP_node(c_i, a_i) should learn −λ_t (c_i − c_base,t) for the type t of
# metabolite i. Each metabolite's learned curve is drawn over the range it visits in the data,
# against the true line (dashed) of its type. The homeostatic term is small (λ ≈ 10⁻³) next to
# the reaction fluxes, and high concentrations are brief peaks, so expect the learned curves to
# follow the truth near c_base, where most frames sit, and to drift from it far above. The
# reported slope is a line fitted to each metabolite's curve over its observed range.

# %%
lam, base = res["homeostatic_lambda"], res["homeostatic_baseline"]
node_c, node_f = res["mlp_node_c"], res["mlp_node_f"]
cmin, cmax = res["c_observed_min"], res["c_observed_max"]
n_types = len(lam)
fig, axes = plt.subplots(1, n_types, figsize=(4.8 * n_types, 3.8), squeeze=False)
for tt in range(n_types):
    ax = axes[0, tt]
    for i in np.flatnonzero(res["types"] == tt):
        inside = (node_c >= cmin[i]) & (node_c <= cmax[i])
        ax.plot(node_c[inside], node_f[i, inside], color=f"C{tt}", lw=0.6, alpha=0.6)
    ax.plot(node_c, -lam[tt] * (node_c - base[tt]), "k--", lw=1, label="truth −λ(c − c_base)")
    # Concentrations above the 99th percentile are rare peaks: the data say little about them.
    c99 = float(np.percentile(x[:, types == tt], 99))
    inside = node_c <= c99
    lo = min(node_f[res["types"] == tt][:, inside].min(), (-lam[tt] * (node_c[inside] - base[tt])).min())
    hi = max(node_f[res["types"] == tt][:, inside].max(), (-lam[tt] * (node_c[inside] - base[tt])).max())
    ax.set(xlim=(0, c99), ylim=(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)))
    ax.set(xlabel="c (up to the 99th percentile of this type's data)", ylabel="MLP_node(c)",
           title=f"type {tt}: slope {metrics[f'homeostasis_slope_t{tt}']:.2e} "
                 f"(true {metrics[f'homeostasis_slope_true_t{tt}']:.2e})")
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 7. Free rollout against held-out data
#
# The learned model is integrated from the first frame of a held-out run (new initial
# concentrations, same network) with no access to the data afterwards.

# %%
true_r, pred_r = res["rollout_true"], res["rollout_pred"]
tr = np.arange(true_r.shape[0]) * float(arrays["delta_t"])
show = np.argsort(true_r.std(axis=0))[::-1][:6]  # the six most active metabolites
fig, axes = plt.subplots(2, 3, figsize=(13, 5), sharex=True)
for ax, i in zip(axes.flat, show):
    ax.plot(tr, true_r[:, i], "k", lw=1, label="truth")
    ax.plot(tr, pred_r[:, i], "C1", lw=1, ls="--", label="model")
    ax.set_title(f"metabolite {i}", fontsize=9)
axes[0, 0].legend(fontsize=8)
fig.suptitle(f"held-out rollout: test_R2 = {metrics['test_R2']:.3f}, test_pearson = {metrics['test_pearson']:.3f}, "
             f"horizon {metrics.get('rollout_horizon')} frames (truth vs perturbed truth: {metrics.get('rollout_horizon_truth')})")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 8. Which reactions cannot be identified, and why
#
# Mass action is linear in k: dc/dt = Σ_j S_:j k_j m_j(c) + homeostasis, with monomials
# m_j = Π c_i^{s_ij}. Stack these columns over every training frame into a design matrix A; a
# direction in its null space changes k without changing any prediction, so no method can learn
# it. The scorer calls reaction j unidentifiable when ≥ 1% of its unit vector lies in that null
# space (`null_weight` in the dataset). The structural reasons are visible in S:
#
# - a reaction whose column of S is zero has no effect on any metabolite;
# - two reactions with the same substrates have the same monomial m_j; their effect is
#   S_:1 k_1 + S_:2 k_2 m, and when their columns of S are parallel only a combination of k_1 and
#   k_2 is seen.

# %%
null_w = arrays["null_weight"][: S.shape[1]]
fig, ax = plt.subplots(figsize=(9, 3))
ax.semilogy(np.arange(S.shape[1]), np.maximum(null_w, 1e-16), ".", ms=4)
ax.axhline(0.01, color="red", ls="--", lw=0.8, label="1% threshold")
ax.set(xlabel="reaction j", ylabel="weight in null space", title="null-space weight of each k_j")
ax.legend(fontsize=8)
plt.show()

substrates = {}
sub_met, sub_rxn, sub_s = arrays["sub_met"], arrays["sub_rxn"], arrays["sub_s"]
for j in range(S.shape[1]):
    sel = sub_rxn == j
    substrates[j] = tuple(sorted(zip(sub_met[sel].tolist(), sub_s[sel].tolist())))
bad = np.flatnonzero(~ok)
print(f"{len(bad)} of {S.shape[1]} reactions are not identifiable")
for j in bad:
    col = S[:, j]
    if not np.any(col):
        why = "its column of S is zero: it changes no concentration"
    else:
        twins = [i for i in range(S.shape[1]) if i != j and substrates[i] == substrates[j]]
        parallel = [i for i in twins if np.linalg.matrix_rank(np.stack([S[:, i], col])) < 2]
        if parallel:
            why = (f"same substrates and a parallel S column as reaction(s) {parallel}: the data see only "
                   "one combination of their k (k_a + c·k_b, c the ratio of the columns)")
        elif twins:
            why = f"same substrates {substrates[j]} as reaction(s) {twins}: their monomials coincide"
        else:
            why = "a combination with other reactions' columns is unseen in this trajectory"
    print(f"  reaction {j:3d} (true log10 k {lt[j]:+.2f}, learned {ll[j]:+.2f}, null weight {null_w[j]:.2f}): {why}")

# %% [markdown]
# ## 9. The run's own figures
#
# The run directory also holds the figures the training run drew (`plots/`), for a quick look
# without a notebook.

# %%
print(sorted(p.name for p in (RUN / "plots").glob("*.png")) or "none: the tiny run was started with plots=false")
