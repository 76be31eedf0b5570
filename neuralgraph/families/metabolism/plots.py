"""Metabolism figures: loss, log k scatter, MLP_sub against c^s, homeostasis, rollout; with S
learned, the matrix (true | learned | scatter) and the histogram of coefficients around integers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import matplotlib.pyplot as plt
import numpy as np

from neuralgraph.plotting import plot_loss, plot_rollout_traces, save, scatter_true_learned


def plot_rate_constants(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    scatter_true_learned(
        ax, results["log_k_true"], results["log_k_learned"], "log10 k", ~results["identifiable"].astype(bool),
        title=f"rate constants: R² = {metrics['rate_constants_R2']:.3f} "
        f"(all: {metrics['rate_constants_R2_all']:.3f})",
    )
    save(fig, path)


def plot_mlp_sub(results: Mapping[str, np.ndarray], path: Path) -> None:
    c, f, s_vals = results["mlp_sub_c"], results["mlp_sub_f"], results["mlp_sub_s"]
    fig, ax = plt.subplots(figsize=(5, 4))
    for i, s in enumerate(s_vals):
        line = ax.plot(c, f[i], lw=2, label=f"MLP_sub(c, {s:g})")[0]
        ax.plot(c, c**s, ls="--", color=line.get_color(), lw=1, label=f"c^{s:g} (mass action)")
    ax.set_xlabel("concentration c")
    ax.set_ylabel("substrate function")
    ax.set_title("substrate function against the mass-action truth")
    ax.legend(fontsize=8)
    save(fig, path)


def plot_homeostasis(results: Mapping[str, np.ndarray], path: Path) -> None:
    c, node, types = results["mlp_node_c"], results["mlp_node_f"], results["types"]
    lam, base = results["homeostatic_lambda"], results["homeostatic_baseline"]
    fig, ax = plt.subplots(figsize=(6, 4))
    colors = plt.cm.tab10(np.arange(len(lam)) % 10)
    lo, hi = results["c_observed_min"], results["c_observed_max"]
    for i in range(node.shape[0]):
        seen = (c >= lo[i]) & (c <= hi[i])  # each curve only where that metabolite was observed
        ax.plot(c[seen], node[i, seen], color=colors[types[i]], lw=0.6, alpha=0.5)
    for t in range(len(lam)):
        ax.plot(c, -lam[t] * (c - base[t]), color=colors[t], ls="--", lw=2,
                label=f"type {t}: −{lam[t]:g}(c − {base[t]:g})")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("concentration c")
    ax.set_ylabel("MLP_node(c, a_i)")
    ax.set_title("homeostasis: learned (thin, per metabolite, observed range) vs true (dashed)", fontsize=9)
    ax.legend(fontsize=8)
    save(fig, path)


def plot_rollout(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    plot_rollout_traces(
        results["rollout_true"], results["rollout_pred"], path, var="c",
        title=f"held-out rollout from frame 0: windowed test_R2 = {metrics['test_R2']:.3f}, "
        f"test_pearson = {metrics['test_pearson']:.3f}",
    )


def plot_activity(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    true = results["rollout_true"]
    fig, ax = plt.subplots(figsize=(8, 3))
    im = ax.imshow(true.T, aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="c")
    ax.set_xlabel("frame")
    ax.set_ylabel("metabolite")
    ax.set_title(f"concentrations (held-out run); activity rank (99%) of the training run = {metrics['activity_rank']}")
    save(fig, path)


def plot_stoichiometry(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    """True S | learned S (per-reaction gauge against the truth) | truth-free read-out of the candidate edges."""
    S_true, S_gauged = results["S_true"], results["S_learned_gauged"]
    lim = max(float(np.abs(S_true).max()), 1.0)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), gridspec_kw={"width_ratios": [1, 1, 0.8]})
    for ax, mat, title in ((axes[0], S_true, "true S"), (axes[1], S_gauged, "learned S (oracle gauge per reaction)")):
        im = ax.imshow(mat, aspect="auto", cmap="bwr", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_xlabel("reaction")
        ax.set_ylabel("metabolite")
        ax.set_title(title)
    fig.colorbar(im, ax=axes[:2], shrink=0.8)
    t, g = results["edge_true"], results["edge_mincoef"]
    ok = results["identifiable_reactions"].astype(bool)[results["edge_rxn"]]
    rng = np.random.default_rng(0)
    jitter = 0.08 * rng.standard_normal(len(t))  # integers overlap otherwise
    ax = axes[2]
    ax.scatter(t[ok] + jitter[ok], g[ok], s=6, alpha=0.5, label="identifiable reactions")
    if (~ok).any():
        ax.scatter(t[~ok] + jitter[~ok], g[~ok], s=6, alpha=0.5, color="tab:red", label="unidentifiable")
    ax.plot([-lim, lim], [-lim, lim], "k--", lw=1)
    ax.set_xlabel("true coefficient (jittered)")
    ax.set_ylabel("learned coefficient / smallest of its column")
    ax.set_title(f"stoichiometry_R2 (truth-free) = {metrics['stoichiometry_R2']:.3f} "
                 f"(oracle gauge {metrics['stoichiometry_R2_oracle_gauge']:.3f}), "
                 f"signs {metrics['stoichiometry_sign_accuracy']:.2f}", fontsize=9)
    ax.legend(fontsize=7)
    save(fig, path)


def plot_stoichiometry_histogram(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    """Learned coefficients (truth-free read-out, and raw) against the integers they should sit on."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=False)
    panels = ((axes[0], "edge_mincoef", "truth-free (over the column's smallest)"), (axes[1], "edge_learned", "raw"))
    for ax, key, title in panels:
        vals = results[key]
        lo, hi = min(-3.0, float(vals.min())), max(3.0, float(vals.max()))
        ax.hist(vals[results["edge_true"] != 0], bins=np.arange(lo - 0.05, hi + 0.1, 0.1), alpha=0.7, label="true edges")
        if (results["edge_true"] == 0).any():
            ax.hist(vals[results["edge_true"] == 0], bins=np.arange(lo - 0.05, hi + 0.1, 0.1), alpha=0.6,
                    color="tab:gray", label="extra (true 0)")
        for k in range(int(np.floor(lo)), int(np.ceil(hi)) + 1):
            ax.axvline(k, color="k", lw=0.5, ls=":")
        ax.set_xlabel("learned coefficient")
        ax.set_title(f"{title}", fontsize=9)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("edges")
    fig.suptitle(f"integer accuracy: {metrics['stoichiometry_integer_accuracy_mincoef']:.3f} (truth-free), "
                 f"{metrics['stoichiometry_integer_accuracy']:.3f} (oracle gauge), "
                 f"{metrics['stoichiometry_integer_accuracy_raw']:.3f} (raw)", fontsize=10)
    save(fig, path)


def plot_all(results, metrics, history, plot_dir: Path) -> None:
    plot_dir = Path(plot_dir)
    plot_loss(history, plot_dir / "loss.png")
    if "S_learned" in results:
        plot_stoichiometry(results, metrics, plot_dir / "stoichiometry.png")
        plot_stoichiometry_histogram(results, metrics, plot_dir / "stoichiometry_histogram.png")
    else:
        plot_rate_constants(results, metrics, plot_dir / "rate_constants.png")
    if "mlp_sub_f" in results:
        plot_mlp_sub(results, plot_dir / "mlp_sub.png")
    if "mlp_node_f" in results:
        plot_homeostasis(results, plot_dir / "homeostasis.png")
    plot_rollout(results, metrics, plot_dir / "rollout.png")
    plot_activity(results, metrics, plot_dir / "activity.png")
