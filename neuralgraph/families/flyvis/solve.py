r"""Variable projection for the additive fly model: W by least squares given f_θ and g_φ.

With ``model.update_type=additive`` the model is linear in the weights once its functions are fixed:

    dv_i/dt ≈ f_θ(v_i, a_i, e_i) + Σ_{j→i} W_ij G_j(t),     G_j(t) = g_φ(v_j(t), a_j)

so each neuron's in-weights w = (W_ij)_{j→i} have a closed form on the training frames,

    w = argmin_w Σ_t (y_i(t) − f_i(t) − Σ_j w_j G_j(t))² + ρ_i ‖w‖²,     ρ_i = λ · mean_j Σ_t G_j(t)²

(the per-neuron loss weight 1/s_i² is the same for all of a neuron's frames and drops out;
λ = :data:`RIDGE` only keeps the weights of senders that never leave the floor of g_φ at 0).
``training.W_solve_every = k`` replaces W by this solution every k optimiser steps and after the
last one, between which Adam moves the functions (and W) as usual: the alternating form of
Golub & Pereyra's variable projection, where the gradients are left to the nonlinear parts. The
last solve matters most: whatever the functions are after training, W is the best one for them
rather than the point where Adam stopped, so an edge whose sender is rarely active (and rarely
in a mini-batch) is not left half-learned.

The solve uses up to :data:`MAX_FRAMES` evenly strided training frames; targets are processed in
blocks of similar in-degree, padded to the block's largest one, so that the work is a few
batched matrix products on any device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from neuralgraph.solve_schedule import ScheduledSolve

#: Relative ridge λ of the per-neuron least squares.
RIDGE = 1e-6
#: Training frames the solve uses at most (evenly strided).
MAX_FRAMES = 4000
#: Frames per chunk when the functions are evaluated on the solve's frames.
EVAL_CHUNK = 500
#: Elements (frames × targets × in-degree) of one padded block of the design.
BLOCK_ELEMENTS = 1 << 23


@dataclass
class _Block:
    """Targets of similar in-degree: their senders and edges, padded to the block's widest target."""

    targets: torch.Tensor  # (B,)
    senders: torch.Tensor  # (B, D), 0 where padded
    edges: torch.Tensor  # (B, D), 0 where padded
    mask: torch.Tensor  # (B, D) bool, True on real edges


def _blocks(src: np.ndarray, tgt: np.ndarray, n: int, n_frames: int, device: torch.device) -> list[_Block]:
    order = np.argsort(tgt, kind="stable")
    by_target = np.split(order, np.cumsum(np.bincount(tgt, minlength=n))[:-1])
    targets = [i for i in np.argsort([len(e) for e in by_target], kind="stable") if len(by_target[i])]
    blocks, start = [], 0
    while start < len(targets):
        width = len(by_target[targets[start]])
        stop = start + 1
        # Sorted by in-degree: the last target of a block is its widest one.
        while stop < len(targets) and n_frames * (stop + 1 - start) * len(by_target[targets[stop]]) <= BLOCK_ELEMENTS:
            width = len(by_target[targets[stop]])
            stop += 1
        chunk = targets[start:stop]
        edges = np.zeros((len(chunk), width), dtype=np.int64)
        mask = np.zeros((len(chunk), width), dtype=bool)
        for row, i in enumerate(chunk):
            edges[row, : len(by_target[i])] = by_target[i]
            mask[row, : len(by_target[i])] = True
        blocks.append(_Block(*(torch.as_tensor(a, device=device)
                               for a in (np.asarray(chunk, dtype=np.int64), src[edges] * mask, edges, mask))))
        start = stop
    return blocks


class WeightSolver(ScheduledSolve):
    """Solves W of an additive :class:`~neuralgraph.families.flyvis.model.FlyVisGNN` on training frames.

    ``x``, ``y`` (frames, N) are the states and targets; ``stimulus`` (frames, n_columns) the given
    luminance, or ``None`` when the model learns its visual field (it is then evaluated at the
    frame numbers). ``every`` and ``total`` set when :meth:`after_step` solves (every ``every``
    steps and at step ``total``); the step count lives in the model's ``solver_step`` buffer, so a
    resumed run solves exactly where an uninterrupted one does.
    """

    def __init__(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, stimulus: torch.Tensor | None,
                 every: int, total: int) -> None:
        frames = torch.arange(0, x.shape[0], max(1, -(-x.shape[0] // MAX_FRAMES)), device=x.device)
        self.frames, self.x, self.y = frames, x[frames], y[frames]
        self.x_all, self.y_all = x, y  # references: a projected field is re-solved on every frame
        self.stimulus = None if stimulus is None else stimulus[frames]
        self.schedule(every, total)
        src, tgt = model.edge_src.cpu().numpy(), model.edge_tgt.cpu().numpy()
        self.blocks = _blocks(src, tgt, x.shape[1], len(frames), x.device)

    def _design(self, model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """G (frames, N) = g_φ per neuron and R = y − f_θ(v, a, e) (the part of dv/dt left to the messages)."""
        G, R = [], []
        with torch.no_grad():
            for part in torch.arange(len(self.frames), device=self.x.device).split(EVAL_CHUNK):
                v = self.x[part]
                lum = model.field_values(self.frames[part]) if self.stimulus is None else self.stimulus[part]
                f = model.f(v, model.a, torch.zeros_like(v), model.external_input(lum, v))
                G.append(model.g(v, model.a).double())
                R.append(self.y[part].double() - f.double())
        return torch.cat(G), torch.cat(R)

    def solve(self, model: torch.nn.Module) -> None:
        """W ← the per-neuron ridge least squares of the module docstring, in place.

        A projected field (``model.field_type=projected``) is re-solved on every training frame before
        (W's design needs the input) and after (the input needs the new W's messages).
        """
        if model.project_field:
            model.project_all(self.x_all, self.y_all)
        self._solve_W(model)
        if model.project_field:
            model.project_all(self.x_all, self.y_all)

    def _solve_W(self, model: torch.nn.Module) -> None:
        G, R = self._design(model)
        W = model.W.detach().double().clone()
        for b in self.blocks:
            X = G[:, b.senders] * b.mask  # (frames, B, D)
            A = torch.einsum("tbd,tbe->bde", X, X)
            rhs = torch.einsum("tbd,tb->bd", X, R[:, b.targets])
            diag = torch.diagonal(A, dim1=1, dim2=2)
            rho = RIDGE * (diag * b.mask).sum(1) / b.mask.sum(1) + 1e-12
            # Padded slots get a unit diagonal (their solution is 0), real ones the ridge.
            diag += torch.where(b.mask, rho[:, None], torch.ones_like(diag))
            w = torch.linalg.solve(A, rhs)
            W[b.edges[b.mask]] = w[b.mask]
        with torch.no_grad():
            model.W.copy_(W.to(model.W.dtype))
