r"""Variable projection for the signal model: W by least squares given ψ* and φ*.

With a linear update (``model.update_type=linear``) and no input or an additive one, the model is
linear in W once its functions are fixed:

    du_i/dt ≈ φ*(u_i, a_i) + Σ_{j≠i} W_ij ψ*(u_j, a_j) + e_i(t)

so every row of W has a closed form on the training frames, with one design X_j(t) = ψ*_j(u_j(t))
shared by all receivers:

    W_i = argmin_w Σ_t (r_i(t) − Σ_{j≠i} w_j X_j(t))² + ρ ‖w‖²,   r_i = du_i/dt − φ*(u_i) − e_i,

ρ = λ · mean_j Σ_t X_j(t)² with λ = :data:`RIDGE` (the known-law oracle's solve, here with the
learned functions: :func:`neuralgraph.families.signal.oracle.rows_without_diagonal`). The
per-neuron loss scale is the same on every frame of a row and drops out.

``training.W_solve_every = k`` replaces W by this solution every k optimiser steps and after the
last one: the alternating form of Golub & Pereyra's variable projection. On signal_fig2 the solve
after the last step is what pays (docs/benchmarks.md, "Full-size runs on this CPU"): Adam's W is
still creeping towards the functions' best W when the schedule ends, and the solve lands on it.
A solve early in training, while ψ* is still far off, does not help.
"""

from __future__ import annotations

import numpy as np
import torch

from neuralgraph.families.signal.oracle import rows_without_diagonal
from neuralgraph.solve_schedule import ScheduledSolve

#: Relative ridge λ of the least squares.
RIDGE = 1e-6
#: Training frames the solve uses at most (evenly strided).
MAX_FRAMES = 20000
#: Frames per chunk when ψ* and φ* are evaluated on the solve's frames.
EVAL_CHUNK = 1024


class SignalWeightSolver(ScheduledSolve):
    """Solves W of a :class:`~neuralgraph.families.signal.model.SignalGNN` on training frames.

    ``u``, ``du`` (frames, N) are the states and targets, ``e`` the given additive input or None.
    The solve comes every ``every`` steps and at step ``total``; the step count lives in the
    model's ``solver_step`` buffer, so a resumed run solves exactly where an uninterrupted one does.
    """

    def __init__(self, u: torch.Tensor, du: torch.Tensor, e: torch.Tensor | None, every: int, total: int) -> None:
        self.frames = torch.arange(0, u.shape[0], max(1, -(-u.shape[0] // MAX_FRAMES)), device=u.device)
        self.u, self.du = u[self.frames], du[self.frames]
        self.e = None if e is None else e[self.frames]
        self.schedule(every, total)

    def design(self, model: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """X (frames, N) = ψ*_j(u_j) and R (frames, N) = du/dt − φ*(u) − e, float64."""
        X, R = [], []
        with torch.no_grad():
            for part in torch.arange(len(self.frames), device=self.u.device).split(EVAL_CHUNK):
                u = self.u[part]
                r = self.du[part] - model.phi_nodes(u)
                if self.e is not None:
                    r = r - self.e[part]
                elif model.field is not None:
                    r = r - model.field(self.frames[part])
                X.append(model.psi_nodes(u).double())
                R.append(r.double())
        return torch.cat(X).cpu().numpy(), torch.cat(R).cpu().numpy()

    def solve(self, model: torch.nn.Module) -> None:
        """W ← the row-wise ridge least squares of the module docstring, in place."""
        X, R = self.design(model)
        n = X.shape[1]
        W = rows_without_diagonal(X.T @ X, X.T @ R, np.arange(n), RIDGE)
        with torch.no_grad():
            model.W.copy_(torch.as_tensor(W, dtype=model.W.dtype, device=model.W.device))
