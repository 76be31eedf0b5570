r"""GNN mirroring a metabolic network, with the stoichiometry S given or learned.

    dc_i/dt = MLP_node(c_i, a_i) [+ σ_i (b_i + w_i c_i / c_s)] + Σ_j S_ij v_j

Two ways to combine a reaction's substrates into its rate (``aggregation``):

- ``product``:  v_j = k_j Π_{i ∈ sub(j)} f(c_i, |s_ij|)   (mass-action-like; the default)
- ``additive``: v_j = k_j · softplus(ρ(Σ_{i ∈ sub(j)} σ(c_i, |s_ij|)))   (the seed's msg/rate MLPs;
  the same form as the simulator's MLP rate law)

- ``log_k`` (one per reaction) are the rate constants in log10 units; they start at
  ``log_k_start``, which the family estimates from the observed data and the given graph
  (:mod:`.start`: log10 κ, κ the least-squares scale of y ≈ κ S m(c) + b_i + w_i c_i);
- f (product mode) comes from g = MLP_sub in one of two forms (``substrate_form``):
  ``log`` (the default), ln f(c, s) = g(u(c), s) − g(u(1), s) with u(c) = ln(c / c_s + ε) / 3,
  so that mass action c^s is the straight line s·ln c and f → 0 as c → 0; or ``softplus``, the
  seed's f(c, s) = softplus(g(c / c_s, s)) / softplus(g(1 / c_s, s)), which cannot get near 0.
  With ``sub_normalized`` (both forms) f(1, s) = 1 = 1^s exactly, so the symmetry
  k → α^n k, f → f/α is removed by construction instead of by a penalty; the product over
  substrates is a sum of logs scattered onto reactions;
- σ = MLP_sub (additive, output ``msg_dim``) and ρ = MLP_rate (output 1);
- MLP_node(c, a) is the homeostasis term (``homeostasis``), with a learned per-metabolite
  embedding a_i; its last layer starts at zero so homeostasis switches on only when the data ask.
  ``node_line`` adds a line per metabolite, b_i + w_i c_i / c_s (from zero), in units of the
  metabolite's loss scale σ_i, so that each metabolite's relaxation has parameters of its own;
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
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuralgraph.families.metabolism.config import Aggregation, MetabolismModel, SubstrateForm, SubstrateOrders
from neuralgraph.nn.mlp import MLP

LN10 = math.log(10.0)
#: Log form of MLP_sub: its input is ln(c / c_scale + LOG_EPS) / LOG_WIDTH (c = 0 maps to ≈ −4.6).
LOG_EPS = 1e-6
LOG_WIDTH = 3.0
#: Points of the concentration grid on which ``coeff_MLP_sub_diff`` probes MLP_sub.
N_PROBE = 100
#: log10 k of a model built without a start (neither ``log_k_init`` nor ``cfg.log_k_init``): the
#: family always passes one (estimated from the data, ``start.py``); this is for bare models in tests.
FIXED_LOG_K_INIT = 0.0


@dataclass
class Graph:
    """What the model is told about the network: its sizes and substrate edges, and either

    - S given: ``S`` (n_met × n_rxn) and the reaction order ``sub_s`` of each substrate edge, or
    - S learned: the candidate edges (``edge_met``, ``edge_rxn``) whose coefficients are learned
      (every substrate edge among them).
    """

    n_metabolites: int
    n_reactions: int
    sub_met: torch.Tensor
    sub_rxn: torch.Tensor
    S: torch.Tensor | None = None
    sub_s: torch.Tensor | None = None
    edge_met: torch.Tensor | None = None
    edge_rxn: torch.Tensor | None = None

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], edges: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> "Graph":
        """A dataset's network with S given, or (``edges`` = candidate (metabolites, reactions)) with S learned."""
        n_met, n_rxn = arrays["S"].shape
        sub_met, sub_rxn = torch.as_tensor(arrays["sub_met"]), torch.as_tensor(arrays["sub_rxn"])
        if edges is None:
            return cls(n_met, n_rxn, sub_met, sub_rxn, S=torch.as_tensor(arrays["S"]),
                       sub_s=torch.as_tensor(arrays["sub_s"]))
        return cls(n_met, n_rxn, sub_met, sub_rxn, edge_met=torch.as_tensor(edges[0]),
                   edge_rxn=torch.as_tensor(edges[1]))


class MetabolismGNN(nn.Module):
    """The GNN of the module docstring, built from its config and what the data say.

    ``c_scale`` divides every concentration fed to an MLP; ``log_k_init`` (n_rxn,) are the initial
    log10 k and ``log_k_start`` their scalar centre (the reference of the k floor; their mean when
    None); ``S_init`` the initial coefficients of the candidate edges (learned S; their signs
    follow ``S_sign_constraint``). All of them are parameters or buffers, so a model rebuilt
    from its config and dataset and loaded from its state dict is the trained model.
    """

    def __init__(
        self,
        cfg: MetabolismModel,
        graph: Graph,
        c_scale: float,
        log_k_init: torch.Tensor | None = None,
        S_init: torch.Tensor | None = None,
        node_scale: torch.Tensor | None = None,
        log_k_start: float | None = None,
    ) -> None:
        super().__init__()
        self.learn_stoichiometry = bool(cfg.learn_stoichiometry)
        self.S_sign_constraint = bool(cfg.S_sign_constraint)  # applied by project_signs() after each step
        self.aggregation = Aggregation(cfg.aggregation)
        self.substrate_order_mode = SubstrateOrders(cfg.substrate_orders)
        self.use_homeostasis = bool(cfg.homeostasis)
        self.sub_normalized = bool(cfg.sub_normalized)
        self.substrate_form = SubstrateForm(cfg.substrate_form)
        n_met, n_rxn = graph.n_metabolites, graph.n_reactions
        self.n_metabolites, self.n_reactions = n_met, n_rxn
        if self.learn_stoichiometry:
            self._init_learned_stoichiometry(graph, S_init)
        else:
            self._init_given_stoichiometry(graph)
        self.register_buffer("sub_met", graph.sub_met.long())
        self.register_buffer("sub_rxn", graph.sub_rxn.long())
        # Reaction incidence of substrate edges: sum over a reaction's substrates as one matmul.
        incidence = torch.zeros(len(graph.sub_met), n_rxn)
        incidence[torch.arange(len(graph.sub_met)), graph.sub_rxn.long()] = 1.0
        self.register_buffer("incidence", incidence)
        self.register_buffer("has_substrate", incidence.sum(0) > 0)
        self._init_scales(float(c_scale))

        if log_k_init is None:
            log_k_init = torch.full((n_rxn,), FIXED_LOG_K_INIT if cfg.log_k_init is None else cfg.log_k_init)
        self.log_k = nn.Parameter(log_k_init.float().clone())
        # The scalar start (without the jitter): the reference of training.k_floor_below_start. Taken
        # from the data, so saved with the model like c_scale.
        start = float(log_k_init.float().mean()) if log_k_start is None else float(log_k_start)
        self.register_buffer("log_k_start", torch.tensor(start))
        self.a = nn.Parameter(0.1 * torch.randn(n_met, cfg.embedding_dim))
        if self.aggregation is Aggregation.product:
            self.mlp_sub = MLP(2, 1, cfg.hidden_dim_sub, cfg.n_layers_sub, "tanh")
        else:
            self.mlp_sub = MLP(2, cfg.msg_dim, cfg.hidden_dim_sub, cfg.n_layers_sub, "tanh")
            self.mlp_rate = MLP(cfg.msg_dim, 1, cfg.hidden_dim_rate, cfg.n_layers_rate, "tanh")
        self.mlp_node = MLP(1 + cfg.embedding_dim, 1, cfg.hidden_dim_node, cfg.n_layers_node, "tanh", zero_last=True)
        self.node_line = bool(cfg.node_line)
        self.node_mlp = bool(cfg.node_mlp)
        if self.node_line:
            self.line = nn.Parameter(torch.zeros(2, n_met))  # (b_i, w_i), in units of node_scale
            self.register_buffer("node_scale", torch.ones(n_met) if node_scale is None else node_scale.float().clone())

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # A state dict saved before log_k_start existed: the rebuilt model keeps its own start.
        state_dict.setdefault(prefix + "log_k_start", self.log_k_start.detach().clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _init_given_stoichiometry(self, graph: Graph) -> None:
        if graph.S is None or graph.sub_s is None:
            raise ValueError("S given (model.learn_stoichiometry=false) needs graph.S and graph.sub_s")
        self.register_buffer("S", graph.S.float())
        self.register_buffer("sub_s", graph.sub_s.float())
        s_values, s_index = torch.unique(graph.sub_s.float(), return_inverse=True)
        self.register_buffer("s_values", s_values)  # distinct reaction orders
        self.register_buffer("sub_s_index", s_index.long())

    def _init_learned_stoichiometry(self, graph: Graph, S_init: torch.Tensor | None) -> None:
        if graph.edge_met is None or graph.edge_rxn is None:
            raise ValueError("learned S needs the candidate edges graph.edge_met and graph.edge_rxn")
        edge_met, edge_rxn = graph.edge_met.long(), graph.edge_rxn.long()
        self.register_buffer("edge_met", edge_met)
        self.register_buffer("edge_rxn", edge_rxn)
        lookup = {(m, r): e for e, (m, r) in enumerate(zip(edge_met.tolist(), edge_rxn.tolist()))}
        substrates = list(zip(graph.sub_met.tolist(), graph.sub_rxn.tolist()))
        missing = [edge for edge in substrates if edge not in lookup]
        if missing:
            raise ValueError(f"{len(missing)} substrate edges are not candidate edges, e.g. {missing[:3]}")
        sub_to_edge = torch.tensor([lookup[edge] for edge in substrates], dtype=torch.long)
        self.register_buffer("sub_to_edge", sub_to_edge)
        is_sub = torch.zeros(len(edge_met), dtype=torch.bool)
        is_sub[sub_to_edge] = True
        self.register_buffer("edge_is_substrate", is_sub)
        init = S_init if S_init is not None else 0.1 * torch.randn(len(edge_met))
        if self.S_sign_constraint:  # start on the constraint: substrates negative, the others positive
            init = init.abs() * torch.where(is_sub, -1.0, 1.0)
        self.sto = nn.Parameter(init.float().clone())
        # the centre of training.coeff_S_prior; rebuilt from the config, so not saved with the model
        self.register_buffer("sto_start", init.float().clone(), persistent=False)
        if self.substrate_order_mode is SubstrateOrders.free:
            # a separate learnable |s| per substrate edge (the older reference's sto_sub), from 1
            self.sto_sub = nn.Parameter(torch.ones(len(graph.sub_met)))

    def _init_scales(self, c_scale: float) -> None:
        """Buffers derived from the data: saved with the model, so a reload needs no recomputation."""
        self.register_buffer("c_scale", torch.tensor(c_scale))
        # MLP_sub must not decrease in c: compared at c and c + probe_dc on a grid past the data.
        self.register_buffer("probe_c", torch.linspace(0.0, 3.0 * c_scale, N_PROBE).unsqueeze(-1))
        self.register_buffer("probe_dc", torch.tensor(0.01 * c_scale))

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
            if self.substrate_order_mode is SubstrateOrders.free:
                return self.sto_sub.abs()
            return self.sto[self.sub_to_edge].abs()
        return self.sub_s

    @torch.no_grad()
    def project_signs(self) -> None:
        """Substrate edges ≤ 0, every other candidate edge ≥ 0 (learned S only)."""
        sub = self.edge_is_substrate
        self.sto.data = torch.where(sub, self.sto.clamp(max=0.0), self.sto.clamp(min=0.0))

    # f(c, s) (product mode) ------------------------------------------------------------------
    def _g(self, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """g(c, s) for broadcastable c and s: MLP_sub of c / c_scale, or of ln(c / c_scale + ε) / LOG_WIDTH."""
        c, s = torch.broadcast_tensors(c, s)
        if self.substrate_form is SubstrateForm.log:
            c = torch.log(torch.clamp(c, min=0.0) / self.c_scale + LOG_EPS) / LOG_WIDTH
        else:
            c = c / self.c_scale
        return self.mlp_sub(torch.stack([c, s], dim=-1))[..., 0]

    def log_substrate(self, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """ln f(c, s); with ``sub_normalized``, f(1, s) = 1 (in the log form: g(c, s) − g(1, s))."""
        if self.substrate_form is not SubstrateForm.log:
            return torch.log(self.substrate(c, s) + 1e-30)
        g = self._g(c, s)
        return g - self._g(torch.ones_like(s), s) if self.sub_normalized else g

    def substrate_raw(self, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """The unnormalised substrate term: softplus(g(c, s)), or exp g(c, s) in the log form."""
        if self.substrate_form is SubstrateForm.log:
            return torch.exp(self._g(c, s))
        return F.softplus(self._g(c, s))

    def substrate(self, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """f(c, s); with ``sub_normalized``, divided by f(1, s) so that f(1, s) = 1."""
        if self.substrate_form is SubstrateForm.log:
            return torch.exp(self.log_substrate(c, s))
        raw = self.substrate_raw(c, s)
        if self.sub_normalized:
            raw = raw / self.substrate_raw(torch.ones_like(s), s)
        return raw

    def log_rates(self, c: torch.Tensor) -> torch.Tensor:
        """ln v_j for a batch of states c (B, N) → (B, R) (product mode)."""
        if self.learn_stoichiometry:
            log_f_edges = self.log_substrate(c[:, self.sub_met], self.substrate_orders())  # (B, E)
        else:
            log_f = self.log_substrate(c.unsqueeze(-1), self.s_values)  # (B, N, n_s)
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
        if self.aggregation is Aggregation.product:
            return torch.exp(self.log_rates(c)) * self.has_substrate
        drive = self.mlp_rate(self.messages(c))[..., 0]  # (B, R)
        return torch.exp(LN10 * self.log_k) * F.softplus(drive) * self.has_substrate

    def homeostasis(self, c: torch.Tensor) -> torch.Tensor:
        """MLP_node(c_i, a_i) (+ the per-metabolite line) for c (B, N) → (B, N)."""
        a = self.a.unsqueeze(0).expand(c.shape[0], -1, -1)
        inp = torch.cat([(c / self.c_scale).unsqueeze(-1), a], dim=-1)
        out = self.mlp_node(inp)[..., 0] if self.node_mlp else torch.zeros_like(c)
        if self.node_line:
            out = out + self.node_scale * (self.line[0] + self.line[1] * c / self.c_scale)
        return out

    def derivative(self, c: torch.Tensor) -> torch.Tensor:
        """dc/dt (B, N) = S v (+ MLP_node)."""
        out = self.rates(c) @ self.stoichiometry().T
        if self.use_homeostasis:
            out = out + self.homeostasis(c)
        return out

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.derivative(batch["x"])
