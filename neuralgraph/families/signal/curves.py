r"""Transfer functions sampled on a grid of activity values: the learned ψ*, φ* and the true ψ, φ.

The grid is in units of u. Its scale is the reference's x_norm = 1.5·std(u) of the training
activity: the scale correction reads ψ on [0.8, 1.0]·x_norm (``evaluation.psi_norm_window``), the
figures draw every function on [−x_norm, x_norm]. Each sampler returns one row per neuron,
(N, points), in float64.

:func:`function_curves` is what ``results.npz`` holds, so a figure never needs the model:

- ``curve_u`` (P,) — the grid, P = 200 points on [−x_norm, x_norm]; ``x_norm`` the scale;
- ``psi_learned`` / ``psi_true`` (N, P) — ψ*_j(u) and ψ_j(u) per sender j, each in its own scale:
  compare row j of ψ* divided by ``sender_scale[j]`` with ψ_j divided by ``sender_level_true[j]``;
- ``phi_learned`` / ``phi_true`` (N, P) — φ*_i(u) and the true own dynamics φ_i(u) per neuron
  (``phi_learned`` only with the linear update, where φ* is a function of u_i alone).
"""

from __future__ import annotations

import numpy as np
import torch

from neuralgraph.families.signal.config import UpdateType
from neuralgraph.families.signal.model import SignalGNN
from neuralgraph.families.signal.simulate import SignalDynamics

#: Points of the grid stored in results.npz.
N_POINTS = 200


def x_norm(u: np.ndarray) -> float:
    """The activity scale of the reference's plots and scale correction: 1.5·std(u)."""
    return 1.5 * float(np.std(u))


def _per_neuron(xs: np.ndarray, model: SignalGNN) -> torch.Tensor:
    """(points, N): every neuron at every grid value."""
    return torch.as_tensor(xs, dtype=torch.float32, device=model.a.device)[:, None].expand(len(xs), model.n)


def psi_learned(model: SignalGNN, xs: np.ndarray) -> np.ndarray:
    """ψ*_j(x) for every sender j at the activity values xs: (N, len(xs))."""
    with torch.no_grad():
        return model.psi_nodes(_per_neuron(xs, model)).T.cpu().numpy().astype(np.float64)


def phi_learned(model: SignalGNN, xs: np.ndarray) -> np.ndarray:
    """φ*_i(x) for every neuron (linear update only): (N, len(xs))."""
    with torch.no_grad():
        return model.phi_nodes(_per_neuron(xs, model)).T.cpu().numpy().astype(np.float64)


def psi_true(dyn: SignalDynamics, n: int, xs: np.ndarray) -> np.ndarray:
    """The true ψ_j(x) per sender: (N, len(xs))."""
    return dyn.psi(np.repeat(xs[:, None], n, axis=1)).T


def phi_true(dyn: SignalDynamics, n: int, xs: np.ndarray) -> np.ndarray:
    """The true own dynamics φ_i(x) per neuron: (N, len(xs))."""
    return dyn.own(np.repeat(xs[:, None], n, axis=1)).T


def function_curves(model: SignalGNN, dyn: SignalDynamics, u: np.ndarray) -> dict[str, np.ndarray]:
    """The curves of the module docstring, as float32 arrays for results.npz."""
    xn = x_norm(u)
    xs = np.linspace(-xn, xn, N_POINTS)
    curves = {
        "curve_u": xs,
        "psi_learned": psi_learned(model, xs),
        "psi_true": psi_true(dyn, model.n, xs),
        "phi_true": phi_true(dyn, model.n, xs),
    }
    if model.update_type == UpdateType.linear:
        curves["phi_learned"] = phi_learned(model, xs)
    out = {key: value.astype(np.float32) for key, value in curves.items()}
    out["x_norm"] = np.float64(xn)
    return out
