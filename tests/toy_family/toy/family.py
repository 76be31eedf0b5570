"""The toy family's simulator, model and glue: recover A of dx/dt = A·x from (x, dx/dt) pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from neuralgraph.family import Family, TrainData, adam_group
from neuralgraph.integrate import trajectory
from neuralgraph.metrics import r2_score
from neuralgraph.plotting import plot_loss, save, scatter_true_learned

import matplotlib.pyplot as plt  # after neuralgraph.plotting, which selects the Agg backend

from .config import ToyModel, ToySimulation


def true_matrix(sim: ToySimulation, rng: np.random.Generator) -> np.ndarray:
    """A = −γ·I + (M − Mᵀ)/√2, M ~ N(0, ω²/N): eigenvalues −γ ± iλ, so every trajectory decays."""
    n = sim.n_nodes
    m = rng.normal(0.0, sim.rotation / np.sqrt(n), (n, n))
    return -sim.damping * np.eye(n) + (m - m.T) / np.sqrt(2.0)


class LinearField(torch.nn.Module):
    """dx/dt = Â·x for a batch (B, N); Â is the only parameter, so the state dict is the model."""

    def __init__(self, n_nodes: int, cfg: ToyModel, generator: torch.Generator):
        super().__init__()
        init = torch.randn(n_nodes, n_nodes, generator=generator) * cfg.init_scale / n_nodes**0.5
        self.A = torch.nn.Parameter(init)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return batch["x"] @ self.A.T


def learned(model: LinearField) -> np.ndarray:
    return model.A.detach().cpu().numpy().astype(np.float64)


class ToyFamily(Family):
    name = "toy"

    def simulate(self, sim: ToySimulation) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(sim.seed)
        A = true_matrix(sim, rng)
        x0 = rng.normal(0.0, 1.0, (sim.n_runs, sim.n_nodes))
        x, dx, _ = trajectory(lambda s, t: s @ A.T, x0, sim.n_frames, sim.delta_t, derivatives=True)
        # (frames, runs, N) -> (frames·runs, N): every frame of every run is one training sample.
        return {"x": x.reshape(-1, sim.n_nodes).astype(np.float32),
                "y": dx.reshape(-1, sim.n_nodes).astype(np.float32), "A": A}

    def build(self, arrays: Mapping[str, np.ndarray], cfg: Any, device: torch.device) -> tuple[torch.nn.Module, TrainData]:
        n = int(arrays["A"].shape[0])
        generator = torch.Generator().manual_seed(int(cfg.training.seed))
        model = LinearField(n, cfg.model, generator).to(device)
        data = TrainData(x=torch.as_tensor(arrays["x"], device=device), y=torch.as_tensor(arrays["y"], device=device),
                         target_scale=torch.ones(n, device=device))
        return model, data

    def param_groups(self, model: torch.nn.Module, training: Any) -> list[dict[str, Any]]:
        return [adam_group("A", [model.A], training.lr_A, training.lr)]

    def regularizers(self, model, batch, pred, training, clock) -> dict[str, torch.Tensor]:
        if training.coeff_A_L1 <= 0:
            return {}
        return {"A_L1": training.coeff_A_L1 * model.A.abs().sum()}

    def live_metric(self, model: torch.nn.Module, arrays: Mapping[str, np.ndarray]) -> float:
        return r2_score(arrays["A"].ravel(), learned(model).ravel())

    def evaluate(self, model, arrays, cfg, device) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        A_learned = learned(model)
        return {"A_R2": r2_score(arrays["A"].ravel(), A_learned.ravel())}, {"A_true": arrays["A"], "A_learned": A_learned}

    def plot(self, arrays, results, metrics, history, plot_dir: Path, cfg: Any) -> None:
        plot_loss(history, plot_dir / "loss.png")
        fig, ax = plt.subplots(figsize=(4, 4))
        scatter_true_learned(ax, results["A_true"].ravel(), results["A_learned"].ravel(), "A",
                             title=f"A_R2 = {metrics['A_R2']:.3f}")
        save(fig, plot_dir / "A.png")


FAMILY = ToyFamily()
