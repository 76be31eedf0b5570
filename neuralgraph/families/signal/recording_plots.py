"""Figures of a recording fit, from the prepared data and ``results.npz``; no ground-truth panel.

``loss.png``, ``W_learned.png`` (``W_normalized`` and its weights, the known graph's absent
edges in grey), ``functions.png`` (ψ*_j / k_j, φ*), ``embeddings.png``, ``heldout_one_step.png`` (predicted against
smoothed du/dt on held-out frames), ``heldout_rollout.png`` and ``design.png`` (singular values of
the design and the level below which W is not determined).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import matplotlib.pyplot as plt
import numpy as np

from neuralgraph.plotting import plot_loss, plot_rollout_traces, save


def plot_weights(results: Mapping[str, np.ndarray], path: Path, max_n: int = 200) -> None:
    W = results["W_normalized"].astype(np.float64)
    n = min(W.shape[0], max_n)
    shown = W[:n, :n].copy()
    if "mask" in results:
        shown[results["mask"][:n, :n] == 0] = np.nan  # no edge in the known graph
    vmax = float(np.nanpercentile(np.abs(shown), 99)) or 1.0
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    cmap = plt.get_cmap("bwr").with_extremes(bad="0.85")
    im = axes[0].imshow(shown, cmap=cmap, vmin=-vmax, vmax=vmax)
    axes[0].set(title="learned W, normalised" + (f" (first {n})" if n < W.shape[0] else ""), xlabel="presynaptic j",
                ylabel="postsynaptic i")
    fig.colorbar(im, ax=axes[0], shrink=0.8)
    values = W[results["mask"] > 0] if "mask" in results else W[~np.eye(W.shape[0], dtype=bool)]
    axes[1].hist(values, bins=80, color="k")
    axes[1].set(title="learned weights", xlabel="W_ij", ylabel="count")
    save(fig, path)


def plot_functions(results: Mapping[str, np.ndarray], path: Path) -> None:
    xs, labels = results["curve_u"], results["clusters"]
    colors = plt.cm.tab10(labels % 10)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    step = max(1, len(labels) // 200)
    panels = (("psi_learned", axes[0], "ψ*_j / k_j per sender"), ("phi_learned", axes[1], "φ*_i per neuron"))
    for key, ax, title in panels:
        if key not in results:
            ax.set_title(f"{title}: generic update (not drawn)")
            continue
        curves = results[key] / results["sender_scale"][:, None] if key == "psi_learned" else results[key]
        for j in range(0, len(labels), step):
            ax.plot(xs, curves[j], color=colors[j], lw=0.6, alpha=0.6)
        ax.set(title=f"{title} (colour: embedding cluster)", xlabel="u")
    save(fig, path)


def plot_embeddings(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    emb = results["embeddings"]
    labels = results["types"] if "types" in results else results["clusters"]
    y = emb[:, 1] if emb.shape[1] > 1 else np.zeros(len(emb))
    fig, ax = plt.subplots(figsize=(5, 5))
    for t in np.unique(labels):
        sel = labels == t
        ax.scatter(emb[sel, 0], y[sel], s=8, color=plt.cm.tab10(t % 10),
                   label=f"{'type' if 'types' in results else 'cluster'} {t}")
    acc = metrics.get("cluster_accuracy")
    ax.set_title(f"embeddings a_i: {metrics.get('n_clusters')} clusters"
                 + (f", accuracy {acc:.3f} against the file's types" if acc is not None else ""))
    if len(np.unique(labels)) <= 12:
        ax.legend(fontsize=8, markerscale=2)
    save(fig, path)


def plot_one_step(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    obs, pred = results["du_heldout"].ravel(), results["du_heldout_pred"].ravel()
    idx = np.random.default_rng(0).choice(obs.size, min(obs.size, 50_000), replace=False)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(obs[idx], pred[idx], s=2, alpha=0.3, color="k")
    lo, hi = np.nanmin(obs), np.nanmax(obs)
    ax.plot([lo, hi], [lo, hi], color="tab:red", lw=0.8, ls="--")
    ax.set(xlabel="du/dt, smoothed data (held out)", ylabel="du/dt, model",
           title=f"one_step_R2 = {metrics.get('one_step_R2', float('nan')):.4f} "
                 f"(train {metrics.get('train_one_step_R2', float('nan')):.4f})")
    save(fig, path)


def plot_design(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    sigma = results["design_singular_values"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(np.arange(1, sigma.size + 1), sigma, ".-", color="k", ms=3)
    ax.axhline(float(results["design_level"]), color="tab:red", ls="--", lw=0.8, label="resolution level")
    ax.set(xlabel="direction", ylabel="singular value of ψ*(u)",
           title=f"design rank {metrics.get('design_rank')}/{sigma.size}, "
                 f"{metrics.get('n_weak_neurons')} weak neuron(s)")
    ax.legend(fontsize=8)
    save(fig, path)


def plot_recording(arrays: Mapping[str, np.ndarray], results: Mapping[str, np.ndarray], metrics: Mapping[str, Any],
                   history: Mapping[str, list], plot_dir: Path) -> None:
    """Every figure of the module docstring."""
    plot_dir.mkdir(parents=True, exist_ok=True)
    plot_loss(history, plot_dir / "loss.png")
    plot_weights(results, plot_dir / "W_learned.png")
    plot_functions(results, plot_dir / "functions.png")
    plot_embeddings(results, metrics, plot_dir / "embeddings.png")
    plot_one_step(results, metrics, plot_dir / "heldout_one_step.png")
    nan = float("nan")
    title = (f"free rollout on held-out time: horizon {metrics.get('rollout_horizon', nan):.0f} frames, "
             f"rollout_R2 = {metrics.get('rollout_R2', nan):.3f}")
    plot_rollout_traces(results["rollout_observed"], results["rollout_pred"], plot_dir / "heldout_rollout.png",
                        var="u", truth_label="data (smoothed, held out)", title=title)
    plot_design(results, metrics, plot_dir / "design.png")
