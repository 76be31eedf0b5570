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
# # 04 · The fly visual system: connectome, stimuli, and what the GNN recovers
#
# **What this shows.** The `flyvis_small` regime: the optic-lobe connectome of the flyvis package
# (Lappalainen et al., Nature 2024) tiled on a hexagonal lattice of 19 columns (1,203 neurons of
# 65 cell types, 28,904 synapses), driven by visual stimuli (flashes, edges, bars, gratings,
# noise) through the photoreceptors. We look at the lattice and the type-to-type wiring, the
# stimuli and the responses, then train two GNNs from the command line — one given the stimulus,
# one that must learn the visual field as well (`model.field_type=visual`) — and read back W,
# the time constants τ, the resting potentials V_rest, the visual field, and the cell types.
#
# **How long.** Full size: the two trainings run side by side, one CPU thread each: 6 to 12 min
# on a 2-core machine (measured: 6 min with 5.5 min of training each when lightly loaded, 12 min
# when heavily loaded and simulating the dataset first). Set `NEURALGRAPH_NOTEBOOK_SIZE=tiny` for `tiny_flyvis` (one
# column ring, 443 neurons, 8,174 synapses): about a minute.
#
# The connectome file ships with NeuralGraph (neuralgraph/data/flyvis/, copied from the flyvis wheel). Runs go to
# `outputs/notebooks/04_flyvis/<size>/` under the working directory; finished runs there are
# reused (delete the folder to train again).

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from neuralgraph.datacache import load_or_simulate
from neuralgraph.family import get_family
from neuralgraph.launch import compose_regime, finish, start as start_training
from neuralgraph.families.flyvis import simulate as sim_flyvis
from neuralgraph.rundir import read_results
from neuralgraph.train import typed

SIZE = os.environ.get("NEURALGRAPH_NOTEBOOK_SIZE", "full")
if SIZE not in ("tiny", "full"):
    raise ValueError(f"NEURALGRAPH_NOTEBOOK_SIZE={SIZE!r}: use 'tiny' or 'full'")
TINY = SIZE == "tiny"
REGIME = "tiny_flyvis" if TINY else "flyvis_small"
OUT = Path("outputs/notebooks/04_flyvis").resolve() / SIZE
OUT.mkdir(parents=True, exist_ok=True)
if not sim_flyvis.connectome_available():
    raise RuntimeError(f"the flyvis connectome file is not installed: {sim_flyvis.INSTALL_HINT}")
print(f"size={SIZE}  regime={REGIME}  output={OUT}")



# %% [markdown]
# ## 1. Simulate
#
# Composing the regime in Python gives the config the command line builds (typed: each block is
# its dataclass, with its range checks run); the dataset is cached by a hash of its simulation
# block, so both training runs reuse it.

# %%
cfg = typed(compose_regime(REGIME))
family = get_family(cfg.simulation.family)
arrays, data_dir, cached = load_or_simulate(cfg.cache_dir, family.name, cfg.simulation, family.simulate)
names = arrays["type_names"]
node_type, node_col = arrays["node_type"], arrays["node_col"]
src, tgt = arrays["edge_src"], arrays["edge_tgt"]
xy = arrays["column_xy"]
print(f"dataset {data_dir} ({'cached' if cached else 'simulated'})")
print(f"{len(xy)} columns, {len(node_type)} neurons of {len(names)} types, {len(src)} synapses (edges), "
      f"{arrays['x'].shape[0]} training frames, {arrays['x_test'].shape[0]} test frames")

# %% [markdown]
# ## 2. The connectome on the lattice
#
# Left: the hexagonal columns, each holding one copy of the column's cell types; the colour
# counts, for one neuron of the centre column, its presynaptic neurons in each column (wiring is
# local and repeats from column to column). Middle: the type-to-type wiring, summed true weights from each
# presynaptic type (columns) to each postsynaptic type (rows), blue inhibitory, red excitatory.
# Right: how many neurons of each type the lattice holds.

# %%
fig, axes = plt.subplots(1, 3, figsize=(17, 5.2), gridspec_kw={"width_ratios": [1, 1.3, 1.6]})
# One neuron in the centre column and where its inputs come from: synapses per presynaptic column.
centre = int(np.argmin(np.hypot(xy[:, 0], xy[:, 1])))
type_names = list(names)
post_type = type_names.index("T4a") if "T4a" in type_names else int(np.bincount(node_type[tgt]).argmax())
post = int(np.flatnonzero((node_type == post_type) & (node_col == centre))[0])
inputs = np.bincount(node_col[src[tgt == post]], minlength=len(xy))
sc = axes[0].scatter(xy[:, 0], xy[:, 1], c=inputs, s=900 if TINY else 500, marker="h", cmap="YlGnBu",
                     vmin=0, edgecolors="k")
for c, (px, py) in enumerate(xy):
    axes[0].text(px, py, str(c), ha="center", va="center", fontsize=8, color="C3" if c == centre else "k")
axes[0].set(aspect="equal", xticks=[], yticks=[],
            title=f"inputs to {names[post_type]} in column {centre}, by column")
fig.colorbar(sc, ax=axes[0], label="presynaptic neurons", shrink=0.7)
n_types = len(names)
M = np.zeros((n_types, n_types))
np.add.at(M, (node_type[tgt], node_type[src]), arrays["W"])
vmax = np.percentile(np.abs(M[M != 0]), 95)
axes[1].imshow(M, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
axes[1].set(title="Σ W from type (x) to type (y)", xlabel="presynaptic type", ylabel="postsynaptic type")
counts = np.bincount(node_type, minlength=n_types)
axes[2].bar(np.arange(n_types), counts, color="C0")
axes[2].set_xticks(np.arange(n_types))
axes[2].set_xticklabels(names, rotation=90, fontsize=6)
axes[2].set(ylabel="neurons", title="neurons per type")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Stimuli and responses
#
# The photoreceptors of every column see a luminance movie made of segments of several kinds.
# Top: a few frames on the lattice and the luminance of every column over time (the kind of each
# segment on top). Bottom: responses of one neuron of a few cell types.

# %%
stim, kind = arrays["stimulus"], arrays["stimulus_kind"]
x = arrays["x"]
n_show = min(len(stim), 600)
fig = plt.figure(figsize=(16, 7))
frames = np.linspace(0, n_show - 1, 5).astype(int)
for k, f in enumerate(frames):
    ax = fig.add_subplot(2, 7, k + 1)
    ax.scatter(xy[:, 0], xy[:, 1], c=stim[f], s=120 if TINY else 60, marker="h", cmap="gray", vmin=0, vmax=1)
    ax.set(aspect="equal", xticks=[], yticks=[], title=f"frame {f}: {sim_flyvis.STIMULUS_KINDS[kind[f]]}")
ax = fig.add_subplot(2, 7, (6, 7))
ax.imshow(stim[:n_show].T, aspect="auto", cmap="gray", vmin=0, vmax=1)
for start in np.flatnonzero(np.diff(kind[:n_show]) != 0) + 1:
    ax.axvline(start, color="C3", lw=0.6)
ax.set(xlabel="frame", ylabel="column", title="luminance per column")
ax = fig.add_subplot(2, 1, 2)
shown = [t for t in ("R1", "L1", "L2", "Mi1", "Tm3", "T4a", "T5a", "Lawf2") if t in list(names)]
for name in shown:
    t = list(names).index(name)
    i = np.flatnonzero(node_type == t)[0]
    ax.plot(x[:n_show, i], lw=0.9, label=name)
ax.set(xlabel="frame", ylabel="voltage v", title="responses (one neuron per type)")
ax.legend(fontsize=8, ncol=len(shown))
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Train: stimulus given, and stimulus learned as a field
#
# Two command lines side by side. The second replaces the known stimulus with a learned SIREN
# field Ω(x, y, t) and is scored on `field_R2` as well.

# %%
# Tiny: the notebook draws its own figures, so the runs skip theirs (plots/ stays empty).
FAST = ["plots=false"] if TINY else []
# Both spelled out: the regimes differ in their default (flyvis_small learns the field).
RUNS = {"stimulus given": (OUT / "given", ["model.field_type=given", *FAST]),
        "field learned": (OUT / "field", ["model.field_type=visual", *FAST])}
procs = {name: start_training(run, REGIME, *ov) for name, (run, ov) in RUNS.items()}
metrics = {name: finish(procs[name], RUNS[name][0]) for name in RUNS}
results = {name: read_results(RUNS[name][0]) for name in RUNS}
keys = ["status", "connectivity_R2", "connectivity_R2_all", "n_unidentifiable_edges", "tau_R2", "V_rest_R2",
        "field_R2", "cluster_accuracy", "baseline_cluster_accuracy", "test_R2_pooled", "test_pearson", "training_time_min"]
print(f"{'':>26}" + "".join(f"{name:>16}" for name in RUNS))
for k in keys:
    row = [metrics[n].get(k) for n in RUNS]
    print(f"{k:>26}" + "".join(f"{v:>16.4g}" if isinstance(v, (int, float)) else f"{str(v):>16}" for v in row))

# %% [markdown]
# ## 5. W, τ and V_rest recovery (stimulus given)
#
# The data fix only the product of W with the slopes of the learned functions, so W is compared
# after that scale correction (`W_corrected`; `W_learned` is the weight as stored). Edges whose
# sender never crosses threshold carry no signal and are left out of `connectivity_R2`. τ and
# V_rest are read out of the learned update function linearised where the data are.

# %%
r, m = results["stimulus given"], metrics["stimulus given"]
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
ax = axes[0]
ax.scatter(r["W_true"], r["W_corrected"], s=1, alpha=0.3)
lim = np.percentile(np.abs(r["W_true"]), 99.5) * 1.2
ax.plot([-lim, lim], [-lim, lim], "k--", lw=0.8)
ax.set(xlim=(-lim, lim), xlabel="true W", ylabel="learned W (scale-corrected)",
       title=f"W: R² = {m['connectivity_R2']:.3f} ({m['n_unidentifiable_edges']} edges unidentifiable)")
for ax, key, label in ((axes[1], "tau", "τ"), (axes[2], "V_rest", "V_rest")):
    true, learned = r[f"{key}_true"], r[f"{key}_learned"]
    ax.scatter(true, learned, s=6, alpha=0.5, c=r["types"], cmap="tab20")
    lo, hi = min(true.min(), learned.min()), max(true.max(), learned.max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set(xlabel=f"true {label}", ylabel=f"learned {label}", title=f"{label}: R² = {m[f'{key}_R2']:.3f} (colour = type)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 6. The visual field (field learned)
#
# The second run never saw the stimulus: it learned Ω(x, y, t) so that Ω² drives the
# photoreceptors. `field_R2` is the line-fit R² of the true luminance against Ω² (the scale and
# offset of a field the network only sees through its photoreceptors cannot be known).

# %%
rf, mf = results["field learned"], metrics["field learned"]
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].scatter(rf["field_true"].ravel(), rf["field_learned"].ravel(), s=2, alpha=0.3)
axes[0].set(xlabel="true luminance", ylabel="learned Ω²", title=f"field: R² = {mf.get('field_R2', float('nan')):.3f}")
for ax, key, title in ((axes[1], "field_true", "true luminance"), (axes[2], "field_learned", "learned Ω²")):
    lo, hi = np.percentile(rf[key], [1, 99])  # a few bright outliers would grey out the rest
    ax.imshow(rf[key].T, aspect="auto", cmap="gray", vmin=lo, vmax=hi)
    ax.set(xlabel=f"scored frame (of {len(rf['field_frames'])})", ylabel="column", title=title)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 7. Cell types
#
# The read-out is not told how many types there are. `cluster_accuracy` clusters the learned
# [log τ_i, V_rest,i] alone (k-means, standardised), with the number of clusters `n_clusters`
# chosen from those features (the smallest BIC of a Gaussian mixture over k in [2, 150]; the
# truth has 65), and matches them one-to-one to the true types; `cluster_ARI` scores the same
# labels. Beside it, `baseline_cluster_accuracy` clusters, at the same k, what the given graph
# alone says (each neuron's wiring with every weight 1); the types count as recovered only where
# `cluster_beats_graph`. `cluster_accuracy_with_wiring` (learned weights appended) is a
# diagnostic: the given connectome lifts it. `cluster_accuracy_embedding` clusters the raw
# embeddings a_i alone. Left: the embeddings by true type. Right: the per-type mean of the learned
# τ against the true τ of the type.

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 5))
emb, types = r["embeddings"], r["types"]
axes[0].scatter(emb[:, 0], emb[:, 1], c=types, cmap="tab20", s=8)
for t in np.unique(types):
    cx, cy = emb[types == t].mean(axis=0)[:2]
    axes[0].text(cx, cy, names[t], fontsize=5)
axes[0].set(xlabel="a₀", ylabel="a₁",
            title=f"embeddings by true type; learned dynamics: accuracy {m['cluster_accuracy']:.2f} "
                  f"at k = {m['n_clusters']}\n(graph only {m.get('baseline_cluster_accuracy', float('nan')):.2f}, "
                  f"embedding only {m['cluster_accuracy_embedding']:.2f})")
print({k: m.get(k) for k in ("cluster_accuracy", "cluster_ARI", "n_clusters", "baseline_cluster_accuracy",
                             "baseline_cluster_ARI", "cluster_beats_graph", "cluster_accuracy_with_wiring",
                             "cluster_accuracy_with_unit_wiring", "cluster_accuracy_embedding")})
tau_true_t = np.array([r["tau_true"][types == t].mean() for t in range(len(names))])
tau_learned_t = np.array([r["tau_learned"][types == t].mean() for t in range(len(names))])
axes[1].scatter(tau_true_t, tau_learned_t, s=15)
for t in range(len(names)):
    axes[1].text(tau_true_t[t], tau_learned_t[t], names[t], fontsize=5)
hi = max(tau_true_t.max(), tau_learned_t.max())
axes[1].plot([0, hi], [0, hi], "k--", lw=0.8)
axes[1].set(xlabel="true τ of the type", ylabel="mean learned τ", title="τ per cell type")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 8. Free rollout on the held-out movie
#
# The learned model (stimulus given) integrated from the first state of a test movie it never
# saw, driven by the true stimulus.

# %%
fig, axes = plt.subplots(2, 4, figsize=(15, 5), sharex=True)
for ax, i, n in zip(axes.flat, range(r["rollout_true"].shape[1]), r["rollout_neurons"]):
    ax.plot(r["rollout_true"][:, i], "k", lw=1, label="truth")
    ax.plot(r["rollout_pred"][:, i], "C1--", lw=1, label="model")
    ax.set_title(f"neuron {n} ({names[types[n]]})", fontsize=9)
axes[0, 0].legend(fontsize=8)
plt.tight_layout()
plt.show()
