r"""Free rollout of a learned fly visual system model on a stimulus movie.

    v_{k+1} = P(v_k + Δt · f_θ(v_k, a, m(v_k), e_k)),    P(v) = clip(nan→0 (v), −100, 100)

from v_0 (no teacher forcing), with :func:`neuralgraph.integrate.euler`. The projection P keeps a
model that blows up scoreable (its traces stay finite and bounded) instead of filling the
prediction with NaN.
"""

from __future__ import annotations

import torch

from neuralgraph.integrate import euler

#: Bound of the projected voltage, far outside the range any simulated neuron visits.
V_BOUND = 100.0


def _project(v: torch.Tensor) -> torch.Tensor:
    return torch.nan_to_num(v, nan=0.0).clamp(-V_BOUND, V_BOUND)


def rollout(model: torch.nn.Module, v0: torch.Tensor, stimulus: torch.Tensor, dt: float) -> torch.Tensor:
    """States (T, N) driven by ``stimulus`` (T, n_col), starting at ``v0`` (N,); row k is v_k."""
    out = torch.empty((stimulus.shape[0], v0.shape[0]), device=v0.device)

    def dv_dt(v: torch.Tensor, k: int) -> torch.Tensor:
        return model.derivative(v, stimulus[k : k + 1])

    def record(k: int, v: torch.Tensor, dv: torch.Tensor) -> None:
        out[k] = v[0]

    with torch.no_grad():
        euler(dv_dt, v0.unsqueeze(0).clone(), stimulus.shape[0], dt, project=_project, record=record)
    return out
