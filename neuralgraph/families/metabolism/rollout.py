r"""Free rollouts of the learned model (and of the truth) on held-out runs, and their scores.

Every rollout uses the simulator's Euler scheme (:mod:`neuralgraph.integrate`): ``substeps`` steps
of Δt/substeps per frame, concentrations clamped at 0 after each step, with the number of substeps
the dataset was simulated with (:func:`.simulate.substeps_used`: the simulator refines the
configured minimum where the drawn rates need it).

- ``test_R2`` / ``test_pearson`` — rollouts of ``test_window`` frames started from the true state
  at ``test_n_windows`` evenly spaced frames of each held-out run, scored trace by trace (identity
  R², Pearson) against the noise-free truth and averaged over metabolites, windows and runs.
  Windows, because these regimes are chaotic: a relative change of 1e-6 in c(0) decorrelates the
  truth from itself within a few thousand frames.
- ``test_R2_full`` / ``test_pearson_full`` — one rollout over the whole held-out run from frame 0.
- ``rollout_horizon`` — frames until the snapshot R² of that rollout first drops below 0.9;
  ``rollout_horizon_truth`` — the same for the truth started from c(0)·(1 + 10⁻⁶ ξ).
- ``test_deriv_R2`` — one-step derivatives on the held-out runs (blind to process noise).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from neuralgraph.families.metabolism.config import MetabolismEvaluation, MetabolismSimulation
from neuralgraph.families.metabolism.model import MetabolismGNN
from neuralgraph.families.metabolism.simulate import TrueSystem, n_trials, nonnegative, substeps_used
from neuralgraph.integrate import euler, trajectory
from neuralgraph.metrics import r2_score, trace_pearson, trace_r2

#: A diverging model rollout is capped here (and NaN replaced by it) so that scores stay finite.
C_MAX = 1e6


def rollout(model: MetabolismGNN, c0: torch.Tensor, n_frames: int, dt: float, substeps: int) -> torch.Tensor:
    """Model rollout from c0 (runs, N): states (runs, n_frames + 1, N), frame 0 = c0."""
    out = torch.empty((c0.shape[0], n_frames + 1, c0.shape[1]), device=c0.device)

    def record(i: int, c: torch.Tensor, dc: torch.Tensor) -> None:
        out[:, i] = c

    with torch.no_grad():
        euler(
            lambda c, t: model.derivative(c), c0, n_frames + 1, dt, substeps=substeps,
            project=lambda c: torch.clamp(c, min=0.0, max=C_MAX),
            after_frame=lambda c, t: torch.nan_to_num(c, nan=C_MAX), record=record,
        )
    return out


def truth_rollout(
    arrays: Mapping[str, np.ndarray], sim: MetabolismSimulation, c0: np.ndarray, rel: float = 1e-6,
) -> np.ndarray:
    """The true system from c0·(1 + rel·ξ), as many frames as a run: how fast the truth forgets c0."""
    substeps = substeps_used(arrays, sim)
    h = float(sim.delta_t) / substeps
    system = TrueSystem.from_arrays(arrays, h if sim.flux_limit else None)
    xi = np.random.default_rng(0).standard_normal(c0.shape)
    c = (c0.astype(np.float64) * (1 + rel * xi))[None]
    states, _, _ = trajectory(system, c, arrays["x"].shape[1], float(sim.delta_t), substeps=substeps,
                              project=nonnegative)
    return states[:, 0]


def horizon(true: np.ndarray, pred: np.ndarray, threshold: float = 0.9) -> int:
    """Frames until the snapshot R² over nodes first drops below ``threshold`` (length if never)."""
    for t in range(true.shape[0]):
        if r2_score(true[t], pred[t]) < threshold:
            return t
    return int(true.shape[0])


def rollout_scores(
    model: MetabolismGNN, arrays: Mapping[str, np.ndarray], sim: MetabolismSimulation,
    evaluation: MetabolismEvaluation, device: torch.device,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The scores of the module docstring on the held-out runs (the first training run when there are none)."""
    runs = list(range(n_trials(arrays), arrays["x"].shape[0])) or [0]
    x_true = arrays["x_clean"][runs]
    dt, substeps = float(sim.delta_t), substeps_used(arrays, sim)
    n_states = x_true.shape[1]
    window = min(evaluation.test_window, n_states - 1)
    starts = np.linspace(0, n_states - 1 - window, max(1, evaluation.test_n_windows)).astype(int)
    c0 = torch.as_tensor(x_true[:, starts].reshape(-1, x_true.shape[2]), device=device)
    windows = rollout(model, c0, window, dt, substeps).cpu().numpy().reshape(len(runs), len(starts), window + 1, -1)
    truth_windows = np.stack([[x_true[r, s0 : s0 + window + 1] for s0 in starts] for r in range(len(runs))])
    pairs = [(truth_windows[r, w], windows[r, w]) for r in range(len(runs)) for w in range(len(starts))]
    metrics: dict[str, Any] = {}
    metrics["test_R2"] = float(np.mean([trace_r2(t_, p_) for t_, p_ in pairs]))
    metrics["test_pearson"] = float(np.mean([trace_pearson(t_, p_) for t_, p_ in pairs]))
    pred = rollout(model, torch.as_tensor(x_true[:, 0], device=device), n_states - 1, dt, substeps).cpu().numpy()
    metrics["test_R2_full"] = float(np.mean([trace_r2(x_true[r], pred[r]) for r in range(len(runs))]))
    metrics["test_pearson_full"] = float(np.mean([trace_pearson(x_true[r], pred[r]) for r in range(len(runs))]))
    metrics["rollout_horizon"] = horizon(x_true[0], pred[0])
    metrics["rollout_horizon_truth"] = horizon(x_true[0], truth_rollout(arrays, sim, x_true[0, 0]))
    # One-step derivatives on the held-out runs: unaffected by process noise, which no
    # deterministic rollout can follow.
    with torch.no_grad():
        y_pred = model.derivative(torch.as_tensor(arrays["x"][runs].reshape(-1, x_true.shape[2]), device=device))
    y_pred = y_pred.cpu().numpy().reshape(len(runs), n_states, -1)
    metrics["test_deriv_R2"] = float(np.mean([trace_r2(arrays["y"][r], y_pred[i]) for i, r in enumerate(runs)]))
    return metrics, {"rollout_true": x_true[0], "rollout_pred": pred[0]}
