"""Figures of the fly visual system family, drawn from the arrays of ``results.npz`` (never the model).

The recovery scatter shows ``W_corrected`` (the scale-corrected weight ``connectivity_R2`` scores),
not the raw ``W_learned``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from neuralgraph.plotting import plot_loss, save

import matplotlib.pyplot as plt  # noqa: E402  (neuralgraph.plotting selects the Agg backend first)


def _scatter(ax, true, learned, label: str, r2: Any, max_points: int = 20000, seed: int = 0,
             learned_label: str | None = None, excluded: np.ndarray | None = None) -> None:
    true, learned = np.asarray(true), np.asarray(learned)
    excluded = np.zeros(true.shape, dtype=bool) if excluded is None else np.asarray(excluded)
    if true.size > max_points:
        keep = np.random.default_rng(seed).choice(true.size, max_points, replace=False)
        true, learned, excluded = true[keep], learned[keep], excluded[keep]
    ax.scatter(true[~excluded], learned[~excluded], s=3, alpha=0.4, color="tab:blue", rasterized=True, label="scored")
    if excluded.any():
        ax.scatter(true[excluded], learned[excluded], s=6, marker="x", color="tab:red", alpha=0.6,
                   rasterized=True, label="not identifiable (silent sender)")
        ax.legend(fontsize=7)
    lo = float(np.nanmin(np.concatenate([true, learned])))
    hi = float(np.nanmax(np.concatenate([true, learned])))
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, ls="--")
    ax.set_xlabel(f"true {label}")
    ax.set_ylabel(f"learned {learned_label or label}")
    r2_text = f"{r2:.3f}" if isinstance(r2, (float, int)) and np.isfinite(r2) else "n/a"
    ax.set_title(f"{label}: R² = {r2_text}")


def plot_scatters(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    _scatter(axes[0], results["W_true"], results["W_corrected"], "W", metrics.get("connectivity_R2"),
             learned_label="W (scale-corrected)", excluded=None if "W_identifiable" not in results
             else ~np.asarray(results["W_identifiable"], dtype=bool))
    _scatter(axes[1], results["tau_true"], results["tau_learned"], "τ", metrics.get("tau_R2"))
    _scatter(axes[2], results["V_rest_true"], results["V_rest_learned"], "V_rest", metrics.get("V_rest_R2"))
    save(fig, path)


def plot_embeddings(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    emb = np.asarray(results["embeddings"])
    types = np.asarray(results["types"])
    fig, ax = plt.subplots(figsize=(6.5, 6))
    cmap = plt.get_cmap("nipy_spectral")
    n_types = int(types.max()) + 1 if types.size else 1
    ax.scatter(emb[:, 0], emb[:, 1] if emb.shape[1] > 1 else np.zeros(len(emb)), s=3,
               c=cmap(types / max(1, n_types - 1)), alpha=0.6, rasterized=True)
    acc = metrics.get("cluster_accuracy")
    acc_text = f"{acc:.3f}" if isinstance(acc, float) else "n/a"
    ax.set_title(f"embeddings a_i coloured by true cell type (cluster accuracy {acc_text})")
    ax.set_xlabel("a_0")
    ax.set_ylabel("a_1")
    save(fig, path)


def plot_functions(results: Mapping[str, np.ndarray], path: Path) -> None:
    """f_θ(v, a, 0, 0) and g_φ(v, a)² for one neuron of each cell type."""
    v = np.asarray(results["curve_v"])
    f = np.asarray(results["curve_f"])
    g = np.asarray(results["curve_g"])
    n = f.shape[0]
    cmap = plt.get_cmap("nipy_spectral")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for k in range(n):
        colour = cmap(k / max(1, n - 1))
        axes[0].plot(v, f[k], color=colour, lw=0.8)
        axes[1].plot(v, g[k], color=colour, lw=0.8)
    axes[1].plot(v, np.maximum(v, 0), color="k", ls="--", lw=1.2, label="ReLU(v) (truth, up to scale)")
    axes[0].set_title("f_θ(v, a, m=0, e=0) per cell type (truth: (−v + V_rest)/τ)")
    axes[1].set_title("g_φ(v, a)² per cell type")
    for ax in axes:
        ax.set_xlabel("v")
    axes[1].legend(fontsize=8)
    save(fig, path)


def plot_field(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    """True luminance next to the learned field, columns × frames."""
    true = np.asarray(results["field_true"])
    pred = np.asarray(results["field_learned"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    axes[0].imshow(true.T, aspect="auto", cmap="gray", interpolation="nearest")
    axes[0].set_title("true stimulus (columns × frames)")
    axes[1].imshow(pred.T, aspect="auto", cmap="gray", interpolation="nearest")
    r2 = metrics.get("field_R2")
    axes[1].set_title(f"learned field Ω² (field_R2 {r2:.3f})" if isinstance(r2, float) else "learned field Ω²")
    for ax in axes:
        ax.set_xlabel("frame (step 2)")
        ax.set_ylabel("column")
    save(fig, path)


def plot_rollout(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], path: Path) -> None:
    true = np.asarray(results["rollout_true"])
    pred = np.asarray(results["rollout_pred"])
    k = true.shape[1]
    fig, axes = plt.subplots(k, 1, figsize=(10, 1.3 * k + 1), sharex=True)
    axes = np.atleast_1d(axes)
    for i in range(k):
        axes[i].plot(true[:, i], color="k", lw=1.0, label="truth")
        axes[i].plot(pred[:, i], color="tab:red", lw=0.8, label="rollout")
    axes[0].legend(fontsize=7, loc="upper right")
    r2 = metrics.get("test_R2")
    axes[0].set_title(f"held-out rollout, most active neurons (test_R2 {r2:.3f})" if isinstance(r2, float)
                      else "held-out rollout")
    axes[-1].set_xlabel("frame")
    save(fig, path)


def plot_all(results: Mapping[str, np.ndarray], metrics: Mapping[str, Any], history: Mapping[str, list],
             plot_dir: Path) -> None:
    plot_dir = Path(plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    plot_loss(history, plot_dir / "loss.png")
    plot_scatters(results, metrics, plot_dir / "recovery.png")
    plot_embeddings(results, metrics, plot_dir / "embeddings.png")
    plot_functions(results, plot_dir / "functions.png")
    plot_rollout(results, metrics, plot_dir / "rollout.png")
    if "field_true" in results:
        plot_field(results, metrics, plot_dir / "field.png")
