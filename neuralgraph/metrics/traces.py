"""Rollout quality: per-node traces of a free rollout against the truth."""

from __future__ import annotations

import numpy as np


def trace_r2(true: np.ndarray, pred: np.ndarray) -> float:
    """Mean over nodes of the identity R² of each trace; ``true``/``pred`` are (frames, nodes).

    Nodes whose true trace is constant are skipped (their R² is undefined).
    """
    true = np.asarray(true, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    ss_tot = np.sum((true - true.mean(axis=0)) ** 2, axis=0)
    ss_res = np.sum((pred - true) ** 2, axis=0)
    ok = ss_tot > 0
    if not ok.any():
        return float("nan")
    return float(np.mean(1.0 - ss_res[ok] / ss_tot[ok]))


def trace_pearson(true: np.ndarray, pred: np.ndarray) -> float:
    """Mean over nodes of the Pearson correlation of each trace (constant traces skipped)."""
    true = np.asarray(true, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    dt = true - true.mean(axis=0)
    dp = pred - pred.mean(axis=0)
    denom = np.sqrt(np.sum(dt * dt, axis=0) * np.sum(dp * dp, axis=0))
    ok = denom > 0
    if not ok.any():
        return float("nan")
    return float(np.mean(np.sum(dt * dp, axis=0)[ok] / denom[ok]))
