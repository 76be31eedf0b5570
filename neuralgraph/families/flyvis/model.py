r"""GNN mirroring the fly visual system on the known connectome.

    dv_i/dt = f_θ(v_i, a_i, m_i, e_i),     m_i = Σ_{j→i} W_ji · g_φ(v_j, a_j)²     (``update_type=generic``)
    dv_i/dt = f_θ(v_i, a_i, e_i) + m_i                                          (``update_type=additive``)

- ``W`` — one learnable weight per known synapse (the edge list is given), plus optional extra
  "null" edges whose true weight is 0;
- ``a`` — a learned embedding per neuron (2-D by default), shared by f_θ and g_φ: neurons of a
  cell type should end up together;
- g_φ (``lin_edge``) depends on the sender only, so it is evaluated once per neuron and gathered
  onto the edges; squared, it is non-negative and messages take the sign of W (the truth is
  ReLU(v_j)). ``g_phi_embedding=False`` makes it one function g_φ(v) for every neuron: a sender
  that is rarely above threshold then borrows the shape of its threshold from all the others.
  ``g_phi_zero_floor`` measures it from the bottom of the observed voltages,
  g_φ(v, a) − g_φ(v_lo, a) (squared afterwards when ``g_phi_positive``): a silent sender sends
  exactly 0. Without it, an offset c_j of g_φ below threshold adds Σ_j W_ij c_j to every
  receiver, a constant per *neuron* that f_θ can only cancel through the embedding it shares
  with the whole cell type;
- with ``update_type=additive`` the model is linear in W given the functions, so
  :mod:`~neuralgraph.families.flyvis.solve` can set W by least squares (variable projection);
- messages are summed per receiver with ``index_add_`` — no per-edge MLP, no graph objects;
- f_θ (``lin_phi``) is evaluated once per neuron; the truth is (−v + V_rest + m + e)/τ;
- e_i is the visual input of R1–R8 (0 elsewhere): the true luminance when it is given, or, when it
  is treated as unknown, a SIREN field Ω(x, y, t)² over the photoreceptor columns
  (``field_type=visual``) or one value Ω_c(t) per frame and column solved from the data
  (``field_type=projected``, below).

Projected field. With ``field_type=projected`` (additive model) the input enters linearly,

    dv_i/dt = f_θ(v_i, a_i) + m_i + b_i Ω_c(i)(t),

with a learned gain b_i per photoreceptor (the truth's is 1/τ_i). Given the model, each
column's Ω_c(t) is then a one-unknown weighted least squares over its photoreceptors,

    Ω_c(t) = Σ_{i∈c} w_i b_i r_i(t) / Σ_{i∈c} w_i b_i²,     r_i = y_i − f_θ(v_i, a_i) − m_i,

with w_i = 1/s_i² the loss weights of the training objective. Every training step solves it for
its frames (variable projection: Ω is the exact minimiser, so the gradient of the loss with
respect to the other parameters is the same with Ω held fixed) and keeps it in ``field_table``;
the W solve re-solves every frame with the final model. A field over 16,000 frames of
piecewise stimuli is out of reach of a SIREN trained in minutes (fitted to the true movie
directly: benchmarks/results/full_size/flyvis_siren_capacity.txt), and the data fix each frame
on its own.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from neuralgraph.families.flyvis.config import EmbeddingInit, FieldType, FlyVisModel, UpdateType, WInit
from neuralgraph.nn.mlp import MLP
from neuralgraph.nn.siren import Siren


def _refresh_voltage_range(model: FlyVisGNN, incompatible_keys) -> None:
    model._range = (float(model.v_lo), float(model.v_hi), float(model.v_norm))


class FlyVisGNN(nn.Module):
    """The GNN of :mod:`neuralgraph.families.flyvis`, built from its config and the dataset's wiring.

    ``edge_src``/``edge_tgt`` (E,) are the synapses j → i (the connectome's, then any null edges);
    ``input_nodes`` the photoreceptors and ``input_col`` their columns; ``column_xy`` (n_col, 2)
    the column positions (the field's space input). ``v_lo``, ``v_hi`` and ``v_norm`` are ranges of
    the observed voltages that the g_φ regularisers probe (see :meth:`voltage_range`);
    ``live_edges`` (E,) marks the edges the progress metric scores (all when omitted).
    """

    def __init__(
        self,
        cfg: FlyVisModel,
        n_neurons: int,
        edge_src: torch.Tensor,
        edge_tgt: torch.Tensor,
        input_nodes: torch.Tensor,
        input_col: torch.Tensor,
        column_xy: torch.Tensor,
        *,
        v_lo: float,
        v_hi: float,
        v_norm: float,
        live_edges: torch.Tensor | None = None,
        n_frames: int = 0,
    ) -> None:
        super().__init__()
        self.n_neurons = int(n_neurons)
        self.register_buffer("edge_src", edge_src.long())
        self.register_buffer("edge_tgt", edge_tgt.long())
        self.register_buffer("input_nodes", input_nodes.long())
        self.register_buffer("input_col", input_col.long())
        radius = float(column_xy.abs().max().clamp_min(1.0))
        self.register_buffer("column_xy", column_xy.float() / (radius * cfg.nnr_f_xy_period))
        self.n_columns = int(column_xy.shape[0])
        # float64, so that a reloaded model regularises with exactly the floats it was built with.
        for name, value in (("v_lo", v_lo), ("v_hi", v_hi), ("v_norm", v_norm)):
            self.register_buffer(name, torch.tensor(float(value), dtype=torch.float64))
        # The regularisers read them as Python floats on every step; a copy refreshed whenever a
        # state dict is loaded spares a device-to-host sync per step on a GPU.
        self._range = (float(v_lo), float(v_hi), float(v_norm))
        self.register_load_state_dict_post_hook(_refresh_voltage_range)
        # The live metric's mask is a property of the training data that build() derives with the
        # voltage ranges (one pass over the sampled frames); it never shapes the loss, so it stays
        # out of the state dict (build recomputes it for a model that trains again).
        n_edges = int(edge_src.shape[0])
        live = torch.ones(n_edges, dtype=torch.bool) if live_edges is None else live_edges.bool()
        self.register_buffer("live_edges", live, persistent=False)
        if cfg.W_init == WInit.zeros:
            w0 = torch.zeros(n_edges)
        else:
            w0 = torch.randn(n_edges) * cfg.W_init_scale / math.sqrt(max(n_edges, 1))
        self.W = nn.Parameter(w0)
        if cfg.embedding_init == EmbeddingInit.ones:
            a0 = torch.ones(n_neurons, cfg.embedding_dim)
        else:
            a0 = 1.0 + 0.1 * torch.randn(n_neurons, cfg.embedding_dim)
        self.a = nn.Parameter(a0)
        self.g_phi_positive = cfg.g_phi_positive
        self.g_phi_embedding = cfg.g_phi_embedding
        self.g_phi_zero_floor = cfg.g_phi_zero_floor
        self.additive = cfg.update_type == UpdateType.additive
        g_inputs = 1 + (cfg.embedding_dim if cfg.g_phi_embedding else 0)
        self.lin_edge = MLP(g_inputs, 1, cfg.hidden_dim, cfg.n_layers, cfg.g_phi_activation)
        self.project_field = cfg.field_type == FieldType.projected
        f_inputs = (1 if self.project_field else 2 if self.additive else 3) + cfg.embedding_dim
        self.lin_phi = MLP(f_inputs, 1, cfg.hidden_dim_update, cfg.n_layers_update, cfg.f_theta_activation)
        self.learn_field = cfg.field_type in (FieldType.visual, FieldType.projected)
        if self.project_field:
            self._init_projected_field(int(n_frames))
        self.t_scale = 2 * math.pi / float(cfg.nnr_f_T_period)
        self.field = (
            Siren(3, 1, cfg.hidden_dim_nnr_f, cfg.n_layers_nnr_f, omega_first=cfg.omega_f, omega_hidden=cfg.omega_f)
            if cfg.field_type == FieldType.visual else None
        )
        if self.field is not None:
            # Start as a uniform grey (Ω² ≈ 0.5) with small structure: f_θ then sees a usable input
            # and Ω gets gradient (a field starting at Ω ≈ 0 would be stuck, since dΩ²/dΩ = 2Ω).
            nn.init.constant_(self.field.out.bias, math.sqrt(0.5))

    def _init_projected_field(self, n_frames: int) -> None:
        # b_i of R1–R8: the truth's is 1/τ_i > 0, and 1 starts every column's solve well posed.
        n_inputs = len(self.input_nodes)
        self.input_gain = nn.Parameter(torch.ones(n_inputs))
        # Ω_c(t) of every training frame; grey until a step (or the final solve) visits the frame.
        self.register_buffer("field_table", torch.full((n_frames, self.n_columns), 0.5))
        # The loss weights 1/s_i² of the photoreceptors (set_loss_weights), rebuilt with the data.
        self.register_buffer("field_weight", torch.ones(n_inputs), persistent=False)
        # The synapses onto R1–R8 and their targets' rows among the inputs: project_all needs the
        # photoreceptors' messages only (a few % of the edges).
        row = torch.full((self.n_neurons,), -1, dtype=torch.long)
        row[self.input_nodes] = torch.arange(n_inputs)
        onto = (row[self.edge_tgt] >= 0).nonzero()[:, 0]
        self.register_buffer("onto_inputs", onto, persistent=False)
        self.register_buffer("onto_inputs_row", row[self.edge_tgt[onto]], persistent=False)

    def voltage_range(self) -> tuple[float, float, float]:
        """``(v_lo, v_hi, v_norm)``: the span of the observed voltages and a typical active value."""
        return self._range

    # pieces ------------------------------------------------------------------------------------
    def _edge_mlp(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The raw ``lin_edge`` output at voltages v (..., N) of neurons with embeddings a (N, d)."""
        if not self.g_phi_embedding:
            return self.lin_edge(v.unsqueeze(-1))[..., 0]
        return self.lin_edge(torch.cat([v.unsqueeze(-1), a.expand(*v.shape, a.shape[-1])], dim=-1))[..., 0]

    def g(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """g_φ(v, a) (from its floor, then squared, as configured); v (..., N), a (N, d) broadcast → (..., N)."""
        out = self._edge_mlp(v, a)
        if self.g_phi_zero_floor:
            # One evaluation per neuron (not per frame), broadcast over the leading dimensions.
            out = out - self._edge_mlp(torch.full(a.shape[:-1], self._range[0], device=v.device), a)
        return out * out if self.g_phi_positive else out

    def f(self, v: torch.Tensor, a: torch.Tensor, msg: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """f_θ(v, a, m, e), or f_θ(v, a, e) + m when additive, per neuron; all (..., N) except a (N, d)."""
        a = a.expand(*v.shape, a.shape[-1])
        if self.project_field:
            return self.lin_phi(torch.cat([v.unsqueeze(-1), a], dim=-1))[..., 0] + msg + e
        if self.additive:
            return self.lin_phi(torch.cat([v.unsqueeze(-1), a, e.unsqueeze(-1)], dim=-1))[..., 0] + msg
        return self.lin_phi(torch.cat([v.unsqueeze(-1), a, msg.unsqueeze(-1), e.unsqueeze(-1)], dim=-1))[..., 0]

    def messages(self, v: torch.Tensor) -> torch.Tensor:
        """m (B, N) = Σ_{j→i} W · g_φ(v_j, a_j)²: g per neuron, gathered per edge, summed per receiver."""
        g = self.g(v, self.a)
        contrib = g[:, self.edge_src] * self.W
        return torch.zeros_like(v).index_add_(1, self.edge_tgt, contrib)

    def field_values(self, frames: torch.Tensor) -> torch.Tensor:
        """Ω(x, y, t)² (or the projected Ω_c(t)) at every photoreceptor column: (B,) frame numbers → (B, n_columns)."""
        if self.project_field:
            return self.field_table[frames]
        t = frames.float().unsqueeze(-1).unsqueeze(-1) * self.t_scale
        xy = self.column_xy.unsqueeze(0).expand(frames.shape[0], -1, -1)
        inp = torch.cat([xy, t.expand(-1, self.n_columns, 1)], dim=-1)
        out = self.field(inp)[..., 0]
        return out * out

    def set_loss_weights(self, scale: torch.Tensor) -> None:
        """The per-neuron target scales s (N,) of the training loss; the field solve weighs by 1/s²."""
        if self.project_field:
            self.field_weight.copy_(scale[self.input_nodes].to(self.field_weight).pow(-2))

    def project(self, frames: torch.Tensor, base: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Ω_c(t) (B, n_columns) of the module docstring for the frames ``frames`` (B,), stored in ``field_table``.

        ``base`` (B, n_inputs) is the photoreceptors' dv/dt without their input, f_θ(v, a) + m, and
        ``y`` (B, n_inputs) their targets.
        """
        with torch.no_grad():
            r = y - base
            wb = self.field_weight * self.input_gain
            num = torch.zeros(r.shape[0], self.n_columns, device=r.device, dtype=r.dtype)
            num.index_add_(1, self.input_col, r * wb)
            den = torch.zeros(self.n_columns, device=r.device, dtype=r.dtype)
            den.index_add_(0, self.input_col, wb * self.input_gain)
            # A column whose gains all went to 0 carries no information on its input: it stays 0.
            lum = num / torch.where(den.abs() > 1e-12, den, torch.ones_like(den)) * (den.abs() > 1e-12)
            self.field_table[frames] = lum
        return lum

    def project_all(self, x: torch.Tensor, y: torch.Tensor, chunk: int = 256) -> None:
        """Re-solve Ω_c(t) of every training frame (x, y (frames, N)) with the current model."""
        inputs, a = self.input_nodes, self.a[self.input_nodes]
        with torch.no_grad():
            for frames in torch.arange(x.shape[0], device=x.device).split(chunk):
                v = x[frames]
                contrib = self.g(v, self.a)[:, self.edge_src[self.onto_inputs]] * self.W[self.onto_inputs]
                msg = torch.zeros(v.shape[0], len(inputs), device=v.device, dtype=v.dtype)
                msg.index_add_(1, self.onto_inputs_row, contrib)
                v_in = v[:, inputs]
                base = self.f(v_in, a, msg, torch.zeros_like(v_in))
                self.project(frames, base, y[frames][:, inputs])

    def external_input(self, luminance: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """e (B, N): the column luminance (B, n_col) on R1–R8 (times b_i when projected), 0 elsewhere."""
        e = torch.zeros_like(v)
        lum = luminance[:, self.input_col]
        e[:, self.input_nodes] = lum * self.input_gain if self.project_field else lum
        return e

    def derivative(self, v: torch.Tensor, luminance: torch.Tensor) -> torch.Tensor:
        return self.f(v, self.a, self.messages(v), self.external_input(luminance, v))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        v = batch["x"]
        if self.project_field and "y" in batch:
            base = self.f(v, self.a, self.messages(v), torch.zeros_like(v))
            lum = self.project(batch["frame"], base[:, self.input_nodes], batch["y"][:, self.input_nodes])
            return base + self.external_input(lum, v)
        lum = self.field_values(batch["frame"]) if self.learn_field else batch["stimulus"]
        return self.derivative(v, lum)
