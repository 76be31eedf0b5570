r"""The neural signal family: recover W, neuron types and transfer functions from activity.

Simulator: :mod:`neuralgraph.families.signal.simulate`; model: :mod:`neuralgraph.families.signal.model`.

Metrics written by :meth:`SignalFamily.evaluate` (keys of ``analysis.log``):

- ``connectivity_R2``, ``connectivity_slope`` — least-squares line of the scale-corrected learned
  W against the true W over all N² entries (R² = squared Pearson r; slope 1 = right scale). The
  per-sender scale correction is documented in :mod:`neuralgraph.families.signal.readout`: each
  presynaptic column is multiplied by the learned-to-true amplitude ratio of its transfer
  function on [0.8, 1]·x_norm (x_norm = 1.5·std u; ``training.psi_norm_window``) and each row is
  divided by the true receiver gain g_i.
- ``connectivity_R2_raw``, ``connectivity_slope_raw`` — the same line with the learned W as is.
- ``effective_rank_90`` / ``effective_rank_99`` — smallest number of singular values of the
  uncentred training activity (frames × neurons) holding 90 % / 99 % of Σσ²
  (:func:`neuralgraph.families.signal.simulate.activity_ranks`).
- ``spectral_radius`` — max |λ(W_true)|.
- ``transfer_condition`` — condition number of the centred true presynaptic signals ψ_j(u_j)
  over the training frames (:func:`neuralgraph.families.signal.simulate.transfer_condition`): how well the
  data determine W at all. Below ~10³ the seeds' regimes recover W to R² > 0.99; a neuron stuck
  in saturation or activity collapsed onto a few dimensions sends it to 10⁴–10¹⁶.
- ``test_R2`` — free rollout of the trained model from frame 0 for ``training.n_rollout_frames``
  Euler steps, against a noise-free re-simulation of the ground truth from the same state; the
  mean snapshot R² every ``training.rollout_every`` frames (:mod:`neuralgraph.metrics.rollout`).
- ``test_horizon`` / ``truth_horizon`` — first snapshot frame where the rollout's R² drops below
  0.9, for the model and for the truth against itself from a start perturbed by 10⁻⁶·std: in
  chaotic regimes test_R2 over 1000 frames is low for any model, and a model horizon close to
  the truth's own is the best possible.
- ``test_pearson`` — mean over neurons of the Pearson r between the two rollouts' traces.
- ``cluster_accuracy`` / ``n_clusters`` — single-linkage clustering of the min-max normalised
  embeddings at ``training.cluster_threshold``, matched one-to-one to the true types
  (:mod:`neuralgraph.metrics.cluster`). Reported only with more than one type.
- ``field_R2`` — with a learned input field: R² of the least-squares line of learned against true
  input over the driven neurons and all frames.
- ``W_sign_accuracy`` — with Dale's law: fraction of non-zero true weights whose corrected learned
  weight has the same sign.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from omegaconf import DictConfig

from neuralgraph.errors import ConfigError
from neuralgraph.family import Family, TrainData
from neuralgraph.metrics.cluster import cluster_accuracy
from neuralgraph.families.signal.readout import correct_connectivity, sender_scale
from neuralgraph.metrics.regression import linear_fit
from neuralgraph.metrics.rollout import rollout_horizon, rollout_r2
from neuralgraph.metrics.traces import trace_pearson
from neuralgraph.families.signal.model import InputField, SignalGNN
from neuralgraph.families.signal.family import simulate as sim_signal
from neuralgraph.family import adam_group
from neuralgraph.trainer import steps_per_epoch

log = logging.getLogger(__name__)


def _name(value) -> str:
    return str(getattr(value, "value", value))


def x_norm(u: np.ndarray) -> float:
    """The activity scale of the reference's plots and scale correction: 1.5·std(u)."""
    return 1.5 * float(np.std(u))


def build_model(arrays: Mapping[str, np.ndarray], cfg: DictConfig) -> SignalGNN:
    """The GNN for these arrays and config (on the CPU; the caller moves it)."""
    m, sim = cfg.model, cfg.simulation
    u = arrays["u"]
    n = u.shape[1]
    has_input = "e" in arrays
    input_mode = _name(sim.external_input_mode) if has_input else "none"
    field = None
    if _name(m.field_model) != "none":
        field = InputField(
            _name(m.field_model), n, sim_signal.n_input_neurons(sim) if _name(sim.external_input_type) == "visual" else n,
            u.shape[0], sim_signal.input_neutral(sim), hidden=int(m.field_hidden_dim),
            n_layers=int(m.field_n_layers), omega=float(m.field_omega), rank=int(m.field_rank),
        )
    return SignalGNN(
        n_neurons=n,
        x_scale=float(np.std(u)) or 1.0,
        embedding_dim=int(m.embedding_dim),
        embedding_init=float(m.embedding_init),
        embedding_init_noise=float(m.embedding_init_noise),
        psi_uses_embedding=_name(m.psi_input) == "u_embedding",
        hidden_dim=int(m.hidden_dim),
        n_layers=int(m.n_layers),
        psi_positive=bool(m.psi_positive),
        hidden_dim_update=int(m.hidden_dim_update),
        n_layers_update=int(m.n_layers_update),
        activation=str(m.activation),
        update_type=_name(m.update_type),
        W_init_std=float(m.W_init_std),
        factorization=bool(m.factorization),
        low_rank=int(m.low_rank),
        per_edge=bool(m.per_edge),
        input_mode=input_mode,
        field=field,
    )


def psi_window(model: SignalGNN, xs: np.ndarray) -> np.ndarray:
    """ψ*_j(x) for every sender j at the activity values xs: (N, len(xs))."""
    with torch.no_grad():
        dev = model.a.device
        u = torch.as_tensor(xs, dtype=torch.float32, device=dev)[:, None].expand(len(xs), model.n)
        return model.psi_nodes(u).T.cpu().numpy().astype(np.float64)


def psi_true_window(dyn: sim_signal.SignalDynamics, n: int, xs: np.ndarray) -> np.ndarray:
    """The true ψ_j(x) per sender: (N, len(xs))."""
    return dyn.psi(np.repeat(xs[:, None], n, axis=1)).T


def phi_curves(model: SignalGNN, xs: np.ndarray) -> np.ndarray:
    """φ*_i(x) for every neuron (linear update only): (N, len(xs))."""
    with torch.no_grad():
        dev = model.a.device
        u = torch.as_tensor(xs, dtype=torch.float32, device=dev)[:, None].expand(len(xs), model.n)
        return model.phi_nodes(u).T.cpu().numpy().astype(np.float64)


class SignalFamily(Family):
    name = "signal"
    primary_metric = "connectivity_R2"
    _steps_per_epoch = 1
    _reg_calls = 0

    # ---- config -------------------------------------------------------------------------------

    def validate(self, cfg: DictConfig) -> None:
        sim, m, t = cfg.simulation, cfg.model, cfg.training
        sim_signal.validate(sim)
        if m.factorization and not 1 <= int(m.low_rank) <= int(sim.n_neurons):
            raise ConfigError(f"model.low_rank={m.low_rank} must be in [1, n_neurons={sim.n_neurons}]")
        if _name(m.field_model) != "none" and _name(sim.external_input_type) == "none":
            raise ConfigError("model.field_model needs an external input (simulation.external_input_type)")
        win = list(t.psi_norm_window)
        if len(win) != 2 or not win[0] < win[1]:
            raise ConfigError(f"training.psi_norm_window={win} must be [start, stop] with start < stop")
        for key in ("lr_W", "lr", "lr_embedding", "lr_update", "lr_NNR_f"):
            if float(t[key]) < 0:
                raise ConfigError(f"training.{key}={t[key]} must be >= 0")

    # ---- data and model ----------------------------------------------------------------------

    def simulate(self, sim_cfg: DictConfig) -> dict[str, np.ndarray]:
        return sim_signal.simulate(sim_cfg)

    def build(self, arrays, cfg, device):
        model = build_model(arrays, cfg).to(device)
        u = torch.as_tensor(arrays["u"], dtype=torch.float32, device=device)
        du = torch.as_tensor(arrays["du"], dtype=torch.float32, device=device)
        n = u.shape[1]
        if cfg.training.normalize_targets:
            scale = torch.full((n,), float(du.std()) or 1.0, device=device)
        else:
            scale = torch.ones(n, device=device)
        # The trainer passes the epoch only; the Dale sign term starts at a fraction of it.
        self._steps_per_epoch = steps_per_epoch(u.shape[0], cfg.training.data_augmentation_loop, cfg.training.batch_size)
        self._reg_calls = 0
        extras = {}
        if "e" in arrays and model.field is None:
            extras["e"] = torch.as_tensor(arrays["e"], dtype=torch.float32, device=device)
        return model, TrainData(x=u, y=du, target_scale=scale, extras=extras)

    def param_groups(self, model: SignalGNN, train_cfg: DictConfig) -> list[dict[str, Any]]:
        t = train_cfg
        W_params = [model.WL, model.WR] if model.factorization else [model.W]
        groups = [
            adam_group("W", W_params, t.lr_W, t.lr),
            adam_group("psi", model.psi.parameters(), t.lr, t.lr),
            adam_group("phi", model.phi.parameters(), t.lr_update, t.lr),
            adam_group("embedding", [model.a], t.lr_embedding, t.lr),
        ]
        if model.field is not None:
            groups.append(adam_group("field", model.field.parameters(), t.lr_NNR_f, t.lr))
        return groups

    # ---- regularisers ----------------------------------------------------------------------------

    def regularizers(self, model: SignalGNN, batch, pred, train_cfg, epoch):
        t = train_cfg
        terms: dict[str, torch.Tensor] = {}
        need_W = t.coeff_W_L1 > 0 or t.first_coeff_L1 > 0 or t.coeff_W_L2 > 0 or t.coeff_W_sign > 0
        W = model.weight() if need_W else None
        l1 = t.first_coeff_L1 if epoch < t.n_epochs_init else t.coeff_W_L1
        if l1 > 0:
            terms["W_L1"] = l1 * W.abs().mean()
        if t.coeff_W_L2 > 0:
            terms["W_L2"] = t.coeff_W_L2 * W.pow(2).mean()
        self._reg_calls += 1
        progress = epoch + (self._reg_calls % self._steps_per_epoch) / self._steps_per_epoch
        if t.coeff_W_sign > 0 and progress >= t.W_sign_start_epoch:
            # Sign of each presynaptic column, by its sum (detached): minority entries are pulled to 0.
            col_sign = torch.sign(W.detach().sum(dim=0, keepdim=True))
            terms["W_sign"] = t.coeff_W_sign * torch.relu(-col_sign * W).mean()
        u = batch["x"]
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
        if t.coeff_update_diff > 0 and model.update_type == "generic":
            x = u.detach()
            msg = model.message(x).detach()
            dm = 0.02 * (msg.std() + 1e-6)
            e = model.input_at(batch)
            lo, hi = model.phi_nodes(x, msg, e), model.phi_nodes(x, msg + dm, e)
            terms["update_diff"] = t.coeff_update_diff * torch.relu(lo - hi).pow(2).mean()
        for key, net in (("edge", model.psi), ("phi", model.phi)):
            c1, c2 = t[f"coeff_{key}_weight_L1"], t[f"coeff_{key}_weight_L2"]
            if c1 > 0:
                terms[f"{key}_weight_L1"] = c1 * sum(p.abs().sum() for n_, p in net.named_parameters() if "weight" in n_)
            if c2 > 0:
                terms[f"{key}_weight_L2"] = c2 * sum(p.pow(2).sum() for n_, p in net.named_parameters() if "weight" in n_)
        return terms

    def after_step(self, model, train_cfg):
        if not model.factorization:
            with torch.no_grad():
                model.W.mul_(model.mask)

    # ---- evaluation -----------------------------------------------------------------------------

    def live_metric(self, model: SignalGNN, arrays) -> float:
        """Raw connectivity R² (scale-free), on at most 10⁶ entries."""
        with torch.no_grad():
            W = model.weight().detach().cpu().numpy().ravel()
        true = arrays["W"].ravel()
        if true.size > 1_000_000:
            idx = np.random.default_rng(0).choice(true.size, 1_000_000, replace=False)
            true, W = true[idx], W[idx]
        return linear_fit(true, W).r2

    def _dynamics(self, arrays, cfg) -> sim_signal.SignalDynamics:
        return sim_signal.build_dynamics(cfg.simulation, arrays["W"].astype(np.float64), arrays["types"])

    def corrected_weights(self, model: SignalGNN, arrays, cfg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(W_learned, W_corrected, k per sender); see :mod:`neuralgraph.families.signal.readout`."""
        dyn = self._dynamics(arrays, cfg)
        xn = x_norm(arrays["u"])
        lo, hi = (float(v) for v in cfg.training.psi_norm_window)
        xs = np.linspace(lo * xn, hi * xn, 1000)
        k = sender_scale(psi_window(model, xs), psi_true_window(dyn, model.n, xs))
        with torch.no_grad():
            W = model.weight().detach().cpu().numpy().astype(np.float64)
        return W, correct_connectivity(W, k, dyn.gain), k

    def model_rollout(self, model: SignalGNN, u0: np.ndarray, n_steps: int, dt: float, arrays) -> np.ndarray:
        """Free Euler rollout of the trained model (input: learned field, else the true one)."""
        dev = model.a.device
        out = np.empty((n_steps + 1, model.n))
        u = torch.as_tensor(u0, dtype=torch.float32, device=dev)[None]
        out[0] = u0
        e_all = None
        if model.input_mode != "none" and model.field is None:
            e_all = torch.as_tensor(arrays["e"][: n_steps + 1], dtype=torch.float32, device=dev)
        with torch.no_grad():
            for t in range(n_steps):
                if model.field is not None:
                    e = model.field(torch.tensor([t], device=dev))
                else:
                    e = None if e_all is None else e_all[t : t + 1]
                u = u + dt * model.derivative(u, e)
                if not torch.isfinite(u).all():
                    out[t + 1 :] = np.nan
                    break
                out[t + 1] = u[0].cpu().numpy()
        return out

    def evaluate(self, model, arrays, cfg, device):
        model.eval()
        t = cfg.training
        metrics: dict[str, Any] = {}
        W_true = arrays["W"].astype(np.float64)
        W_learned, W_corr, k = self.corrected_weights(model, arrays, cfg)
        raw = linear_fit(W_true, W_learned)
        corr = linear_fit(W_true, W_corr)
        metrics["connectivity_R2"] = corr.r2
        metrics["connectivity_slope"] = corr.slope
        metrics["connectivity_R2_raw"] = raw.r2
        metrics["connectivity_slope_raw"] = raw.slope
        if cfg.simulation.Dale_law:
            nz = W_true != 0
            metrics["W_sign_accuracy"] = float(np.mean(np.sign(W_corr[nz]) == np.sign(W_true[nz])))
        metrics["effective_rank_90"] = int(arrays["effective_rank_90"])
        metrics["effective_rank_99"] = int(arrays["effective_rank_99"])
        metrics["spectral_radius"] = float(arrays["spectral_radius"])
        if "transfer_condition" in arrays:
            metrics["transfer_condition"] = float(arrays["transfer_condition"])

        # Free rollout against a noise-free re-simulation from the same state.
        dyn = self._dynamics(arrays, cfg)
        dt = float(arrays["delta_t"])
        n_steps = int(min(t.n_rollout_frames, arrays["u"].shape[0] - 1))
        u0 = arrays["u"][0].astype(np.float64)
        e = arrays["e"].astype(np.float64) if "e" in arrays else None
        truth = sim_signal.rollout(dyn, u0, n_steps, dt, e)
        pred = self.model_rollout(model, u0, n_steps, dt, arrays)
        metrics["test_R2"] = rollout_r2(truth, pred, int(t.rollout_every))
        # Chaos baseline: the truth against itself from a start perturbed by 1e-6 of the activity std.
        rng = np.random.default_rng(0)
        u0_perturbed = u0 + 1e-6 * float(np.std(u0)) * rng.standard_normal(u0.shape)
        twin = sim_signal.rollout(dyn, u0_perturbed, n_steps, dt, e)
        metrics["test_horizon"] = rollout_horizon(truth, pred, 0.9, int(t.rollout_every))
        metrics["truth_horizon"] = rollout_horizon(truth, twin, 0.9, int(t.rollout_every))
        finite = np.isfinite(pred).all(axis=1)
        metrics["test_pearson"] = trace_pearson(truth[finite], pred[finite]) if finite.sum() > 2 else float("nan")

        types = arrays["types"]
        emb = model.a.detach().cpu().numpy().astype(np.float64)
        if len(np.unique(types)) > 1:
            acc, n_clusters = cluster_accuracy(emb, types, float(t.cluster_threshold))
            metrics["cluster_accuracy"] = acc
            metrics["n_clusters"] = n_clusters

        results = {
            "W_true": W_true.astype(np.float32),
            "W_learned": W_learned.astype(np.float32),
            "W_corrected": W_corr.astype(np.float32),
            "sender_scale": k,
            "embeddings": emb.astype(np.float32),
            "types": types,
            "rollout_true": truth.astype(np.float32),
            "rollout_pred": pred.astype(np.float32),
        }
        if model.field is not None:
            with torch.no_grad():
                frames = torch.arange(arrays["u"].shape[0], device=model.a.device)
                learned = torch.cat([model.field(chunk) for chunk in frames.split(4096)]).cpu().numpy()
            n_in = model.field.n_input
            metrics["field_R2"] = linear_fit(arrays["e"][:, :n_in], learned[:, :n_in]).r2
            results["e_learned"] = learned.astype(np.float32)
        return metrics, results

    def plot(self, model, arrays, results, metrics, history, plot_dir: Path, cfg):
        from neuralgraph.families.signal.plots import plot_all

        plot_all(self, model, arrays, results, metrics, history, Path(plot_dir), cfg)


#: The instance :func:`neuralgraph.family.get_family` returns.
FAMILY = SignalFamily()
