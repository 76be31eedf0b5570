r"""The neural signal family: recover W, neuron types and transfer functions from activity.

Simulator: :mod:`~neuralgraph.families.signal.simulate`; model: :mod:`~neuralgraph.families.signal.model`;
metrics and ``results.npz``: :mod:`~neuralgraph.families.signal.evaluate`; figures:
:mod:`~neuralgraph.families.signal.plots`. This module is the glue the trainer calls.

Regularisers (each already multiplied by its ``training.coeff_*``):

- ``W_L1`` = λ₁ mean|W_ij| (λ₁ = ``first_coeff_L1`` during the first ``n_epochs_init`` epochs),
  ``W_L2`` = λ mean W_ij²;
- ``W_sign`` (Dale) = λ mean relu(−s_j W_ij), s_j the detached sign of column j's sum, from
  ``W_sign_start_epoch`` epochs of training progress on;
- ``edge_diff`` = λ mean relu(ψ*(u) − ψ*(u + 0.02·x_scale))²: ψ* monotone;
- ``edge_norm`` = λ mean (ψ*_j(``edge_norm_at``·x_scale) − 1)²: pins the scale of ψ*;
- ``phi_zero`` = λ mean φ*(0, a_i)²;
- ``update_diff`` (generic update) = λ mean relu(φ*(M) − φ*(M + δ))²: φ* monotone in the message;
- ``{edge,phi}_weight_{L1,L2}`` = λ Σ|w| or λ Σw² over the weights of ψ* (edge) or φ*.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from neuralgraph.config.base import RunConfig
from neuralgraph.errors import ConfigError
from neuralgraph.families.signal import simulate as sim_signal
from neuralgraph.families.signal.config import (
    FieldModel, InputMode, InputType, SignalSimulation, SignalTraining, UpdateType,
)
from neuralgraph.families.signal.evaluate import evaluate
from neuralgraph.families.signal.model import SignalGNN
from neuralgraph.families.signal.prediction import SignalPredictionScorer
from neuralgraph.families.signal.solve import SignalWeightSolver
from neuralgraph.family import Family, Observed, TrainClock, TrainData, adam_group, steps_per_epoch
from neuralgraph.metrics.regression import linear_fit


def build_model(arrays: Mapping[str, np.ndarray], cfg: RunConfig) -> SignalGNN:
    """The GNN for these arrays and config (on the CPU; the caller moves it).

    N and the activity scale come from the data; a known graph (``mask``, N×N, from a recording's
    graph file) fixes which W_ij may be non-zero.
    """
    sim = cfg.simulation
    u = arrays["u"]
    n = u.shape[1]
    if cfg.model.factorization and not 1 <= cfg.model.low_rank <= n:
        raise ConfigError(f"model.low_rank={cfg.model.low_rank} must be in [1, N={n}] (the data's neurons)")
    visual = sim.external_input_type == InputType.visual
    model = SignalGNN(
        cfg.model, n_neurons=n, x_scale=float(np.std(u)) or 1.0,
        input_mode=sim.external_input_mode if "e" in arrays else None,
        n_input=sim_signal.n_input_neurons(sim) if visual else n, n_frames=u.shape[0],
    )
    if "mask" in arrays:
        model.mask.copy_(torch.as_tensor(arrays["mask"], dtype=torch.float32) * model.mask)
        if not model.factorization:
            with torch.no_grad():
                model.W.mul_(model.mask)
    return model


#: The target scale never drops below this fraction of std(u)/Δt (a derivative that moves the
#: activity by 10⁻⁴ of its spread per frame).
MIN_TARGET_SCALE = 1e-4


def target_scale(du_std: float, arrays: Mapping[str, np.ndarray]) -> float:
    """``du_std`` (the std of du/dt), floored at :data:`MIN_TARGET_SCALE`·std(u)/Δt (1 when both are 0).

    Activity that settles to a fixed point has du/dt ≈ 10⁻¹⁵: dividing the residual by that
    makes the first loss ~10²⁶ and the run "diverges", blaming the optimiser for the data. With
    the floor the run trains, and the oracle (``target_motion``) reports the data as settled.
    """
    floor = MIN_TARGET_SCALE * float(np.std(arrays["u"])) / float(arrays["delta_t"])
    return max(du_std, floor) or 1.0


def training_progress(clock: TrainClock) -> float:
    """Training progress in epochs, as the Dale sign term has always read it.

    Earlier versions counted regulariser calls (1 at the first step) and took the fraction of an
    epoch from that count modulo the steps per epoch, so the fraction is (step + 1) mod n / n and
    falls back to 0 on an epoch's last step. Kept exactly, so runs stay bit-identical.
    """
    n = clock.steps_per_epoch
    return clock.epoch + ((clock.step + 1) % n) / n


def weight_penalties(net: torch.nn.Module, key: str, t: SignalTraining) -> dict[str, torch.Tensor]:
    """L1 / L2 on the weight matrices of ψ* (key ``edge``) or φ* (key ``phi``)."""
    terms: dict[str, torch.Tensor] = {}
    c1, c2 = getattr(t, f"coeff_{key}_weight_L1"), getattr(t, f"coeff_{key}_weight_L2")
    if c1 > 0:
        terms[f"{key}_weight_L1"] = c1 * sum(p.abs().sum() for n_, p in net.named_parameters() if "weight" in n_)
    if c2 > 0:
        terms[f"{key}_weight_L2"] = c2 * sum(p.pow(2).sum() for n_, p in net.named_parameters() if "weight" in n_)
    return terms


def connectivity_penalties(model: SignalGNN, t: SignalTraining, clock: TrainClock) -> dict[str, torch.Tensor]:
    """``W_L1``, ``W_L2`` and the Dale sign term ``W_sign``."""
    terms: dict[str, torch.Tensor] = {}
    need_W = t.coeff_W_L1 > 0 or t.first_coeff_L1 > 0 or t.coeff_W_L2 > 0 or t.coeff_W_sign > 0
    W = model.weight() if need_W else None
    l1 = t.first_coeff_L1 if clock.epoch < t.n_epochs_init else t.coeff_W_L1
    if l1 > 0:
        terms["W_L1"] = l1 * W.abs().mean()
    if t.coeff_W_L2 > 0:
        terms["W_L2"] = t.coeff_W_L2 * W.pow(2).mean()
    if t.coeff_W_sign > 0 and training_progress(clock) >= t.W_sign_start_epoch:
        # Sign of each presynaptic column, by its sum (detached): minority entries are pulled to 0.
        col_sign = torch.sign(W.detach().sum(dim=0, keepdim=True))
        terms["W_sign"] = t.coeff_W_sign * torch.relu(-col_sign * W).mean()
    return terms


def function_penalties(
    model: SignalGNN, batch: Mapping[str, torch.Tensor], t: SignalTraining,
) -> dict[str, torch.Tensor]:
    """Shape constraints on ψ* and φ*: monotone, pinned scale, zero at rest."""
    terms: dict[str, torch.Tensor] = {}
    frames = slice(0, t.penalty_frames or None)
    u = batch["x"][frames]
    if t.coeff_edge_diff > 0:
        x = u.detach()
        step = 0.02 * model.x_scale  # x_norm/150 with x_norm = 1.5 std, as in the reference
        lower, upper = model.psi_nodes(x), model.psi_nodes(x + step)
        terms["edge_diff"] = t.coeff_edge_diff * torch.relu(lower - upper).pow(2).mean()
    if t.coeff_edge_norm > 0:
        at = torch.full((1, model.n), float(t.edge_norm_at), device=u.device) * model.x_scale
        terms["edge_norm"] = t.coeff_edge_norm * (model.psi_nodes(at) - 1.0).pow(2).mean()
    if t.coeff_phi_zero > 0:
        zero = torch.zeros((1, model.n), device=u.device)
        terms["phi_zero"] = t.coeff_phi_zero * model.phi_nodes(zero).pow(2).mean()
    if t.coeff_update_diff > 0 and model.update_type == UpdateType.generic:
        x = u.detach()
        msg = model.message(x).detach()
        dm = 0.02 * (msg.std() + 1e-6)
        e = model.input_at({key: value[frames] for key, value in batch.items()})
        lo, hi = model.phi_nodes(x, msg, e), model.phi_nodes(x, msg + dm, e)
        terms["update_diff"] = t.coeff_update_diff * torch.relu(lo - hi).pow(2).mean()
    return terms


class SignalFamily(Family):
    name = "signal"
    truth_free = SignalPredictionScorer()
    observed = Observed(state="u", derivative="du", bounds="trial_bounds")

    def check(self, cfg: RunConfig) -> None:
        sim, m = cfg.simulation, cfg.model
        if m.field_type != FieldModel.none and sim.external_input_type == InputType.none:
            raise ConfigError("model.field_type needs an external input (simulation.external_input_type)")
        if cfg.training.W_solve_every > 0:
            blocked = [why for why, bad in (
                ("model.factorization=true (W = WL WR is not linear in one matrix)", m.factorization),
                ("model.update_type=generic (phi* reads the message)", m.update_type == UpdateType.generic),
                ("a multiplicative input", sim.external_input_type != InputType.none
                 and sim.external_input_mode == InputMode.multiplicative),
            ) if bad]
            if blocked:
                raise ConfigError(f"training.W_solve_every needs a model linear in W; set it to 0 or change: "
                                  f"{'; '.join(blocked)}")

    # ---- data and model ----------------------------------------------------------------------

    def simulate(self, sim: SignalSimulation) -> dict[str, np.ndarray]:
        return sim_signal.simulate(sim)

    def build(
        self, arrays: Mapping[str, np.ndarray], cfg: RunConfig, device: torch.device,
    ) -> tuple[SignalGNN, TrainData]:
        model = build_model(arrays, cfg).to(device)
        u = torch.as_tensor(arrays["u"], dtype=torch.float32, device=device)
        du = torch.as_tensor(arrays["du"], dtype=torch.float32, device=device)
        n = u.shape[1]
        if cfg.training.normalize_targets:
            scale = torch.full((n,), target_scale(float(du.std()), arrays), device=device)
        else:
            scale = torch.ones(n, device=device)
        extras = {}
        if "e" in arrays and model.field is None:
            extras["e"] = torch.as_tensor(arrays["e"], dtype=torch.float32, device=device)
        data = TrainData(x=u, y=du, target_scale=scale, extras=extras)
        t = cfg.training
        if t.W_solve_every > 0:
            # The step count travels in the state dict (a resumed run solves where a whole one does).
            model.register_buffer("solver_step", torch.zeros((), dtype=torch.long, device=device))
            total = steps_per_epoch(u.shape[0], t.data_augmentation_loop, t.batch_size) * t.n_epochs
            data.after_step.append(SignalWeightSolver(u, du, extras.get("e"), t.W_solve_every, total).after_step)
        return model, data

    def param_groups(self, model: SignalGNN, training: SignalTraining) -> list[dict[str, Any]]:
        t = training
        W_params = [model.WL, model.WR] if model.factorization else [model.W]
        groups = [
            adam_group("W", W_params, t.lr_W, t.lr),
            adam_group("psi", model.psi.parameters(), t.lr, t.lr),
            adam_group("phi", model.phi.parameters(), t.lr_update, t.lr),
            adam_group("embedding", [model.a], t.lr_embedding, t.lr),
        ]
        if model.field is not None:
            groups.append(adam_group("field", model.field.parameters(), t.lr_field, t.lr))
        return groups

    def regularizers(
        self, model: SignalGNN, batch: Mapping[str, torch.Tensor], pred: torch.Tensor,
        training: SignalTraining, clock: TrainClock,
    ) -> dict[str, torch.Tensor]:
        return {
            **connectivity_penalties(model, training, clock),
            **function_penalties(model, batch, training),
            **weight_penalties(model.psi, "edge", training),
            **weight_penalties(model.phi, "phi", training),
        }

    def after_step(self, model: SignalGNN, training: SignalTraining) -> None:
        if not model.factorization:
            with torch.no_grad():
                model.W.mul_(model.mask)

    # ---- evaluation and figures ----------------------------------------------------------------

    def live_metric(self, model: SignalGNN, arrays: Mapping[str, np.ndarray]) -> float:
        """Raw connectivity R² (scale-free), on at most 10⁶ entries."""
        with torch.no_grad():
            W = model.weight().detach().cpu().numpy().ravel()
        true = arrays["W"].ravel()
        if true.size > 1_000_000:
            idx = np.random.default_rng(0).choice(true.size, 1_000_000, replace=False)
            true, W = true[idx], W[idx]
        return linear_fit(true, W).r2

    def evaluate(
        self, model: SignalGNN, arrays: Mapping[str, np.ndarray], cfg: RunConfig, device: torch.device,
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return evaluate(model, arrays, cfg)

    def plot(
        self, arrays: Mapping[str, np.ndarray], results: Mapping[str, np.ndarray], metrics: Mapping[str, Any],
        history: Mapping[str, list], plot_dir: Path, cfg: RunConfig,
    ) -> None:
        # Imported here: matplotlib's file backend must not be forced on a notebook that only
        # simulates or trains.
        from neuralgraph.families.signal.plots import plot_all

        plot_all(arrays, results, metrics, history, Path(plot_dir))


#: The instance :func:`neuralgraph.family.get_family` returns.
FAMILY = SignalFamily()
