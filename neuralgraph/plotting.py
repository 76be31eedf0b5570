"""Figure helpers shared by the families."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import matplotlib

# Figures are written to files, so a run needs no window system; a notebook or a user who chose a
# backend (MPLBACKEND, as ipykernel sets it) keeps theirs and still sees the figures.
if "MPLBACKEND" not in os.environ:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neuralgraph.io import atomic_path  # noqa: E402


def save(fig: plt.Figure, path: Path) -> None:
    """Save atomically as PNG and close the figure."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_loss(history: Mapping[str, list], path: Path) -> None:
    """Prediction loss and total regularisation against the gradient step (log scale)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    steps = np.asarray(history.get("step", []))
    if steps.size:
        ax.plot(steps, history["loss"], color="tab:blue", lw=2, label="prediction (normalised MSE)")
        reg = np.asarray(history.get("regularization", []))
        if np.any(reg > 0):
            ax.plot(steps, reg, color="tab:cyan", label="regularisation")
        for key, values in history.items():
            if key.startswith("reg_"):
                ax.plot(steps[: len(values)], values, lw=0.8, ls="--", label=key[4:])
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    ax.set_xlabel("gradient step")
    ax.set_ylabel("loss")
    ax.set_title("training loss")
    save(fig, path)


def scatter_true_learned(
    ax: plt.Axes, true: np.ndarray, learned: np.ndarray, label: str, highlight: np.ndarray | None = None,
    title: str = "",
) -> None:
    """Learned against true with the identity line; ``highlight`` marks points drawn apart (red x)."""
    true, learned = np.asarray(true), np.asarray(learned)
    keep = np.ones_like(true, dtype=bool) if highlight is None else ~highlight
    ax.scatter(true[keep], learned[keep], s=10, alpha=0.7, color="tab:blue", label="scored")
    if highlight is not None and highlight.any():
        ax.scatter(true[highlight], learned[highlight], s=30, marker="x", color="tab:red", label="not identifiable")
    lo = np.nanmin(np.concatenate([true, learned]))
    hi = np.nanmax(np.concatenate([true, learned]))
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, ls="--")
    ax.set_xlabel(f"true {label}")
    ax.set_ylabel(f"learned {label}")
    ax.set_title(title)
    ax.legend(fontsize=8)


def plot_rollout_traces(
    true: np.ndarray, pred: np.ndarray, path: Path, title: str, var: str, truth_label: str = "truth",
    n_show: int = 6,
) -> None:
    """The ``n_show`` most active traces (frames × nodes) of a rollout against the truth."""
    order = np.argsort(true.std(axis=0))[::-1][:n_show]
    fig, axes = plt.subplots(len(order), 1, figsize=(8, 1.35 * len(order)), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, i in zip(axes, order):
        ax.plot(true[:, i], color="k", lw=1, label=truth_label)
        ax.plot(pred[:, i], color="tab:orange", lw=1, ls="--", label="model rollout")
        ax.set_ylabel(f"{var}[{i}]", fontsize=8)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[0].set_title(title)
    axes[-1].set_xlabel("frame")
    save(fig, path)
