"""SIREN: an MLP with sine activations (Sitzmann et al., 2020), for smooth fields of time/space.

    h_1 = sin(ω₀ (W_1 x + b_1)),  h_k = sin(W_k h_{k−1} + b_k),  y = W_L h_{L−1} + b_L

First-layer weights ~ U(−1/d_in, 1/d_in); hidden weights ~ U(−√(6/d)/ω_h, √(6/d)/ω_h) with the
hidden layers' sine taken as sin(ω_h ·), ω_h = 30, which keeps activations distributed
as arcsine through depth. The last layer is linear.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SineLayer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, omega: float, first: bool) -> None:
        super().__init__()
        self.omega = omega
        self.linear = nn.Linear(in_dim, out_dim)
        bound = 1.0 / in_dim if first else math.sqrt(6.0 / in_dim) / omega
        nn.init.uniform_(self.linear.weight, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.omega * self.linear(x))


class Siren(nn.Module):
    """``n_layers`` layers: sine layers of width ``hidden`` then a linear output layer."""

    def __init__(
        self, in_dim: int, out_dim: int, hidden: int = 128, n_layers: int = 3, omega_first: float = 30.0,
        omega_hidden: float = 30.0, out_scale: float = 1e-2,
    ) -> None:
        super().__init__()
        if n_layers < 2:
            raise ValueError(f"a SIREN needs n_layers >= 2, got {n_layers}")
        layers: list[nn.Module] = [SineLayer(in_dim, hidden, omega_first, first=True)]
        for _ in range(n_layers - 2):
            layers.append(SineLayer(hidden, hidden, omega_hidden, first=False))
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(hidden, out_dim)
        bound = math.sqrt(6.0 / hidden) / omega_hidden
        nn.init.uniform_(self.out.weight, -bound * out_scale, bound * out_scale)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))
