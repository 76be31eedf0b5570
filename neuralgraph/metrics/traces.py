r"""Rollout quality: per-node traces of a free rollout against the truth.

Both scores weight each trace by how much it moves, so that what they say matches what a plot of
the traces shows. With an unweighted mean over traces, a nearly flat trace (a metabolite parked at
its baseline, a silent neuron) whose tiny wiggle the model misses scores R²_i ≪ 0 and can drag the
mean below zero while every trace that visibly moves is followed. With SS_i = Σ_t (x_it − x̄_i)²:

    trace_r2      = 1 − Σ_i Σ_t (x̂_it − x_it)² / Σ_i SS_i          (sklearn's "variance_weighted")
    trace_pearson = Σ_i SS_i r_i / Σ_i SS_i,   r_i the Pearson r of trace i

Constant true traces (SS_i = 0) carry no weight; a constant predicted trace has r_i = 0.
"""

from __future__ import annotations

import numpy as np


def _centred(true: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    true = np.asarray(true, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    return true, pred, true - true.mean(axis=0), pred - pred.mean(axis=0)


def trace_r2(true: np.ndarray, pred: np.ndarray) -> float:
    """Variance-weighted identity R² over the traces of (frames, nodes) arrays (module docstring)."""
    true, pred, dt, _ = _centred(true, pred)
    ss_tot = np.sum(dt * dt)
    if ss_tot == 0:
        return float("nan")
    return float(1.0 - np.sum((pred - true) ** 2) / ss_tot)


def trace_pearson(true: np.ndarray, pred: np.ndarray) -> float:
    """Variance-weighted mean of the per-trace Pearson r (module docstring)."""
    _, _, dt, dp = _centred(true, pred)
    ss_true = np.sum(dt * dt, axis=0)
    ss_pred = np.sum(dp * dp, axis=0)
    if not (ss_true > 0).any():
        return float("nan")
    denom = np.sqrt(ss_true * ss_pred)
    r = np.divide(np.sum(dt * dp, axis=0), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(np.sum(ss_true * r) / np.sum(ss_true))
