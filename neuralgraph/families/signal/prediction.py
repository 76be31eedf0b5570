r"""The signal family's scorer of data without a ground truth (a recording).

``python -m neuralgraph.train +regime=signal_recording data.path=FILE`` trains the same GNN as a
simulated run (the family's learner),

    du_i/dt ≈ φ*(u_i, a_i) + Σ_{j≠i} W_ij ψ*(u_j[, a_j])  (+ e_i, the file's stimulus)

on the smoothed states and derivatives of :mod:`neuralgraph.recording.prepare` (training
segments only), with the file's known graph (if any) fixing which W_ij may be non-zero. This
scorer needs no truth:

- ``one_step_R2`` (the primary metric and the recording regimes' ``reward_key``) — R² of the
  model's du/dt against the smoothed derivative on the **held-out** frames, pooled over neurons
  (1 − Σ(pred − obs)² / Σ(obs − mean_i obs)²): the one-step prediction u(t + Δt) ≈ u + Δt·du/dt
  on data the fit never saw. ``train_one_step_R2`` is the same on the training frames (a large
  gap means over-fitting);
- ``rollout_R2``, ``rollout_horizon`` — the model integrated freely (Euler, step Δt) from the
  first frame of each held-out segment for at most ``evaluation.n_rollout_frames`` steps, against
  the smoothed held-out activity: the pooled R² above over the rolled-out frames (a model that
  stays where it started scores ≤ 0), and the first frame whose rms error over the neurons
  exceeds half the activity's std, each averaged over the segments; ``rollout_horizon_time`` is
  the horizon in the file's time units. In chaotic activity even the true system loses the
  trajectory after a few time constants: read the horizon there, not the R²;
- ``design_rank``, ``n_weak_neurons``, ``design_condition`` — identifiability of W from these
  data: the singular values of the centred design x_j(t) = ψ*_j(u_j(t)) over the training frames
  (:func:`neuralgraph.metrics.oracle.weak_directions`, at the level σ² = 10⁻⁴ · mean σ² used by
  the simulated oracle); a weak neuron has more than a quarter of its unit vector in the
  directions below it: its outgoing weights are not determined by the data, whatever the learner;
- ``n_clusters`` of the learned embeddings (single linkage at ``evaluation.cluster_threshold``) and,
  when the file gives several types, ``cluster_accuracy`` against them;
- what the data are: ``n_neurons``, ``n_unobserved``, ``n_trials``, ``n_train_frames``,
  ``n_heldout_frames``, ``delta_t``, ``missing_fraction``, ``sampling_spread``,
  ``residual_fraction`` (see :mod:`neuralgraph.recording.prepare`).

The data fix W only up to a scale per sender: (W_ij k_j, ψ*_j / k_j) predicts exactly what
(W_ij, ψ*_j) does, k_j < 0 included. ``W_normalized`` = W_ij k_j with k_j = (ψ*_j(x_norm) −
ψ*_j(−x_norm)) / 2 (``sender_scale``) fixes the convention after training: every sender's transfer
function rises by 2 across [−x_norm, x_norm], so a positive W_ij excites (for a monotone ψ).

``results.npz``: ``W_learned`` (N×N, W[post, pre] in the order of ``neuron_index``, as trained),
``W_normalized`` and ``sender_scale`` (above), ``mask``
(when known), ``embeddings``, ``clusters``, ``types`` (when known), the function curves
``curve_u`` / ``psi_learned`` / ``phi_learned`` / ``x_norm`` (:mod:`.curves`),
``design_singular_values``, ``design_level``, ``weak_share`` (N,), ``du_heldout`` /
``du_heldout_pred`` (at most 2000 frames), ``rollout_observed`` / ``rollout_pred`` (the first
held-out segment), ``neuron_index`` and ``neuron_names`` (the file's column and name of each neuron).

What is not supported, and refused at the start: a learned input field (``model.field_type``);
a reward that needs a truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from neuralgraph.config.base import RunConfig
from neuralgraph.errors import ConfigError
from neuralgraph.families.signal.config import FieldModel
from neuralgraph.families.signal.model import SignalGNN
from neuralgraph.families.signal.recording_metrics import evaluate_recording, one_step_r2
from neuralgraph.family import Scorer

#: Metrics a run without a truth can be rewarded on (the rest need a ground truth).
PREDICTION_METRICS = ("one_step_R2", "rollout_R2", "rollout_horizon", "train_one_step_R2")
#: Held-out frames the live metric (progress bar, learning curves) scores at most.
LIVE_FRAMES = 256


class SignalPredictionScorer(Scorer):
    """Held-out prediction, identifiability of W and clusters: the scores of the module docstring."""

    rewards = PREDICTION_METRICS

    def check_scoring(self, cfg: RunConfig) -> None:
        if cfg.model.field_type != FieldModel.none:
            raise ConfigError("model.field_type learns an unknown input of simulated frames; with data=recording "
                              "give the stimulus in the file (`stimulus`) and set model.field_type=none")
        if cfg.reward_key not in self.rewards:
            raise ConfigError(f"reward_key={cfg.reward_key} needs a ground truth that a recording does not have; "
                              f"use one of {', '.join(self.rewards)} (reward_key=one_step_R2, or "
                              "+regime=signal_recording)")

    def live_metric(self, model: SignalGNN, arrays: Mapping[str, np.ndarray]) -> float:
        """``one_step_R2`` on at most :data:`LIVE_FRAMES` held-out frames."""
        step = max(1, -(-arrays["u_heldout"].shape[0] // LIVE_FRAMES))
        return one_step_r2(model, arrays, "_heldout", step)

    def evaluate(self, model: SignalGNN, arrays: Mapping[str, np.ndarray], cfg: RunConfig,
                 device: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return evaluate_recording(model, arrays, cfg)

    def plot(self, arrays: Mapping[str, np.ndarray], results: Mapping[str, np.ndarray], metrics: Mapping[str, Any],
             history: Mapping[str, list], plot_dir: Path, cfg: RunConfig) -> None:
        from neuralgraph.families.signal.recording_plots import plot_recording

        plot_recording(arrays, results, metrics, history, Path(plot_dir))
