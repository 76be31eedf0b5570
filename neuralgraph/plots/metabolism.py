"""Metabolism figures: loss, log k scatter, MLP_sub against c^s, homeostasis, rollout."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import matplotlib.pyplot as plt
import numpy as np

from neuralgraph.plots.common import plot_loss, save, scatter_true_learned


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


def plot_rollout(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path, n_show: int = 6) -> None:
    true, pred = results["rollout_true"], results["rollout_pred"]
    order = np.argsort(true.std(axis=0))[::-1][:n_show]  # the most active metabolites
    fig, axes = plt.subplots(n_show, 1, figsize=(8, 1.4 * n_show), sharex=True)
    for ax, i in zip(np.atleast_1d(axes), order):
        ax.plot(true[:, i], color="k", lw=1, label="truth")
        ax.plot(pred[:, i], color="tab:orange", lw=1, ls="--", label="model rollout")
        ax.set_ylabel(f"c[{i}]", fontsize=8)
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="upper right")
    np.atleast_1d(axes)[0].set_title(
        f"held-out rollout: test_R2 = {metrics['test_R2']:.3f}, test_pearson = {metrics['test_pearson']:.3f}"
    )
    np.atleast_1d(axes)[-1].set_xlabel("frame")
    save(fig, path)


def plot_activity(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    true = results["rollout_true"]
    fig, ax = plt.subplots(figsize=(8, 3))
    im = ax.imshow(true.T, aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="c")
    ax.set_xlabel("frame")
    ax.set_ylabel("metabolite")
    ax.set_title(f"concentrations (held-out run); activity rank (99%) of the training run = {metrics['activity_rank']}")
    save(fig, path)


def plot_all(results, metrics, history, plot_dir: Path) -> None:
    plot_dir = Path(plot_dir)
    plot_loss(history, plot_dir / "loss.png")
    plot_rate_constants(results, metrics, plot_dir / "rate_constants.png")
    plot_mlp_sub(results, plot_dir / "mlp_sub.png")
    plot_homeostasis(results, plot_dir / "homeostasis.png")
    plot_rollout(results, metrics, plot_dir / "rollout.png")
    plot_activity(results, metrics, plot_dir / "activity.png")
