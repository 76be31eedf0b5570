"""Snapshot R² of a free rollout, as the users' test_R2 defines it.

For one snapshot (the N activities at one frame) of the truth t and the rollout p:

1. keep the points within 3σ of the median in both axes (|t − median t| ≤ 3 std t and the same
   for p);
2. fit the least-squares line p ≈ a·t + b on the kept points;
3. R² = 1 − Σ(p − (a t + b))² / Σ(p − mean p)² over **all** points, with that line.

A snapshot whose rollout has collapsed (std p < 0.1·std t) or exploded (any |p| > 1e10 or a
non-finite value) scores 0. ``rollout_r2`` is the mean over snapshots.
"""

from __future__ import annotations

import numpy as np


def snapshot_r2(true: np.ndarray, pred: np.ndarray) -> float:
    t = np.asarray(true, dtype=np.float64).ravel()
    p = np.asarray(pred, dtype=np.float64).ravel()
    if not np.all(np.isfinite(p)) or np.any(np.abs(p) > 1e10) or np.std(p) < 0.1 * np.std(t):
        return 0.0
    keep = (np.abs(t - np.median(t)) <= 3 * np.std(t)) & (np.abs(p - np.median(p)) <= 3 * np.std(p))
    if keep.sum() < 2 or np.std(t[keep]) == 0:
        return 0.0
    tk, pk = t[keep], p[keep]
    a = np.sum((tk - tk.mean()) * (pk - pk.mean())) / np.sum((tk - tk.mean()) ** 2)
    b = pk.mean() - a * tk.mean()
    ss_tot = np.sum((p - p.mean()) ** 2)
    if ss_tot == 0:
        return 0.0
    return float(1.0 - np.sum((p - (a * t + b)) ** 2) / ss_tot)


def rollout_r2(true: np.ndarray, pred: np.ndarray, every: int = 10) -> float:
    """Mean snapshot R² over frames every, 2·every, … of (frames, N) arrays (frame 0 excluded)."""
    frames = range(every, min(len(true), len(pred)), every)
    scores = [snapshot_r2(true[f], pred[f]) for f in frames]
    return float(np.mean(scores)) if scores else float("nan")


def rollout_horizon(true: np.ndarray, pred: np.ndarray, threshold: float = 0.9, every: int = 10) -> int:
    """First checked frame (every ``every`` frames) whose snapshot R² falls below ``threshold``.

    The number of frames compared when it never does. For chaotic dynamics, compare the model's
    horizon with the truth's own (the truth against itself from a slightly perturbed start): a
    model cannot predict further than the system's sensitivity to its initial state allows.
    """
    n = min(len(true), len(pred))
    for f in range(every, n, every):
        if snapshot_r2(true[f], pred[f]) < threshold:
            return f
    return n
