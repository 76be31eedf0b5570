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
# # 03 · Metabolism: learning the stoichiometric matrix S
#
# **What this shows.** The `metabolism_S_learning` regime: 100 metabolites, 256 random
# mass-conserving reactions (at most 4 metabolites each, small integer coefficients), an unknown rate
# law. Who takes part in which reaction is known; the signed coefficients S_ij are learned. We
# train from the command line and read the run directory back: S true | learned | scatter, how
# many coefficients come out as the right integer, and how many with the right sign.
#
# **How long.** Full size: about 2.5 min on a loaded 2-core machine (1.7 min of it training on
# one thread). Set `NEURALGRAPH_NOTEBOOK_SIZE=tiny` for
# `tiny_metabolism_S_learning` (12 metabolites, 16 reactions): under a minute.
#
# A note on scale. With the rate law unknown, multiplying column j of S by α_j and dividing the
# rate v_j by α_j leaves every prediction unchanged: each reaction's coefficients are known up to
# one factor (the *gauge*). The headline scores first multiply each learned column by the α_j
# that best matches the truth (`S_learned_gauged`, `edge_gauged`), then compare; the raw learned
# values are in `S_learned` / `edge_learned`.
#
# The run goes to `outputs/notebooks/03_stoichiometry/<size>/` under the working directory; a
# finished run there is reused (delete the folder to train again).

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from neuralgraph.rundir import read_results
from neuralgraph.launch import run as train

SIZE = os.environ.get("NEURALGRAPH_NOTEBOOK_SIZE", "full")
if SIZE not in ("tiny", "full"):
    raise ValueError(f"NEURALGRAPH_NOTEBOOK_SIZE={SIZE!r}: use 'tiny' or 'full'")
TINY = SIZE == "tiny"
REGIME = "tiny_metabolism_S_learning" if TINY else "metabolism_S_learning"
OUT = Path("outputs/notebooks/03_stoichiometry").resolve() / SIZE
OUT.mkdir(parents=True, exist_ok=True)
print(f"size={SIZE}  regime={REGIME}  output={OUT}")



# %% [markdown]
# ## 1. Train
#
# One command line. The dataset is simulated on the first run and cached.

# %%
RUN = OUT / "run"
metrics = train(RUN, REGIME, *(["plots=false"] if TINY else []))
res = read_results(RUN)
for k in ("status", "stoichiometry_R2", "stoichiometry_R2_raw", "stoichiometry_sign_accuracy_gauged",
          "stoichiometry_integer_accuracy", "stoichiometry_flipped_fraction", "stoichiometry_gauge_median",
          "n_unidentifiable_reactions", "test_deriv_R2", "final_loss", "training_time_min"):
    print(f"{k:>36}: {metrics.get(k)}")

# %% [markdown]
# ## 2. S: true | learned | scatter
#
# Left and middle: the true matrix and the learned one after the per-reaction gauge (metabolites
# down, reactions across; zero where a metabolite does not take part). Right: every candidate
# edge, learned against true coefficient, with the raw (un-gauged) values in grey.

# %%
S_true, S_gauged = res["S_true"], res["S_learned_gauged"]
et, eg, el = res["edge_true"], res["edge_gauged"], res["edge_learned"]
n_cols = min(S_true.shape[1], 60)
vmax = np.abs(S_true).max()
fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), gridspec_kw={"width_ratios": [1, 1, 0.8]})
for ax, M, title in ((axes[0], S_true, "true S"), (axes[1], S_gauged, "learned S (gauge-fixed)")):
    im = ax.imshow(M[:, :n_cols], cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest")
    ax.set(xlabel=f"reaction (first {n_cols})", ylabel="metabolite", title=title)
fig.colorbar(im, ax=axes[:2], shrink=0.8)
ax = axes[2]
ax.scatter(et, el, s=8, color="0.7", label="raw")
ax.scatter(et, eg, s=10, label="gauge-fixed")
lo, hi = et.min() - 0.5, et.max() + 0.5
ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
ax.set(xlim=(lo, hi), ylim=(lo - 1, hi + 1), xlabel="true S_ij", ylabel="learned S_ij",
       title=f"R² = {metrics['stoichiometry_R2']:.3f} (raw {metrics['stoichiometry_R2_raw']:.3f})")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 3. Integers and signs
#
# True coefficients are small integers, negative for substrates and positive for products. Left:
# the gauge-fixed learned coefficients against the integer grid, one colour per true value.
# Right: true sign against learned sign. With `model.S_sign_constraint=true` (the full regime's
# default) each edge is kept on the side its known role gives it, so the only possible sign error
# is a coefficient driven to exactly 0. A reaction whose whole learned column points the other way
# (a negative gauge) is counted in `stoichiometry_flipped_fraction`.

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4))
ax = axes[0]
values = np.unique(et[et != 0])
bins = np.linspace(min(values.min(), np.percentile(eg, 1)) - 1, max(values.max(), np.percentile(eg, 99)) + 1, 60)
for v in values:
    ax.hist(eg[et == v], bins=bins, alpha=0.6, label=f"true {int(v):+d}")
for v in range(int(bins[0]), int(bins[-1]) + 1):
    ax.axvline(v, color="k", lw=0.4, alpha=0.5)
ax.set(xlabel="learned coefficient (gauge-fixed)", ylabel="edges",
       title=f"{100 * metrics['stoichiometry_integer_accuracy']:.0f}% round to the true integer")
ax.legend(fontsize=7, ncol=2)
true_signs, learned_signs = [-1, 1], [-1, 0, 1]
confusion = np.array([[np.sum((np.sign(et) == a) & (np.sign(eg) == b)) for b in learned_signs] for a in true_signs])
ax = axes[1]
ax.imshow(confusion, cmap="Blues")
for i in range(2):
    for j in range(3):
        ax.text(j, i, str(confusion[i, j]), ha="center", va="center")
ax.set(xticks=range(3), yticks=range(2), xticklabels=["−", "0", "+"], yticklabels=["−", "+"],
       xlabel="learned sign (gauge-fixed)", ylabel="true sign",
       title=f"sign accuracy {100 * metrics['stoichiometry_sign_accuracy_gauged']:.1f}%")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Per reaction: how well is each column learned?
#
# The cosine between each reaction's learned and true column (1 = right up to the gauge). Reactions
# that are not identifiable from the data (for example two reactions with the same substrates,
# whose rates the model cannot tell apart) are marked in red.

# %%
n_rxn = S_true.shape[1]
cos = np.full(n_rxn, np.nan)
for j in range(n_rxn):
    a, b = S_true[:, j], res["S_learned"][:, j]
    if np.linalg.norm(a) > 0 and np.linalg.norm(b) > 0:
        cos[j] = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
ok = res["identifiable_reactions"].astype(bool)
fig, ax = plt.subplots(figsize=(10, 3))
ax.bar(np.flatnonzero(ok), cos[ok], color="C0", label="identifiable")
if (~ok).any():
    ax.bar(np.flatnonzero(~ok), cos[~ok], color="C3", label="not identifiable")
ax.set(xlabel="reaction", ylabel="cos(learned, true)", ylim=(-1.05, 1.05), title="column agreement per reaction")
ax.legend(fontsize=8)
plt.show()
print(f"median cosine {np.nanmedian(cos):.3f}; {np.sum(cos < 0)} reactions point the other way")
