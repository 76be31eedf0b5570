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
- An unknown input field can be learned (``field_model``): a SIREN of time that outputs the
  input of every driven neuron, or a low-rank factorisation e(t) = U[t] V over the stored frames.
  Both start at the neutral value (0 additive, 1 multiplicative).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from neuralgraph.nn.mlp import MLP
from neuralgraph.nn.siren import Siren


class InputField(nn.Module):
    """A learned external input e (frames, N): neutral on undriven neurons."""

    def __init__(
        self, kind: str, n_neurons: int, n_input: int, n_frames: int, neutral: float,
        hidden: int = 128, n_layers: int = 3, omega: float = 30.0, rank: int = 16,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.n_neurons, self.n_input, self.n_frames = n_neurons, n_input, n_frames
        self.neutral = neutral
        if kind == "siren":
            self.net = Siren(1, n_input, hidden=hidden, n_layers=n_layers, omega_first=omega)
        elif kind == "low_rank":
            self.U = nn.Parameter(0.01 * torch.randn(n_frames, rank))
            self.V = nn.Parameter(0.01 * torch.randn(rank, n_input))
        else:
            raise ValueError(f"unknown field model {kind!r}")

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        """e at the given frame indices (B,) → (B, N)."""
        if self.kind == "siren":
            t = frame.float().unsqueeze(-1) / max(1, self.n_frames - 1)
            driven = self.net(t)
        else:
            driven = self.U[frame] @ self.V
        rest = driven.new_zeros(driven.shape[:-1] + (self.n_neurons - self.n_input,))
        return torch.cat([driven, rest], dim=-1) + self.neutral


class SignalGNN(nn.Module):
    def __init__(
        self,
        n_neurons: int,
        x_scale: float,
        embedding_dim: int = 2,
        embedding_init: float = 1.0,
        embedding_init_noise: float = 0.0,
        psi_uses_embedding: bool = True,
        hidden_dim: int = 64,
        n_layers: int = 3,
        psi_positive: bool = False,
        hidden_dim_update: int = 64,
        n_layers_update: int = 3,
        activation: str = "relu",
        update_type: str = "linear",
        W_init_std: float = 0.0,
        factorization: bool = False,
        low_rank: int = 20,
        per_edge: bool = False,
        input_mode: str = "none",  # none | additive | multiplicative
        field: InputField | None = None,
    ) -> None:
        super().__init__()
        n = n_neurons
        self.n = n
        self.psi_uses_embedding = psi_uses_embedding
        self.psi_positive = psi_positive
        self.update_type = update_type
        self.factorization = factorization
        self.per_edge = per_edge
        self.input_mode = input_mode
        self.register_buffer("x_scale", torch.tensor(float(x_scale)))
        self.register_buffer("mask", 1.0 - torch.eye(n))
        std = W_init_std if W_init_std > 0 else 1.0 / math.sqrt(n)
        if factorization:
            # W = WL @ WR has entry std ≈ std when each factor entry has std sqrt(std / sqrt(r)).
            f = math.sqrt(std / math.sqrt(low_rank))
            self.WL = nn.Parameter(f * torch.randn(n, low_rank))
            self.WR = nn.Parameter(f * torch.randn(low_rank, n))
        else:
            self.W = nn.Parameter(std * torch.randn(n, n) * self.mask)
        a = torch.full((n, embedding_dim), float(embedding_init))
        if embedding_init_noise > 0:
            a = a + embedding_init_noise * torch.randn_like(a)
        self.a = nn.Parameter(a)
        psi_in = 1 + (embedding_dim if psi_uses_embedding else 0)
        self.psi = MLP(psi_in, 1, hidden_dim, n_layers, activation)
        phi_in = 1 + embedding_dim + (2 if update_type == "generic" else 0)
        self.phi = MLP(phi_in, 1, hidden_dim_update, n_layers_update, activation)
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
        if self.update_type == "generic":
            feats.append(msg.unsqueeze(-1) if msg is not None else torch.zeros_like(u).unsqueeze(-1))
            feats.append(e.unsqueeze(-1) if e is not None else torch.zeros_like(u).unsqueeze(-1))
        return self.phi(torch.cat(feats, dim=-1)).squeeze(-1)

    def input_at(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        if self.input_mode == "none":
            return None
        if self.field is not None:
            return self.field(batch["frame"])
        return batch["e"]

    def derivative(self, u: torch.Tensor, e: torch.Tensor | None) -> torch.Tensor:
        msg = self.message_per_edge(u) if self.per_edge else self.message(u)
        if self.update_type == "generic":
            return self.phi_nodes(u, msg, e)
        if e is not None:
            msg = msg * e if self.input_mode == "multiplicative" else msg + e
        return self.phi_nodes(u) + msg

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.derivative(batch["x"], self.input_at(batch))
