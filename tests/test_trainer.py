"""The shared trainer: step count convention, learning-rate groups, divergence stop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from neuralgraph.config.base import TrainingBase
from neuralgraph.family import Family, TrainData
from neuralgraph.family import adam_group
from neuralgraph.trainer import steps_per_epoch, train


def test_steps_per_epoch_is_the_users_convention():
    # The seeds: 2880 frames, dal 1000, batch 8 -> 72,000 steps.
    assert steps_per_epoch(2880, 1000, 8) == 72000
    assert steps_per_epoch(10, 1, 64) == 1


def test_zero_learning_rate_falls_back():
    p = [torch.nn.Parameter(torch.zeros(1))]
    assert adam_group("k", p, 0.0, 1e-3)["lr"] == 1e-3
    assert adam_group("k", p, 5e-3, 1e-3)["lr"] == 5e-3


class Linear(Family):
    """y = w·x fitted by the shared trainer; ``blow_up`` multiplies the prediction each step."""

    name = "toy"
    primary_metric = "w"

    def __init__(self, blow_up: float = 1.0):
        self.blow_up = blow_up

    def simulate(self, sim_cfg):
        return {}

    def build(self, arrays, cfg, device):
        raise NotImplementedError

    def param_groups(self, model, t):
        return [adam_group("w", model.parameters(), t.lr, t.lr)]

    def after_step(self, model, t):
        with torch.no_grad():
            model.weight.mul_(self.blow_up)

    def live_metric(self, model, arrays):
        return float(model.weight.item())

    def evaluate(self, model, arrays, cfg, device):
        return {}, {}


class LinearModel(torch.nn.Linear):
    def forward(self, batch):
        return super().forward(batch["x"].unsqueeze(-1))[..., 0]


def fit(family, lr=0.05, dal=200):
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 100).unsqueeze(-1).repeat(1, 3)
    data = TrainData(x=x, y=2.0 * x, target_scale=torch.ones(3))
    model = LinearModel(1, 1, bias=False)
    cfg = OmegaConf.create({"training": OmegaConf.structured(TrainingBase)})
    cfg.training.lr = lr
    cfg.training.batch_size = 10
    cfg.training.data_augmentation_loop = dal
    return model, train(family, model, data, {}, cfg, torch.device("cpu"), progress=False)


def test_trainer_fits_a_line():
    model, result = fit(Linear())
    assert result.status == "ok"
    assert result.n_steps == steps_per_epoch(100, 200, 10)
    assert abs(model.weight.item() - 2.0) < 1e-2
    assert result.final_loss < 1e-3
    assert len(result.history["step"]) == len(result.history["live"]) > 10


def test_divergence_stops_the_run_early():
    _, result = fit(Linear(blow_up=10.0), dal=2000)
    assert result.status == "diverged"
    assert "loss became" in result.error
    assert result.n_steps < steps_per_epoch(100, 2000, 10)
    assert math.isnan(result.final_loss)
    assert np.isfinite(result.history["step"]).all()


def test_cosine_schedule_decays_to_the_final_factor():
    from neuralgraph.trainer import make_scheduler

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=1.0)
    t = OmegaConf.structured(TrainingBase)
    t.lr_schedule = "cosine"
    t.lr_final_factor = 0.1
    sched = make_scheduler(opt, t, total=100)
    lrs = []
    for _ in range(100):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[49] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 50 / 100)))
    assert lrs[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
