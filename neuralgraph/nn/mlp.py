"""Multi-layer perceptron used by every family's learned functions."""

from __future__ import annotations

import torch
from torch import nn

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU, "softplus": nn.Softplus}


class MLP(nn.Module):
    """y = L_n ∘ σ ∘ … ∘ σ ∘ L_1 (x), with ``n_layers`` linear layers of width ``hidden``.

    ``zero_last`` initialises the output layer to zero so the function starts at 0 (used for terms
    that should switch on only when the data ask for them, e.g. homeostasis).
    """

    def __init__(
        self, in_dim: int, out_dim: int, hidden: int, n_layers: int, activation: str = "tanh",
        zero_last: bool = False,
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        dims = [in_dim] + [hidden] * (n_layers - 1) + [out_dim]
        layers: list[nn.Module] = []
        for i in range(n_layers):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < n_layers - 1:
                layers.append(_ACTIVATIONS[activation]())
        self.net = nn.Sequential(*layers)
        if zero_last:
            last = self.net[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
