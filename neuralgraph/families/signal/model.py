r"""GNN mirroring a neural signal network.

    du_i/dt ≈ φ*(u_i, a_i) + Σ_{j≠i} W_ij ψ*(u_j[, a_j])        (update_type: linear)
              [+ e_i, or the sum × e_i for a multiplicative input]
    du_i/dt ≈ φ*(u_i, a_i, M_i, e_i),  M_i = Σ_j W_ij ψ*(…)       (update_type: generic)

- W is a dense learnable N×N matrix with a fixed zero diagonal, or its factorisation WL·WR of
  rank ``low_rank`` (``factorization``). W is indexed W[post, pre], like the ground truth.
- a_i is a learnable embedding per neuron (``embedding_dim``), initialised to a constant as in
  the reference (symmetry is broken by the gradients) plus optional jitter.
- ψ* and φ* are MLPs. Their activity input is u/x_scale with x_scale the std of the training
  activity (a fixed buffer), so the MLPs see O(1) inputs whatever the regime; this is a
  reparametrisation, the functions are reported in units of u.
- ψ* depends only on the sender (u_j, and a_j with ``psi_input: u_embedding``), so it is
  evaluated **once per neuron** and aggregated with one matrix product, M = ψ*(u) Wᵀ: N
  evaluations per frame instead of N². :meth:`SignalGNN.message_per_edge` is the per-edge
  reference formulation (ψ* on every (i, j) edge, then a weighted sum), kept for the equality
  test and the benchmark; ``per_edge: true`` trains with it.
- An unknown input field can be learned (``field_type``): a SIREN of time that outputs the
  input of every driven neuron, or a low-rank factorisation e(t) = U[t] V over the stored frames.
  Both start at the neutral value (0 additive, 1 multiplicative).

The constructor takes the model config and what the dataset says (N, the activity scale, the
input mode, the driven neurons and frames), so a model rebuilt from its config and its dataset
loads its ``model.pt`` state dict with nothing else to set.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from neuralgraph.families.signal.config import FieldModel, InputMode, PsiInput, SignalModel, UpdateType
from neuralgraph.integrate import euler
from neuralgraph.nn.mlp import MLP
from neuralgraph.nn.siren import Siren


class InputField(nn.Module):
    """A learned external input e (frames, N): neutral on undriven neurons.

    The first ``n_input`` neurons are driven; ``neutral`` is 0 (additive input) or 1 (multiplicative).
    """

    def __init__(self, cfg: SignalModel, n_neurons: int, n_input: int, n_frames: int, neutral: float) -> None:
        super().__init__()
        self.kind = cfg.field_type
        self.n_neurons, self.n_input, self.n_frames = n_neurons, n_input, n_frames
        self.neutral = neutral
        if self.kind == FieldModel.siren:
            self.net = Siren(1, n_input, hidden=cfg.hidden_dim_nnr_f, n_layers=cfg.n_layers_nnr_f,
                             omega_first=cfg.omega_f)
        else:
            self.U = nn.Parameter(0.01 * torch.randn(n_frames, cfg.rank_nnr_f))
            self.V = nn.Parameter(0.01 * torch.randn(cfg.rank_nnr_f, n_input))

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        """e at the given frame indices (B,) → (B, N)."""
        if self.kind == FieldModel.siren:
            t = frame.float().unsqueeze(-1) / max(1, self.n_frames - 1)
            driven = self.net(t)
        else:
            driven = self.U[frame] @ self.V
        rest = driven.new_zeros(driven.shape[:-1] + (self.n_neurons - self.n_input,))
        return torch.cat([driven, rest], dim=-1) + self.neutral


class SignalGNN(nn.Module):
    """The GNN of the module docstring.

    ``x_scale`` is the std of the training activity (a buffer, saved with the state dict);
    ``input_mode`` is None when the data have no external input; a learned field (``cfg.field_type``)
    drives the first ``n_input`` neurons over ``n_frames`` frames.
    """

    def __init__(
        self, cfg: SignalModel, n_neurons: int, x_scale: float, input_mode: InputMode | None = None,
        n_input: int = 0, n_frames: int = 0,
    ) -> None:
        super().__init__()
        # The field is made first so its initial weights are the first draws of the torch RNG
        # (runs stay bit-identical with those of earlier versions).
        field = None
        if cfg.field_type != FieldModel.none:
            neutral = 1.0 if input_mode == InputMode.multiplicative else 0.0
            field = InputField(cfg, n_neurons, n_input, n_frames, neutral)
        n = n_neurons
        self.n = n
        self.psi_uses_embedding = cfg.psi_input == PsiInput.u_embedding
        self.psi_positive = cfg.psi_positive
        self.update_type = cfg.update_type
        self.factorization = cfg.factorization
        self.per_edge = cfg.per_edge
        self.input_mode = input_mode
        self.register_buffer("x_scale", torch.tensor(float(x_scale)))
        self.register_buffer("mask", 1.0 - torch.eye(n))
        std = cfg.W_init_std if cfg.W_init_std > 0 else 1.0 / math.sqrt(n)
        if cfg.factorization:
            # W = WL @ WR has entry std ≈ std when each factor entry has std sqrt(std / sqrt(r)).
            f = math.sqrt(std / math.sqrt(cfg.low_rank))
            self.WL = nn.Parameter(f * torch.randn(n, cfg.low_rank))
            self.WR = nn.Parameter(f * torch.randn(cfg.low_rank, n))
        else:
            self.W = nn.Parameter(std * torch.randn(n, n) * self.mask)
        a = torch.full((n, cfg.embedding_dim), float(cfg.embedding_init))
        if cfg.embedding_init_noise > 0:
            a = a + cfg.embedding_init_noise * torch.randn_like(a)
        self.a = nn.Parameter(a)
        psi_in = 1 + (cfg.embedding_dim if self.psi_uses_embedding else 0)
        self.psi = MLP(psi_in, 1, cfg.hidden_dim, cfg.n_layers, cfg.activation)
        phi_in = 1 + cfg.embedding_dim + (2 if cfg.update_type == UpdateType.generic else 0)
        self.phi = MLP(phi_in, 1, cfg.hidden_dim_update, cfg.n_layers_update, cfg.activation)
        self.field = field

    # ---- pieces ------------------------------------------------------------------------------

    def weight(self) -> torch.Tensor:
        """The effective W (N×N) with zero diagonal."""
        W = self.WL @ self.WR if self.factorization else self.W
        return W * self.mask

    def _psi_features(self, u: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        x = (u / self.x_scale).unsqueeze(-1)
        if not self.psi_uses_embedding:
            return x
        return torch.cat([x, a.expand(u.shape + (a.shape[-1],))], dim=-1)

    def psi_nodes(self, u: torch.Tensor) -> torch.Tensor:
        """ψ*(u_j[, a_j]) for every neuron: (..., N) → (..., N)."""
        out = self.psi(self._psi_features(u, self.a)).squeeze(-1)
        return out * out if self.psi_positive else out

    def message(self, u: torch.Tensor) -> torch.Tensor:
        """M_i = Σ_j W_ij ψ*(u_j): one ψ* per neuron, one matrix product. (B, N) → (B, N)."""
        return self.psi_nodes(u) @ self.weight().T

    def message_per_edge(self, u: torch.Tensor) -> torch.Tensor:
        """The same M, with ψ* evaluated on each of the N² (i, j) edges (the reference's way)."""
        B, n = u.shape
        u_edge = u.unsqueeze(1).expand(B, n, n)  # [b, i, j] = u_j (the sender)
        a_edge = self.a.unsqueeze(0).expand(n, n, self.a.shape[-1])  # [i, j] = a_j
        psi = self.psi(self._psi_features(u_edge, a_edge)).squeeze(-1)
        if self.psi_positive:
            psi = psi * psi
        return (self.weight().unsqueeze(0) * psi).sum(-1)

    def phi_nodes(self, u: torch.Tensor, msg: torch.Tensor | None = None, e: torch.Tensor | None = None) -> torch.Tensor:
        """φ*(u_i, a_i[, M_i, e_i]) per neuron."""
        feats = [(u / self.x_scale).unsqueeze(-1), self.a.expand(u.shape + (self.a.shape[-1],))]
        if self.update_type == UpdateType.generic:
            feats.append(msg.unsqueeze(-1) if msg is not None else torch.zeros_like(u).unsqueeze(-1))
            feats.append(e.unsqueeze(-1) if e is not None else torch.zeros_like(u).unsqueeze(-1))
        return self.phi(torch.cat(feats, dim=-1)).squeeze(-1)

    def input_at(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        if self.input_mode is None:
            return None
        if self.field is not None:
            return self.field(batch["frame"])
        return batch["e"]

    def derivative(self, u: torch.Tensor, e: torch.Tensor | None) -> torch.Tensor:
        msg = self.message_per_edge(u) if self.per_edge else self.message(u)
        if self.update_type == UpdateType.generic:
            return self.phi_nodes(u, msg, e)
        if e is not None:
            msg = msg * e if self.input_mode == InputMode.multiplicative else msg + e
        return self.phi_nodes(u) + msg

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.derivative(batch["x"], self.input_at(batch))


def rollout(model: SignalGNN, u0: np.ndarray, n_steps: int, dt: float, inputs: np.ndarray | None = None) -> np.ndarray:
    """Free Euler rollout of the model from ``u0``: (n_steps + 1, N), float64, ``u0`` first.

    The input of frame t is the learned field's, else ``inputs[t]`` (the true input), else none.
    Frames from the first non-finite state on are NaN.
    """
    dev = model.a.device
    e_all = None
    if model.input_mode is not None and model.field is None:
        e_all = torch.as_tensor(inputs[: n_steps + 1], dtype=torch.float32, device=dev)

    def f(u: torch.Tensor, t: int) -> torch.Tensor:
        if model.field is not None:
            e = model.field(torch.tensor([t], device=dev))
        else:
            e = None if e_all is None else e_all[t : t + 1]
        return model.derivative(u, e)

    out = np.empty((n_steps + 1, model.n))

    def record(i: int, u: torch.Tensor, du: torch.Tensor) -> None:
        out[i] = u[0].cpu().numpy()

    with torch.no_grad():
        euler(f, torch.as_tensor(u0, dtype=torch.float32, device=dev)[None], n_steps + 1, dt, record=record)
    out[0] = u0  # the start as given, not rounded to float32
    bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if bad.size:
        out[bad[0]:] = np.nan
    return out
