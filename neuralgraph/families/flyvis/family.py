r"""The fly visual system family: recover W, τ, V_rest, cell types and the visual input.

Ground truth (``neuralgraph.families.flyvis.simulate``): τ_i dv_i/dt = −v_i + V_rest,i + Σ_j W_ij ReLU(v_j) + I_i
on the optic-lobe connectome of the flyvis package (Lappalainen et al., Nature 2024; MIT licence).
Model (``neuralgraph.families.flyvis.model``): dv_i/dt = f_θ(v_i, a_i, Σ_j W_ji g_φ(v_j, a_j)², e_i).

Read-out. On the states the network actually visits, the learned functions are close to linear:
f_θ ≈ α_i v + γ_i m + δ_i e + β_i and g_φ(v, a_j)² ≈ s_j v + c_j on the active range v > 0.
Matching with the truth (−v + V_rest + Σ W ReLU(v_j) + I)/τ gives

- τ_i = −1/α_i (clipped to [0, 1], as the reference does);
- V_rest,i = −(β_i + γ_i μ_i)/α_i, where μ_i is the mean over the observed frames of the part of the
  learned message that the linear-ReLU picture Σ_j W_ij s_j ReLU(v_j) does not explain (an offset of
  g_φ², curvature): it acts as a constant drive and belongs to the offset. ``V_rest_R2_plain``
  uses −β_i/α_i alone;
- the **scale-corrected** weight W_corr,ij = −W_ij · γ_i · s_j / α_i (the reference's correction
  ``−W / slope_f · grad_msg · slope_g``): the data fix only the product of W, the slope of g_φ and
  the message gain of f_θ, so this product is what is compared with W_ij.

(α, γ, δ, β)_i are the least-squares coefficients of f_θ(v, a_i, m, e) regressed on (v, m, e, 1) over
the observed (v_i, m_i, e_i) of up to 2,000 training frames — a local linearisation where the data
are, rather than a sweep of v at m = e = 0, which asks f_θ about states it never saw; s_j is the
slope of g_φ(v_j, a_j)² regressed on v_j over the frames where v_j > 0.

Identifiable edges. A sender that is never above threshold sends nothing (ReLU(v_j) = 0 on every
frame), so no learner can see its outgoing weights; a self-loop of a neuron that is never below
threshold enters exactly like the leak, so W_ii and τ_i are confounded. ``connectivity_R2`` is
computed over the other edges (:func:`identifiable_edges`, sender active on ≥ 1% of frames);
``connectivity_R2_all`` over every edge, ``n_unidentifiable_edges`` counts the rest.

Metrics (``analysis.log`` / ``metrics.json``):

- ``connectivity_R2`` — R² of the least-squares line of W_corr against W_true over the identifiable
  edges (null edges included, true weight 0): the reference's "R²" (squared Pearson r);
  ``connectivity_R2_raw`` is the same for the uncorrected W; ``connectivity_slope`` the line's slope;
- ``tau_R2``, ``V_rest_R2`` — the same line-fit R², neuron by neuron against the per-type truth;
  ``tau_R2_identity``, ``V_rest_R2_identity`` — identity-line R² (scale and offset errors count);
- ``field_R2`` — only when the field is learned (``model.field_type=visual``): line-fit R² of the
  true luminance against Ω² over every photoreceptor column on training frames 0–800 (step 2), i.e.
  after the best affine correction gt ≈ a·Ω² + b, as in the reference;
- ``cluster_accuracy`` — k-means (or a GMM, ``training.cluster_method``) with
  ``training.n_clusters`` (65) clusters on the standardised per-neuron features
  [a_i, log τ_i, V_rest,i], clusters matched one-to-one to the 65 true cell types by the Hungarian
  assignment (:func:`neuralgraph.metrics.cluster.matched_accuracy`); accuracy = matched neurons / N.
  ``cluster_accuracy_embedding`` uses the embeddings alone with single-linkage clustering
  (:func:`neuralgraph.metrics.cluster.cluster_accuracy`);
- ``test_R2`` / ``test_pearson`` — free Euler rollout of the learned model from the first state of the
  held-out, noise-free test movie, driven by the true test stimulus (when the field is learned, mapped
  through the affine calibration Ω² ≈ a·luminance + b fitted for ``field_R2``), scored trace by trace
  (:func:`neuralgraph.metrics.trace_r2` / :func:`trace_pearson`) and averaged over the *responsive*
  neurons, those whose test trace has a std ≥ ``training.test_min_std`` (without process noise the
  visual signal fades with depth and many deep neurons sit at a fixed point to within 1e-4: a trace
  R² of such a flat line measures float rounding, not the model). ``n_test_neurons`` counts them;
  ``test_R2_pooled`` is the identity R² over all neurons and frames pooled, ``test_rmse`` the error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from omegaconf import DictConfig

from neuralgraph.errors import ConfigError
from neuralgraph.family import Family, TrainData
from neuralgraph.metrics import linear_fit, pearson, r2_score, trace_pearson, trace_r2
from neuralgraph.metrics.cluster import cluster_accuracy as embedding_cluster_accuracy
from neuralgraph.metrics.cluster import matched_accuracy
from neuralgraph.families.flyvis.readout import (
    corrected_weights, normal_equations, solve_normal_equations, tau_vrest_from_line,
)
from neuralgraph.families.flyvis.model import FlyVisGNN
from neuralgraph.families.flyvis.family import simulate as sim
from neuralgraph.family import adam_group

#: Frames per chunk when the read-out evaluates f_θ and g_φ on observed states.
FIT_CHUNK = 100
#: Frames used to measure each neuron's operating range (evenly spaced over the training movie).
RANGE_FRAMES = 2000
#: Neurons sampled per step by the g_φ regularisers.
REG_NEURONS = 512
#: Frames scored by field_R2 (0 … FIELD_FRAMES, step 2), as in the reference.
FIELD_FRAMES = 800
#: A sender must be active (v > 0) on at least this fraction of training frames for its weights to count.
MIN_ACTIVE = 0.01


def _null_edges(n: int, src: np.ndarray, tgt: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random (src, tgt) pairs that are not synapses and not self-loops."""
    if count <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    taken = set((tgt.astype(np.int64) * n + src.astype(np.int64)).tolist())
    out: list[int] = []
    while len(out) < count:
        cand = rng.integers(0, n * n, 2 * count)
        for c in cand.tolist():
            if c not in taken and c // n != c % n:
                taken.add(c)
                out.append(c)
                if len(out) == count:
                    break
    pairs = np.asarray(out, dtype=np.int64)
    return pairs % n, pairs // n


def identifiable_edges(x: np.ndarray, src: np.ndarray, tgt: np.ndarray, min_fraction: float = MIN_ACTIVE) -> np.ndarray:
    """Edges whose weight the training data determine at all.

    A sender that is never above threshold (ReLU(v_j) = 0 on every frame) sends nothing, so no
    learner can see its outgoing weights; a self-loop of a neuron that is never below threshold
    enters exactly like the leak −v_i/τ_i, so W_ii and τ_i are confounded. Kept: edges whose sender
    is active on at least ``min_fraction`` of the training frames, and self-loops whose neuron is
    also inactive on at least that fraction.
    """
    active = (np.asarray(x) > 0).mean(axis=0)
    ok = active[src] >= min_fraction
    self_loop = src == tgt
    ok[self_loop] &= (1.0 - active[src[self_loop]]) >= min_fraction
    return ok


def _weight_penalties(name: str, mlp: torch.nn.Module, l1: float, l2: float) -> dict[str, torch.Tensor]:
    """``coeff_<name>_weight_L1`` · Σ|w| and ``coeff_<name>_weight_L2`` · Σw² over the MLP's weight matrices."""
    ws = [p for key, p in mlp.named_parameters() if key.endswith("weight")]
    out: dict[str, torch.Tensor] = {}
    if l1 > 0:
        out[f"{name}_weight_L1"] = l1 * sum(w.abs().sum() for w in ws)
    if l2 > 0:
        out[f"{name}_weight_L2"] = l2 * sum(w.pow(2).sum() for w in ws)
    return out


def _range_frames(n_frames: int) -> np.ndarray:
    return np.unique(np.linspace(0, n_frames - 1, min(RANGE_FRAMES, n_frames)).astype(np.int64))


class FlyVisFamily(Family):
    name = "flyvis"
    primary_metric = "connectivity_R2"

    def __init__(self) -> None:
        self._live_key: int | None = None  # which dataset the cached live-metric edge mask belongs to
        self._live_mask: np.ndarray | None = None

    def validate(self, cfg: DictConfig) -> None:
        sim.validate(cfg.simulation)
        m = cfg.model
        for key in ("hidden_dim", "n_layers", "hidden_dim_update", "n_layers_update", "embedding_dim"):
            if m[key] <= 0:
                raise ConfigError(f"model.{key}={m[key]} must be positive")
        if m.n_extra_null_edges < 0:
            raise ConfigError(f"model.n_extra_null_edges={m.n_extra_null_edges} must be >= 0")
        if str(m.field_type) in ("visual", "FieldType.visual") and m.n_layers_nnr_f < 2:
            raise ConfigError(f"model.n_layers_nnr_f={m.n_layers_nnr_f} must be >= 2")
        if cfg.training.n_clusters <= 0:
            raise ConfigError(f"training.n_clusters={cfg.training.n_clusters} must be positive")

    def simulate(self, sim_cfg: DictConfig) -> dict[str, np.ndarray]:
        return sim.simulate(sim_cfg)

    def build(self, arrays: Mapping[str, np.ndarray], cfg: DictConfig, device: torch.device):
        m, t = cfg.model, cfg.training
        n = int(arrays["node_type"].shape[0])
        null_src, null_tgt = _null_edges(n, arrays["edge_src"], arrays["edge_tgt"], int(m.n_extra_null_edges),
                                         int(cfg.simulation.seed) + 1)
        src = np.concatenate([arrays["edge_src"].astype(np.int64), null_src])
        tgt = np.concatenate([arrays["edge_tgt"].astype(np.int64), null_tgt])
        inputs = arrays["input_nodes"].astype(np.int64)
        learn_field = str(getattr(m.field_type, "value", m.field_type)) == "visual"
        model = FlyVisGNN(
            n, torch.as_tensor(src), torch.as_tensor(tgt), torch.as_tensor(inputs),
            torch.as_tensor(arrays["node_col"][inputs].astype(np.int64)), torch.as_tensor(arrays["column_xy"]),
            embedding_dim=m.embedding_dim, embedding_init=str(getattr(m.embedding_init, "value", m.embedding_init)),
            hidden_dim=m.hidden_dim, n_layers=m.n_layers, hidden_dim_update=m.hidden_dim_update,
            n_layers_update=m.n_layers_update, g_phi_positive=m.g_phi_positive,
            g_phi_activation=m.g_phi_activation, f_theta_activation=m.f_theta_activation,
            W_init=str(getattr(m.W_init, "value", m.W_init)), W_init_scale=m.W_init_scale,
            learn_field=learn_field, omega_f=m.omega_f, hidden_dim_nnr_f=m.hidden_dim_nnr_f,
            n_layers_nnr_f=m.n_layers_nnr_f, nnr_f_T_period=m.nnr_f_T_period, nnr_f_xy_period=m.nnr_f_xy_period,
        ).to(device)
        x_np = arrays["x"]
        sample = x_np[_range_frames(x_np.shape[0])]
        # Ranges for the g_φ regularisers: the observed voltage span, and a typical active value.
        model.v_lo = float(np.quantile(sample, 0.01))
        model.v_hi = float(np.quantile(sample, 0.99))
        pos = sample[sample > 0]
        model.v_norm = float(np.quantile(pos, 0.9)) if pos.size else 1.0
        x = torch.as_tensor(x_np, device=device)
        y = torch.as_tensor(arrays["y"], device=device)
        extras = {} if learn_field else {"stimulus": torch.as_tensor(arrays["stimulus"], device=device)}
        if t.normalize_targets:
            scale = y.std(dim=0) + 1e-3 * y.std()
        else:
            scale = torch.ones(y.shape[1], device=device)
        return model, TrainData(x=x, y=y, target_scale=scale, extras=extras)

    def param_groups(self, model: FlyVisGNN, t: DictConfig) -> list[dict[str, Any]]:
        groups = [
            adam_group("W", [model.W], t.lr_W, t.lr),
            adam_group("MLP", list(model.lin_edge.parameters()) + list(model.lin_phi.parameters()), t.lr, t.lr),
            adam_group("embedding", [model.a], t.lr_emb, t.lr_embedding if t.lr_embedding > 0 else t.lr),
        ]
        if model.field is not None:
            groups.append(adam_group("siren", model.field.parameters(), t.lr_siren, t.lr))
        return groups

    def regularizers(self, model: FlyVisGNN, batch, pred, t: DictConfig, epoch: int) -> dict[str, torch.Tensor]:
        terms: dict[str, torch.Tensor] = {}
        if t.coeff_W_L1 > 0:
            anneal = 1.0 - float(np.exp(-t.W_L1_rate * (epoch + 1)))
            terms["W_L1"] = t.coeff_W_L1 * anneal * model.W.abs().sum()
        if t.coeff_W_L2 > 0:
            terms["W_L2"] = t.coeff_W_L2 * model.W.pow(2).sum()
        if t.coeff_edge_diff > 0 or t.coeff_edge_norm > 0:
            dev = model.W.device
            idx = torch.randint(0, model.n_neurons, (min(REG_NEURONS, model.n_neurons),), device=dev)
            a = model.a[idx]
            if t.coeff_edge_diff > 0:
                v = torch.linspace(model.v_lo, model.v_hi, 16, device=dev).unsqueeze(-1).expand(-1, len(idx))
                step = 0.05 * (model.v_hi - model.v_lo)
                drop = model.g(v, a) - model.g(v + step, a)
                terms["edge_diff"] = t.coeff_edge_diff * torch.relu(drop).mean()
            if t.coeff_edge_norm > 0:
                v = torch.full((1, len(idx)), model.v_norm, device=dev)
                terms["edge_norm"] = t.coeff_edge_norm * (model.g(v, a) - model.v_norm).pow(2).mean()
        for name, mlp in (("edge", model.lin_edge), ("phi", model.lin_phi)):
            terms.update(_weight_penalties(name, mlp, t[f"coeff_{name}_weight_L1"], t[f"coeff_{name}_weight_L2"]))
        return terms

    def live_metric(self, model: FlyVisGNN, arrays: Mapping[str, np.ndarray]) -> float:
        """Squared Pearson r of the raw (uncorrected) W against the truth on identifiable synapses."""
        n_true = arrays["W"].shape[0]
        key = id(arrays["x"])
        if self._live_key != key:
            self._live_key = key
            self._live_mask = identifiable_edges(arrays["x"][_range_frames(arrays["x"].shape[0])],
                                                 arrays["edge_src"], arrays["edge_tgt"])
        w = model.W.detach()[:n_true].cpu().numpy()
        r = pearson(arrays["W"][self._live_mask], w[self._live_mask])
        return r * r if np.isfinite(r) else float("nan")

    # read-out ----------------------------------------------------------------------------------
    def readout(self, model: FlyVisGNN, arrays: Mapping[str, np.ndarray], device: torch.device) -> dict[str, np.ndarray]:
        """Per-neuron local linearisation of f_θ and g_φ² on the observed states (module docstring)."""
        x_np = arrays["x"]
        frames = _range_frames(x_np.shape[0])
        n = x_np.shape[1]
        K = 4
        f_xtx, f_xty = np.zeros((n, K, K)), np.zeros((n, K))
        g_xtx, g_xty = np.zeros((n, 2, 2)), np.zeros((n, 2))
        learn_field = model.field is not None
        with torch.no_grad():
            for chunk in np.array_split(frames, max(1, len(frames) // FIT_CHUNK)):
                v = torch.as_tensor(x_np[chunk], device=device)
                msg = model.messages(v)
                if learn_field:
                    lum = model.field_values(torch.as_tensor(chunk, device=device))
                else:
                    lum = torch.as_tensor(arrays["stimulus"][chunk], device=device)
                e = model.external_input(lum, v)
                f = model.f(v, model.a, msg, e)
                g = model.g(v, model.a)
                vv, mm, ee = (z.double().cpu().numpy() for z in (v, msg, e))
                X = np.stack([vv, mm, ee, np.ones_like(vv)], axis=-1)
                xtx, xty = normal_equations(X, f.double().cpu().numpy())
                f_xtx += xtx
                f_xty += xty
                xtx, xty = normal_equations(np.stack([vv, np.ones_like(vv)], -1), g.double().cpu().numpy(),
                                            weight=(vv > 0).astype(np.float64))
                g_xtx += xtx
                g_xty += xty
        coef = solve_normal_equations(f_xtx, f_xty)
        alpha, gamma, delta, beta = coef[:, 0], coef[:, 1], coef[:, 2], coef[:, 3]
        g_coef = solve_normal_equations(g_xtx, g_xty)
        s = np.where(g_xtx[:, 1, 1] >= 2, g_coef[:, 0], 0.0)  # senders active on fewer than 2 frames: no slope
        # The learned message also carries what the linear-ReLU part Σ_j W_ij s_j ReLU(v_j) does not
        # (an offset of g_φ², curvature): its mean enters f_θ like a resting drive and is moved
        # from the message into the offset before V_rest is read (second pass over the frames).
        s_t = torch.as_tensor(s, dtype=torch.float32, device=device)
        excess = np.zeros(n)
        with torch.no_grad():
            for chunk in np.array_split(frames, max(1, len(frames) // FIT_CHUNK)):
                v = torch.as_tensor(x_np[chunk], device=device)
                lin = torch.relu(v) * s_t
                m_lin = torch.zeros_like(v).index_add_(1, model.edge_tgt, lin[:, model.edge_src] * model.W)
                excess += (model.messages(v) - m_lin).double().sum(0).cpu().numpy()
        excess /= len(frames)
        tau, v_rest = tau_vrest_from_line(alpha, beta + gamma * excess)
        _, v_rest_plain = tau_vrest_from_line(alpha, beta)
        return {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta, "g_slope": s, "tau": tau,
                "V_rest": v_rest, "V_rest_plain": v_rest_plain}

    def rollout(self, model: FlyVisGNN, v0: torch.Tensor, stimulus: torch.Tensor, dt: float) -> torch.Tensor:
        """Free Euler rollout (T, N) driven by ``stimulus`` (T, n_col), starting at v0 (N,)."""
        out = torch.empty((stimulus.shape[0], v0.shape[0]), device=v0.device)
        v = v0.unsqueeze(0).clone()
        with torch.no_grad():
            for k in range(stimulus.shape[0]):
                out[k] = v[0]
                v = v + dt * model.derivative(v, stimulus[k : k + 1])
                v = torch.nan_to_num(v, nan=0.0).clamp(-100.0, 100.0)
        return out

    def evaluate(self, model: FlyVisGNN, arrays, cfg: DictConfig, device: torch.device):
        t = cfg.training
        model.eval()
        fit = self.readout(model, arrays, device)
        n_true = arrays["W"].shape[0]
        W_learned = model.W.detach().double().cpu().numpy()
        src = model.edge_src.cpu().numpy()
        tgt = model.edge_tgt.cpu().numpy()
        W_true = np.concatenate([arrays["W"].astype(np.float64), np.zeros(len(W_learned) - n_true)])
        W_corr = corrected_weights(W_learned, src, tgt, fit["alpha"], fit["gamma"], fit["g_slope"])
        ident = identifiable_edges(arrays["x"], src, tgt)
        metrics: dict[str, Any] = {}
        lf = linear_fit(W_true[ident], W_corr[ident])
        metrics["connectivity_R2"] = lf.r2
        metrics["connectivity_slope"] = lf.slope
        metrics["connectivity_R2_all"] = linear_fit(W_true, W_corr).r2
        metrics["connectivity_R2_raw"] = linear_fit(W_true[ident], W_learned[ident]).r2
        metrics["n_unidentifiable_edges"] = int((~ident).sum())
        if len(W_learned) > n_true:
            metrics["null_edges_mean_abs_W"] = float(np.mean(np.abs(W_corr[n_true:])))
        tau_true, vr_true = arrays["tau"], arrays["V_rest"]
        metrics["tau_R2"] = linear_fit(tau_true, fit["tau"]).r2
        metrics["tau_R2_identity"] = r2_score(tau_true, fit["tau"])
        metrics["V_rest_R2"] = linear_fit(vr_true, fit["V_rest"]).r2
        metrics["V_rest_R2_identity"] = r2_score(vr_true, fit["V_rest"])
        metrics["V_rest_R2_plain"] = linear_fit(vr_true, fit["V_rest_plain"]).r2

        results: dict[str, np.ndarray] = {}
        if model.field is not None:
            frames = torch.arange(0, min(FIELD_FRAMES, arrays["stimulus"].shape[0]), 2, device=device)
            with torch.no_grad():
                pred_field = torch.cat([model.field_values(c) for c in frames.split(64)]).cpu().numpy()
            true_field = arrays["stimulus"][frames.cpu().numpy()]
            field_fit = linear_fit(true_field, pred_field)
            metrics["field_R2"] = field_fit.r2
            results["field_true"] = true_field.astype(np.float32)
            results["field_learned"] = pred_field.astype(np.float32)
            results["field_frames"] = frames.cpu().numpy()

        types = arrays["node_type"]
        emb = model.a.detach().cpu().numpy()
        features = np.concatenate([emb, np.log(np.clip(fit["tau"], 1e-3, None))[:, None], fit["V_rest"][:, None]], 1)
        labels = cluster_labels(features, str(getattr(t.cluster_method, "value", t.cluster_method)),
                                min(int(t.n_clusters), len(types)), int(t.seed))
        metrics["cluster_accuracy"] = matched_accuracy(labels, types)
        acc_emb, n_clusters_emb = embedding_cluster_accuracy(emb, types)
        metrics["cluster_accuracy_embedding"] = acc_emb
        metrics["n_clusters_embedding"] = n_clusters_emb

        dt = float(cfg.simulation.delta_t)
        n_roll = min(int(t.n_rollout_frames), arrays["x_test"].shape[0])
        x_test = arrays["x_test"][:n_roll]
        stim_np = arrays["stimulus_test"][:n_roll]
        if model.field is not None and np.isfinite(field_fit.slope):
            # f_θ was trained on Ω², which matches the luminance only up to the affine map measured
            # by field_R2 (Ω² ≈ slope·luminance + intercept): the held-out movie is fed through it.
            stim_np = field_fit.slope * stim_np + field_fit.intercept
        stim = torch.as_tensor(stim_np.astype(np.float32), device=device)
        pred = self.rollout(model, torch.as_tensor(x_test[0], device=device), stim, dt).cpu().numpy()
        responsive = x_test.std(axis=0) >= t.test_min_std
        if not responsive.any():
            responsive[:] = True
        metrics["test_R2"] = trace_r2(x_test[:, responsive], pred[:, responsive])
        metrics["test_pearson"] = trace_pearson(x_test[:, responsive], pred[:, responsive])
        metrics["test_R2_pooled"] = r2_score(x_test, pred)
        metrics["test_rmse"] = float(np.sqrt(np.mean((pred - x_test) ** 2)))
        metrics["n_test_neurons"] = int(responsive.sum())
        metrics["n_neurons"] = int(len(types))
        metrics["n_edges"] = int(n_true)

        show = np.argsort(-x_test.std(axis=0))[:8]
        results.update({
            "W_true": W_true.astype(np.float32), "W_learned": W_corr.astype(np.float32),
            "W_learned_raw": W_learned.astype(np.float32), "W_identifiable": ident, "edge_src": src.astype(np.int32),
            "edge_tgt": tgt.astype(np.int32),
            "tau_true": tau_true, "tau_learned": fit["tau"], "V_rest_true": vr_true, "V_rest_learned": fit["V_rest"],
            "embeddings": emb, "types": types, "type_names": arrays["type_names"], "cluster_labels": labels,
            "f_slope": fit["alpha"], "f_msg_gain": fit["gamma"], "g_slope": fit["g_slope"],
            "rollout_true": x_test[:, show].astype(np.float32), "rollout_pred": pred[:, show].astype(np.float32),
            "rollout_neurons": show,
        })
        results.update(function_curves(model, arrays, device))
        return metrics, results

    def plot(self, model, arrays, results, metrics, history, plot_dir: Path, cfg: DictConfig) -> None:
        from neuralgraph.families.flyvis import plots

        plots.plot_all(results, metrics, history, plot_dir)


def cluster_labels(features: np.ndarray, method: str, k: int, seed: int) -> np.ndarray:
    """Cluster standardised features with k-means or a Gaussian mixture of ``k`` components."""
    x = np.asarray(features, dtype=np.float64)
    sd = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    if method == "gmm":
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(k, covariance_type="diag", random_state=seed, reg_covar=1e-4).fit_predict(x)
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=3, random_state=seed).fit_predict(x)


def function_curves(model: FlyVisGNN, arrays: Mapping[str, np.ndarray], device: torch.device) -> dict[str, np.ndarray]:
    """f_θ(v, a, 0, 0) and g_φ(v, a)² on a common v grid, for one neuron per cell type (for plots)."""
    types = arrays["node_type"]
    first = np.asarray([np.nonzero(types == k)[0][0] for k in np.unique(types)])
    v = torch.linspace(float(np.quantile(arrays["x"][:: max(1, arrays["x"].shape[0] // 500)], 0.01)),
                       float(np.quantile(arrays["x"][:: max(1, arrays["x"].shape[0] // 500)], 0.99)), 64, device=device)
    idx = torch.as_tensor(first, device=device)
    grid = v.unsqueeze(-1).expand(-1, len(first))
    zeros = torch.zeros_like(grid)
    with torch.no_grad():
        f = model.f(grid, model.a[idx], zeros, zeros).T.cpu().numpy()
        g = model.g(grid, model.a[idx]).T.cpu().numpy()
    return {"curve_v": v.cpu().numpy(), "curve_f": f, "curve_g": g, "curve_neurons": first}


#: The instance :func:`neuralgraph.family.get_family` returns.
FAMILY = FlyVisFamily()
