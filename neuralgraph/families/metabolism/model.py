r"""GNN mirroring a metabolic network, with the stoichiometry S given or learned.

    dc_i/dt = MLP_node(c_i, a_i) + Σ_j S_ij v_j

Two ways to combine a reaction's substrates into its rate (``aggregation``):

- ``product``:  v_j = k_j Π_{i ∈ sub(j)} f(c_i, |s_ij|)   (mass-action-like; the default)
- ``additive``: v_j = k_j · softplus(ρ(Σ_{i ∈ sub(j)} σ(c_i, |s_ij|)))   (the seed's msg/rate MLPs;
  the same form as the simulator's MLP rate law)

- ``log_k`` (one per reaction) are the rate constants in log10 units;
- f = MLP_sub (product) is made positive with a softplus and, with ``sub_normalized``, divided by
  its value at c = 1: f(c, s) = softplus(g(c, s)) / softplus(g(1, s)). Then f(1, s) = 1 = 1^s
  exactly, so the symmetry k → α^n k, f → f/α is removed by construction instead of by a penalty;
  the product over substrates is a sum of logs scattered onto reactions;
- σ = MLP_sub (additive, output ``msg_dim``) and ρ = MLP_rate (output 1);
- MLP_node(c, a) is the homeostasis term (``homeostasis``), with a learned per-metabolite
  embedding a_i; its last layer starts at zero so homeostasis switches on only when the data ask;
- S given (``learn_stoichiometry=False``): S is a buffer, never trained. f depends on the
  metabolite and the order s only, so in product mode it is evaluated once per (metabolite,
  distinct s) and gathered onto the substrate edges — not once per edge;
- S learned: ``sto`` holds one signed coefficient per candidate edge (the known bipartite graph,
  optionally a superset of it); the substrate magnitude |s_ij| fed to the substrate function is
  |sto| of the same edge (``substrate_orders="tied"``) or a separate learnable ``sto_sub``
  (``"free"``, as in the older reference model), so f is evaluated per substrate edge. Every
  substrate edge must be a candidate edge.

Learned S has a per-reaction gauge: S_:j → α S_:j, k_j → k_j / α (α > 0) leaves every
prediction unchanged except through |s| fed to the substrate function, which the MLP can absorb.
Nothing in the model fixes α; the regularisers (L1, integer, ...) and the evaluator's gauge fit
deal with it (see ``neuralgraph.metrics.stoichiometry``). The sign of a column is not ambiguous:
rates are positive.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neuralgraph.nn.mlp import MLP

LN10 = math.log(10.0)


class MetabolismGNN(nn.Module):
    def __init__(
        self,
        S: torch.Tensor | None,
        sub_met: torch.Tensor,
        sub_rxn: torch.Tensor,
        sub_s: torch.Tensor | None,
        c_scale: float,
        embedding_dim: int = 2,
        hidden_dim_sub: int = 64,
        n_layers_sub: int = 3,
        hidden_dim_node: int = 64,
        n_layers_node: int = 3,
        sub_normalized: bool = True,
        log_k_init: torch.Tensor | None = None,
        *,
        learn_stoichiometry: bool = False,
        n_metabolites: int | None = None,
        n_reactions: int | None = None,
        edge_met: torch.Tensor | None = None,
        edge_rxn: torch.Tensor | None = None,
        S_init: torch.Tensor | None = None,
        aggregation: str = "product",
        homeostasis: bool = True,
        msg_dim: int = 16,
        hidden_dim_rate: int = 32,
        n_layers_rate: int = 2,
        S_sign_constraint: bool = False,
        substrate_orders: str = "tied",
    ) -> None:
        super().__init__()
        if aggregation not in ("product", "additive"):
            raise ValueError(f"aggregation must be 'product' or 'additive', got {aggregation!r}")
        self.learn_stoichiometry = bool(learn_stoichiometry)
        self.S_sign_constraint = bool(S_sign_constraint)  # applied by project_signs() after each step
        self.aggregation = aggregation
        self.use_homeostasis = bool(homeostasis)
        if self.learn_stoichiometry:
            if edge_met is None or edge_rxn is None or n_metabolites is None or n_reactions is None:
                raise ValueError("learned S needs edge_met, edge_rxn, n_metabolites and n_reactions")
            n_met, n_rxn = int(n_metabolites), int(n_reactions)
            self.register_buffer("edge_met", edge_met.long())
            self.register_buffer("edge_rxn", edge_rxn.long())
            lookup = {(int(m), int(r)): e for e, (m, r) in enumerate(zip(edge_met.tolist(), edge_rxn.tolist()))}
            missing = [(int(m), int(r)) for m, r in zip(sub_met.tolist(), sub_rxn.tolist()) if (int(m), int(r)) not in lookup]
            if missing:
                raise ValueError(f"{len(missing)} substrate edges are not candidate edges, e.g. {missing[:3]}")
            sub_to_edge = torch.tensor([lookup[(int(m), int(r))] for m, r in zip(sub_met.tolist(), sub_rxn.tolist())],
                                       dtype=torch.long)
            self.register_buffer("sub_to_edge", sub_to_edge)
            is_sub = torch.zeros(len(edge_met), dtype=torch.bool)
            is_sub[sub_to_edge] = True
            self.register_buffer("edge_is_substrate", is_sub)
            init = S_init if S_init is not None else 0.1 * torch.randn(len(edge_met))
            self.sto = nn.Parameter(init.float().clone())
            if substrate_orders not in ("tied", "free"):
                raise ValueError(f"substrate_orders must be 'tied' or 'free', got {substrate_orders!r}")
            self.substrate_order_mode = substrate_orders
            if substrate_orders == "free":
                # a separate learnable |s| per substrate edge (the older reference's sto_sub), from 1
                self.sto_sub = nn.Parameter(torch.ones(len(sub_met)))
        else:
            n_met, n_rxn = S.shape
            self.register_buffer("S", S.float())
            self.register_buffer("sub_s", sub_s.float())
            s_values, s_index = torch.unique(sub_s.float(), return_inverse=True)
            self.register_buffer("s_values", s_values)  # distinct reaction orders
            self.register_buffer("sub_s_index", s_index.long())
        self.n_metabolites, self.n_reactions = n_met, n_rxn
        self.register_buffer("sub_met", sub_met.long())
        self.register_buffer("sub_rxn", sub_rxn.long())
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
        if aggregation == "product":
            self.mlp_sub = MLP(2, 1, hidden_dim_sub, n_layers_sub, "tanh")
        else:
            self.mlp_sub = MLP(2, msg_dim, hidden_dim_sub, n_layers_sub, "tanh")
            self.mlp_rate = MLP(msg_dim, 1, hidden_dim_rate, n_layers_rate, "tanh")
        self.mlp_node = MLP(1 + embedding_dim, 1, hidden_dim_node, n_layers_node, "tanh", zero_last=True)

    # S --------------------------------------------------------------------------------------
    def stoichiometry(self) -> torch.Tensor:
        """The dense S (n_met × n_rxn): the buffer, or the learned coefficients scattered."""
        if not self.learn_stoichiometry:
            return self.S
        dense = torch.zeros(self.n_metabolites, self.n_reactions, device=self.sto.device, dtype=self.sto.dtype)
        return dense.index_put((self.edge_met, self.edge_rxn), self.sto, accumulate=True)

    def substrate_orders(self) -> torch.Tensor:
        """|s| of every substrate edge: given, or tied to the learned coefficient of that edge."""
        if self.learn_stoichiometry:
            if self.substrate_order_mode == "free":
                return self.sto_sub.abs()
            return self.sto[self.sub_to_edge].abs()
        return self.sub_s

    @torch.no_grad()
    def project_signs(self) -> None:
        """Substrate edges ≤ 0, every other candidate edge ≥ 0 (learned S only)."""
        sub = self.edge_is_substrate
        self.sto.data = torch.where(sub, self.sto.clamp(max=0.0), self.sto.clamp(min=0.0))

    # f(c, s) (product mode) ------------------------------------------------------------------
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
        """ln v_j for a batch of states c (B, N) → (B, R) (product mode)."""
        if self.learn_stoichiometry:
            log_f_edges = torch.log(self.substrate(c[:, self.sub_met], self.substrate_orders()) + 1e-30)  # (B, E)
        else:
            s = self.s_values
            log_f = torch.log(self.substrate(c.unsqueeze(-1), s) + 1e-30)  # (B, N, n_s)
            log_f_edges = log_f[:, self.sub_met, self.sub_s_index]  # (B, E)
        return LN10 * self.log_k + log_f_edges @ self.incidence

    # σ, ρ (additive mode) ---------------------------------------------------------------------
    def messages(self, c: torch.Tensor) -> torch.Tensor:
        """Σ_{i ∈ sub(j)} σ(c_i, |s_ij|) for c (B, N) → (B, R, msg_dim)."""
        c_e = c[:, self.sub_met]
        s_e = self.substrate_orders().expand_as(c_e)
        msg = self.mlp_sub(torch.stack([c_e / self.c_scale, s_e], dim=-1))  # (B, E, d)
        h = torch.zeros(c.shape[0], self.n_reactions, msg.shape[-1], device=c.device, dtype=msg.dtype)
        return h.index_add(1, self.sub_rxn, msg)

    def rates(self, c: torch.Tensor) -> torch.Tensor:
        if self.aggregation == "product":
            return torch.exp(self.log_rates(c)) * self.has_substrate
        drive = self.mlp_rate(self.messages(c))[..., 0]  # (B, R)
        return torch.exp(LN10 * self.log_k) * F.softplus(drive) * self.has_substrate

    def homeostasis(self, c: torch.Tensor) -> torch.Tensor:
        """MLP_node(c_i, a_i) for c (B, N) → (B, N)."""
        a = self.a.unsqueeze(0).expand(c.shape[0], -1, -1)
        inp = torch.cat([(c / self.c_scale).unsqueeze(-1), a], dim=-1)
        return self.mlp_node(inp)[..., 0]

    def derivative(self, c: torch.Tensor) -> torch.Tensor:
        """dc/dt (B, N) = S v (+ MLP_node)."""
        out = self.rates(c) @ self.stoichiometry().T
        if self.use_homeostasis:
            out = out + self.homeostasis(c)
        return out

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.derivative(batch["x"])
