"""The shared trainer: step count convention, learning-rate groups, divergence stop, and what
enters the loss: the per-node target scale, the family's regularisers and the clock they see."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from neuralgraph.config.base import TrainingBase
from neuralgraph.family import Learner, TrainClock, TrainData, adam_group
from neuralgraph.trainer import steps_per_epoch, train


def test_steps_per_epoch_is_the_users_convention():
    # The seeds: 2880 frames, dal 1000, batch 8 -> 72,000 steps.
    assert steps_per_epoch(2880, 1000, 8) == 72000
    assert steps_per_epoch(10, 1, 64) == 1


def test_zero_learning_rate_falls_back():
    p = [torch.nn.Parameter(torch.zeros(1))]
    assert adam_group("k", p, 0.0, 1e-3)["lr"] == 1e-3
    assert adam_group("k", p, 5e-3, 1e-3)["lr"] == 5e-3


class Linear(Learner):
    """y = w·x fitted by the shared trainer; ``blow_up`` multiplies the prediction each step;
    ``ridge`` adds the regulariser ridge·w²; every clock handed to the regularisers is kept."""

    name = "line"

    def __init__(self, blow_up: float = 1.0, ridge: float = 0.0):
        self.blow_up = blow_up
        self.ridge = ridge
        self.clocks: list[TrainClock] = []

    def build(self, arrays, cfg, device):
        raise NotImplementedError

    def param_groups(self, model, t):
        return [adam_group("w", model.parameters(), t.lr, t.lr)]

    def regularizers(self, model, batch, pred, t, clock):
        self.clocks.append(clock)
        return {"ridge": self.ridge * model.weight.pow(2).sum()} if self.ridge else {}

    def after_step(self, model, t):
        with torch.no_grad():
            model.weight.mul_(self.blow_up)



def slope(model) -> float:
    """The live metric: the fitted slope."""
    return float(model.weight.item())


class LinearModel(torch.nn.Linear):
    def forward(self, batch):
        return super().forward(batch["x"].unsqueeze(-1))[..., 0]


def line_data(slopes=(2.0, 2.0, 2.0), scale=(1.0, 1.0, 1.0)) -> TrainData:
    """100 frames of 3 nodes, x = ±1, y_i = slopes_i · x, residuals divided by ``scale``.

    With x² = 1 on every frame, every batch has the same minimum, so a fit lands on it exactly.
    """
    x = torch.linspace(-1, 1, 100).sign().unsqueeze(-1).repeat(1, 3)
    return TrainData(x=x, y=torch.tensor(slopes) * x, target_scale=torch.tensor(scale))


def fit(family, lr=0.05, dal=200, data=None, n_epochs=1):
    torch.manual_seed(0)
    data = data if data is not None else line_data()
    model = LinearModel(1, 1, bias=False)
    cfg = OmegaConf.create({"training": OmegaConf.structured(TrainingBase)})
    cfg.training.lr = lr
    cfg.training.batch_size = 10
    cfg.training.data_augmentation_loop = dal
    cfg.training.n_epochs = n_epochs
    return model, train(family, model, data, slope, cfg, torch.device("cpu"), progress=False)


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


def test_residuals_are_divided_by_the_target_scale():
    # One w for three nodes of slopes 1, 3, 3 and scales 1, 10, 10: the weighted least squares
    # w = Σ a_i/s_i² / Σ 1/s_i² ≈ 1.04 sits near the well-scaled node's slope; scaling the
    # residuals the other way round would pull it to ≈ 3.
    slopes, scale = np.array([1.0, 3.0, 3.0]), np.array([1.0, 10.0, 10.0])
    model, result = fit(Linear(), data=line_data(tuple(slopes), tuple(scale)), lr=0.02, dal=400)
    expected = np.sum(slopes / scale**2) / np.sum(1 / scale**2)
    assert model.weight.item() == pytest.approx(expected, abs=1e-2)
    # At the optimum each scaled residual is ±(w − a_i)/s_i: the recorded loss is their mean square.
    assert result.final_loss == pytest.approx(np.mean(((expected - slopes) / scale) ** 2), rel=1e-3)


def test_regularisers_enter_the_loss():
    # Data y = 2x (x² = 1) plus ridge·w²: the minimum of (w − 2)² + ridge·w² is w = 2/(1 + ridge).
    ridge = 0.5
    model, result = fit(Linear(ridge=ridge), lr=0.02, dal=400)
    assert model.weight.item() == pytest.approx(2 / (1 + ridge), abs=1e-3)
    assert result.history["reg_ridge"][-1] == pytest.approx(ridge * model.weight.item() ** 2, rel=1e-3)
    assert result.history["regularization"][-1] > 0


def test_regularisers_see_the_clock_of_the_step_being_taken():
    family = Linear()
    _, result = fit(family, dal=2, n_epochs=3)  # 100 frames · 2 // 10 · 0.2 = 4 steps per epoch
    n_iter = steps_per_epoch(100, 2, 10)
    assert n_iter == 4 and result.n_steps == 12
    assert family.clocks == [TrainClock(epoch=s // n_iter, step=s, steps_per_epoch=n_iter) for s in range(12)]


@pytest.mark.parametrize("regime", ["tiny_signal", "tiny_metabolism", "tiny_flyvis"])
def test_micro_batches_give_the_whole_batch_gradient(regime):
    """training.micro_batch back-propagates a batch in pieces: same loss, same gradient, for every
    family (pieces of 3 frames leave a remainder of 1 in a batch of 7)."""
    from neuralgraph.family import get_family
    from neuralgraph.launch import compose_regime
    from neuralgraph.train import typed
    from neuralgraph.trainer import _step, make_scheduler

    grads, losses, arrays = [], [], None
    for micro in (0, 3):
        cfg = typed(compose_regime(regime, f"training.micro_batch={micro}", "training.batch_size=7"))
        family = get_family(cfg.simulation.family)
        arrays = arrays or family.simulate(cfg.simulation)
        torch.manual_seed(0)
        model, data = family.build(arrays, cfg, torch.device("cpu"))
        groups = family.param_groups(model, cfg.training)
        for group in groups:
            group["lr"] = 0.0  # the step leaves the parameters; .grad keeps the gradient
        optimizer = torch.optim.Adam(groups)
        scheduler = make_scheduler(optimizer, cfg.training, 10)
        idx = torch.arange(7) * 3
        loss, reg, _ = _step(family, model, data.batch(idx), data.target_scale, cfg.training,
                             TrainClock(epoch=0, step=0, steps_per_epoch=10), optimizer, scheduler, data.after_step)
        losses.append((float(loss), float(reg)))
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, rtol=1e-4, atol=1e-7, msg=name)
