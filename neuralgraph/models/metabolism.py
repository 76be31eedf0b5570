r"""GNN mirroring a metabolic network with the stoichiometry given.

    dc_i/dt = MLP_node(c_i, a_i) + Σ_j S_ij v_j,    v_j = k_j Π_{i ∈ sub(j)} f(c_i, |s_ij|)

- ``log_k`` (one per reaction) are the rate constants in log10 units;
- f = MLP_sub is the substrate function (the truth is c^s for mass action). It is made positive
  with a softplus and, with ``sub_normalized``, divided by its value at c = 1:
  f(c, s) = softplus(g(c, s)) / softplus(g(1, s)). Then f(1, s) = 1 = 1^s exactly, so the
  symmetry k → α^n k, f → f/α (which leaves every prediction unchanged) is removed by
  construction instead of by a penalty;
- the product over substrates is a sum of logs scattered onto reactions;
- MLP_node(c, a) is the homeostasis term, with a learned per-metabolite embedding a_i; its last
  layer starts at zero so homeostasis switches on only when the data ask for it;
- S is a buffer: it is given, never trained.

f depends on the metabolite and the order s only, so it is evaluated once per (metabolite,
distinct s) and gathered onto the substrate edges — not once per edge.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neuralgraph.models.mlp import MLP

LN10 = math.log(10.0)


class MetabolismGNN(nn.Module):
    def __init__(
        self,
        S: torch.Tensor,
        sub_met: torch.Tensor,
        sub_rxn: torch.Tensor,
        sub_s: torch.Tensor,
        c_scale: float,
        embedding_dim: int = 2,
        hidden_dim_sub: int = 64,
        n_layers_sub: int = 3,
        hidden_dim_node: int = 64,
        n_layers_node: int = 3,
        sub_normalized: bool = True,
        log_k_init: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        n_met, n_rxn = S.shape
        self.register_buffer("S", S.float())
        self.register_buffer("sub_met", sub_met.long())
        self.register_buffer("sub_rxn", sub_rxn.long())
        self.register_buffer("sub_s", sub_s.float())
        s_values, s_index = torch.unique(sub_s.float(), return_inverse=True)
        self.register_buffer("s_values", s_values)  # distinct reaction orders
        self.register_buffer("sub_s_index", s_index.long())
        # Reaction incidence of substrate edges: sum over a reaction's substrates as one matmul.
        incidence = torch.zeros(len(sub_met), n_rxn)
        incidence[torch.arange(len(sub_met)), sub_rxn.long()] = 1.0
        self.register_buffer("incidence", incidence)
        self.register_buffer("has_substrate", incidence.sum(0) > 0)
        self.c_scale = float(c_scale)
        self.sub_normalized = sub_normalized

        init = log_k_init if log_k_init is not None else torch.full((n_rxn,), -1.5)
        self.log_k = nn.Parameter(init.float().clone())
        self.a = nn.Parameter(0.1 * torch.randn(n_met, embedding_dim))
        self.mlp_sub = MLP(2, 1, hidden_dim_sub, n_layers_sub, "tanh")
        self.mlp_node = MLP(1 + embedding_dim, 1, hidden_dim_node, n_layers_node, "tanh", zero_last=True)

    # f(c, s) ---------------------------------------------------------------------------------
    def substrate_raw(self, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """softplus(g(c, s)) for broadcastable c and s (no normalisation)."""
        c, s = torch.broadcast_tensors(c, s)
        inp = torch.stack([c / self.c_scale, s], dim=-1)
        return F.softplus(self.mlp_sub(inp)[..., 0])

    def substrate(self, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """f(c, s); with ``sub_normalized``, divided by f(1, s) so that f(1, s) = 1."""
        raw = self.substrate_raw(c, s)
        if self.sub_normalized:
            raw = raw / self.substrate_raw(torch.ones_like(s), s)
        return raw

    def log_rates(self, c: torch.Tensor) -> torch.Tensor:
        """ln v_j for a batch of states c (B, N) → (B, R)."""
        s = self.s_values
        log_f = torch.log(self.substrate(c.unsqueeze(-1), s) + 1e-30)  # (B, N, n_s)
        log_f_edges = log_f[:, self.sub_met, self.sub_s_index]  # (B, E)
        return LN10 * self.log_k + log_f_edges @ self.incidence

    def rates(self, c: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.log_rates(c)) * self.has_substrate

    def homeostasis(self, c: torch.Tensor) -> torch.Tensor:
        """MLP_node(c_i, a_i) for c (B, N) → (B, N)."""
        a = self.a.unsqueeze(0).expand(c.shape[0], -1, -1)
        inp = torch.cat([(c / self.c_scale).unsqueeze(-1), a], dim=-1)
        return self.mlp_node(inp)[..., 0]

    def derivative(self, c: torch.Tensor) -> torch.Tensor:
        """dc/dt (B, N) = S v + MLP_node."""
        return self.rates(c) @ self.S.T + self.homeostasis(c)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.derivative(batch["x"])
