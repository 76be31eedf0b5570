"""Signal figures: loss, W scatter and heat maps, ψ*/φ* against the truth, embeddings, traces.

Drawn from the dataset and ``results.npz`` alone (the function curves are stored there by
:mod:`neuralgraph.families.signal.evaluate`); the model is never needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import matplotlib.pyplot as plt
import numpy as np

from neuralgraph.plotting import plot_loss, plot_rollout_traces, save


def plot_connectivity_scatter(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    """Raw learned W against the true W; corrected learned W (and the oracle's) against the target."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    rng = np.random.default_rng(0)
    size = results["W_true"].size
    idx = rng.choice(size, min(size, 50_000), replace=False)
    for ax, key, truth, xlabel, label, r2, slope in (
        (axes[0], "W_learned", "W_true", "true W", "learned W (raw)",
         metrics.get("connectivity_R2_raw"), metrics.get("connectivity_slope_raw")),
        (axes[1], "W_corrected", "W_target", "true g_i W_ij m_j", "learned W*_ij m*_j",
         metrics.get("connectivity_R2"), metrics.get("connectivity_slope")),
    ):
        true = results[truth].ravel()
        oracle = key == "W_corrected" and "W_oracle" in results
        if oracle:  # what the data allow, behind what was learned
            ax.scatter(true[idx], results["W_oracle"].ravel()[idx], s=2, alpha=0.3, color="tab:orange",
                       label="known-law oracle")
        ax.scatter(true[idx], results[key].ravel()[idx], s=2, alpha=0.4, color="k", label="learned")
        if key == "W_corrected":
            lo, hi = np.nanmin(true), np.nanmax(true)
            ax.plot([lo, hi], [lo, hi], color="tab:red", lw=0.8, ls="--")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        title = f"R² = {r2:.4f}, slope = {slope:.3f}"
        if oracle and metrics.get("oracle_connectivity_R2") is not None:
            title += f" (oracle R² = {metrics['oracle_connectivity_R2']:.4f})"
            ax.legend(fontsize=7, markerscale=4, loc="upper left")
        ax.set_title(title)
    save(fig, path)


def plot_connectivity_maps(results: Mapping[str, np.ndarray], path: Path, max_n: int = 200) -> None:
    true, learned = results["W_target"], results["W_corrected"]
    n = min(true.shape[0], max_n)
    vmax = float(np.percentile(np.abs(true[:n, :n]), 99)) or 1.0
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, mat, title in ((axes[0], true, "true g_i W_ij m_j"), (axes[1], learned, "learned W*_ij m*_j")):
        im = ax.imshow(mat[:n, :n], cmap="bwr", vmin=-vmax, vmax=vmax)
        ax.set_title(title + (f" (first {n})" if n < true.shape[0] else ""))
        ax.set_xlabel("presynaptic j")
        ax.set_ylabel("postsynaptic i")
    fig.colorbar(im, ax=axes, shrink=0.8)
    save(fig, path)


def _per_level(curves: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Each row divided by its level; a row whose level is 0 (flat on the window) is drawn as is."""
    level = np.where(np.abs(level) > 1e-12, level, 1.0)
    return curves / level[:, None]


def plot_functions(results: Mapping[str, np.ndarray], path: Path) -> None:
    """ψ*_j / m*_j per sender over ψ_j / m_j (each divided by its own level) and φ* over the true φ."""
    types = results["types"]
    xs = results["curve_u"]
    n = len(types)
    colors = plt.cm.tab10(types % 10)
    psi = _per_level(results["psi_learned"], results["sender_scale"])
    psi_true = _per_level(results["psi_true"], results["sender_level_true"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    step = max(1, n // 200)
    first_of_type = [int(np.flatnonzero(types == t)[0]) for t in np.unique(types)]
    for j in range(0, n, step):
        axes[0].plot(xs, psi[j], color=colors[j], lw=0.5, alpha=0.5)
    for j in first_of_type:
        axes[0].plot(xs, psi_true[j], color="gray", lw=2, ls="--")
    axes[0].set_title("ψ*_j / m*_j per sender over the true ψ_j / m_j (grey)")
    axes[0].set_xlabel("u")
    if "phi_learned" in results:
        for i in range(0, n, step):
            axes[1].plot(xs, results["phi_learned"][i], color=colors[i], lw=0.5, alpha=0.5)
        for i in first_of_type:
            axes[1].plot(xs, results["phi_true"][i], color="gray", lw=2, ls="--")
        axes[1].set_title("φ* per neuron over the true update (grey)")
    else:
        axes[1].set_title("φ*: generic update (not drawn)")
    axes[1].set_xlabel("u")
    save(fig, path)


def plot_embeddings(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    emb, types = results["embeddings"], results["types"]
    fig, ax = plt.subplots(figsize=(5, 5))
    y = emb[:, 1] if emb.shape[1] > 1 else np.zeros(len(emb))
    for t in np.unique(types):
        sel = types == t
        ax.scatter(emb[sel, 0], y[sel], s=8, label=f"type {t}", color=plt.cm.tab10(t % 10))
    acc = metrics.get("cluster_accuracy")
    ax.set_title("embeddings a_i" + (f": cluster accuracy {acc:.3f}" if acc is not None else ""))
    ax.legend(fontsize=8, markerscale=2)
    save(fig, path)


def plot_activity(arrays, path: Path, n_show: int = 20, n_frames: int = 2000) -> None:
    u = arrays["u"][:n_frames]
    fig, ax = plt.subplots(figsize=(9, 4))
    idx = np.linspace(0, u.shape[1] - 1, min(n_show, u.shape[1])).astype(int)
    offset = 2.5 * float(np.std(u)) or 1.0
    for k, i in enumerate(idx):
        ax.plot(u[:, i] + k * offset, lw=0.6, color="k")
    ax.set_xlabel("frame")
    ax.set_yticks([])
    ax.set_title(f"activity of {len(idx)} neurons (offset)")
    save(fig, path)


def plot_rollout(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    plot_rollout_traces(
        results["rollout_true"], results["rollout_pred"], path, var="u", truth_label="truth (noise-free)",
        title=f"free rollout: test_R2 = {metrics.get('test_R2', float('nan')):.3f}, "
        f"test_pearson = {metrics.get('test_pearson', float('nan')):.3f}",
    )


def plot_field(arrays, results, metrics, path: Path, n_show: int = 4) -> None:
    true, learned = arrays["e"], results["e_learned"]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    driven = np.flatnonzero(true.std(axis=0) > 0)
    if driven.size == 0:
        driven = np.arange(learned.shape[1])
    for k, i in enumerate(driven[np.linspace(0, driven.size - 1, min(n_show, driven.size)).astype(int)]):
        ax.plot(true[:, i], color=plt.cm.tab10(k), lw=1)
        ax.plot(learned[:, i], color=plt.cm.tab10(k), lw=1, ls="--")
    ax.set_title(f"input field: true (solid) vs learned (dashed), field_R2 = {metrics.get('field_R2', float('nan')):.3f}")
    ax.set_xlabel("frame")
    save(fig, path)


def plot_all(
    arrays: Mapping[str, np.ndarray], results: Mapping[str, np.ndarray], metrics: Mapping[str, Any],
    history: Mapping[str, list], plot_dir: Path,
) -> None:
    """Every figure of a run, from the dataset and results.npz."""
    plot_dir.mkdir(parents=True, exist_ok=True)
    plot_loss(history, plot_dir / "loss.png")
    plot_connectivity_scatter(results, metrics, plot_dir / "connectivity_scatter.png")
    plot_connectivity_maps(results, plot_dir / "connectivity_matrix.png")
    plot_functions(results, plot_dir / "functions.png")
    plot_embeddings(results, metrics, plot_dir / "embeddings.png")
    plot_activity(arrays, plot_dir / "activity.png")
    plot_rollout(results, metrics, plot_dir / "rollout.png")
    if "e_learned" in results:
        plot_field(arrays, results, metrics, plot_dir / "field.png")
