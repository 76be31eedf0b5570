"""The shared training loop: random frames as one batched tensor, Adam with named groups.

Loss per step, for a batch of B frames of N nodes:

    L = 1/(B·N) Σ_b Σ_i ((ŷ_bi − y_bi) / s_i)²  +  Σ_r R_r(θ)

with s_i the per-node target scale (the std of dy_i/dt when ``normalize_targets`` is on, else 1)
and R_r the family's regularisers. Steps per epoch follow the users' convention
``n_frames · data_augmentation_loop // batch_size · 0.2``.

A non-finite or exploding loss stops the run with status ``diverged`` rather than burning the
remaining budget.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import torch
from tqdm.auto import tqdm

from neuralgraph.family import Family, TrainClock, TrainData

log = logging.getLogger(__name__)


def steps_per_epoch(n_frames: int, data_augmentation_loop: int, batch_size: int) -> int:
    """The users' step count: ``int(n_frames · dal // batch_size · 0.2)``, at least 1."""
    return max(1, int(n_frames * data_augmentation_loop // batch_size * 0.2))


@dataclass
class TrainResult:
    history: dict[str, list] = field(default_factory=dict)  # per recorded step: losses, live metric
    status: str = "ok"  # ok | diverged
    error: str | None = None
    final_loss: float = float("nan")  # mean data loss over the last 10% of steps
    n_steps: int = 0
    seconds: float = 0.0


class _Meter:
    """Running loss sums between host syncs, the history, and the divergence check.

    The sums stay on the device: one host sync per check, not per step.
    """

    def __init__(self, device: torch.device, total: int, threshold: float) -> None:
        self.pred = torch.zeros((), device=device)
        self.reg = torch.zeros((), device=device)
        self.tail = torch.zeros((), device=device)
        self.n = 0
        self.tail_start = total - max(1, total // 10)
        self.threshold = threshold
        self.history: dict[str, list] = {"step": [], "loss": [], "regularization": [], "live": []}

    def add(self, step: int, loss_pred: torch.Tensor, loss_reg: torch.Tensor) -> None:
        self.pred += loss_pred
        self.reg += loss_reg
        self.n += 1
        if step > self.tail_start:
            self.tail += loss_pred

    def divergence(self, step: int) -> str | None:
        """Why the run diverged (NaN/inf or a loss above the threshold), else None."""
        mean_pred = float(self.pred) / self.n
        if not math.isfinite(mean_pred) or mean_pred > self.threshold:
            return f"training loss became {mean_pred:.3g} at step {step}"
        return None

    def record(self, step: int, live: float, reg_terms: Mapping[str, torch.Tensor]) -> float:
        """Append the means since the last record to the history; return the mean data loss."""
        mean_pred = float(self.pred) / self.n
        self.history["step"].append(step)
        self.history["loss"].append(mean_pred)
        self.history["regularization"].append(float(self.reg) / self.n)
        self.history["live"].append(live)
        for key, value in reg_terms.items():
            self.history.setdefault(f"reg_{key}", []).append(float(value.detach()))
        self.pred.zero_()
        self.reg.zero_()
        self.n = 0
        return mean_pred

    def final_loss(self, step: int) -> float:
        n_tail = step - self.tail_start
        return float(self.tail) / n_tail if n_tail > 0 else float("nan")


def _step(
    family: Family, model: torch.nn.Module, batch: Mapping[str, torch.Tensor], scale: torch.Tensor,
    tcfg: Any, clock: TrainClock, optimizer: torch.optim.Optimizer, scheduler: Any,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """One gradient step on one batch: ``(data loss, regularisation, named terms)``, detached."""
    pred = model(batch)
    loss_pred = ((pred - batch["y"]) / scale).pow(2).mean()
    reg_terms = family.regularizers(model, batch, pred, tcfg, clock)
    loss_reg = sum(reg_terms.values()) if reg_terms else torch.zeros((), device=pred.device)
    loss = loss_pred + loss_reg
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    family.after_step(model, tcfg)
    return loss_pred.detach(), torch.as_tensor(loss_reg).detach(), reg_terms


def train(
    family: Family,
    model: torch.nn.Module,
    data: TrainData,
    arrays: Mapping[str, np.ndarray],
    cfg: Any,
    device: torch.device,
    progress: bool = True,
    checkpoint: Callable[[torch.nn.Module, int], None] | None = None,
    primary_metric: str = "live",
) -> TrainResult:
    """Train ``model`` on ``data`` with ``cfg.training``; the family supplies groups and regularisers."""
    tcfg = cfg.training
    n_iter = steps_per_epoch(data.n_frames, tcfg.data_augmentation_loop, tcfg.batch_size)
    total = n_iter * tcfg.n_epochs
    record_every = max(1, total // 200)
    check_every = min(50, record_every)
    checkpoint_every = max(1, total // max(1, tcfg.n_checkpoints))

    generator = torch.Generator(device=device).manual_seed(int(tcfg.seed))
    optimizer = torch.optim.Adam(family.param_groups(model, tcfg))
    scheduler = make_scheduler(optimizer, tcfg, total)
    meter = _Meter(device, total, tcfg.divergence_threshold)
    result = TrainResult(history=meter.history)
    t0 = time.perf_counter()
    bar = tqdm(total=total, disable=not progress, mininterval=1.0, dynamic_ncols=True, leave=False)
    model.train()
    step = 0
    try:
        for epoch in range(tcfg.n_epochs):
            for _ in range(n_iter):
                idx = torch.randint(0, data.n_frames, (tcfg.batch_size,), device=device, generator=generator)
                clock = TrainClock(epoch=epoch, step=step, steps_per_epoch=n_iter)
                loss_pred, loss_reg, reg_terms = _step(family, model, data.batch(idx), data.target_scale, tcfg,
                                                       clock, optimizer, scheduler)
                step += 1
                meter.add(step, loss_pred, loss_reg)
                if step % check_every == 0 or step == total:
                    result.error = meter.divergence(step)
                    if result.error is not None:
                        result.status = "diverged"
                        log.warning("run diverged: %s", result.error)
                        break
                if step % record_every == 0 or step == total:
                    live = family.live_metric(model, arrays)
                    mean = meter.record(step, live, reg_terms)
                    bar.set_postfix(loss=f"{mean:.3e}", refresh=False, **{primary_metric: f"{live:.3f}"})
                if checkpoint is not None and step % checkpoint_every == 0:
                    checkpoint(model, step)
                bar.update(1)
            if result.status != "ok":
                break
    finally:
        bar.close()
    result.n_steps = step
    result.seconds = time.perf_counter() - t0
    result.final_loss = meter.final_loss(step) if result.status == "ok" else float("nan")
    model.eval()
    return result


def make_scheduler(optimizer: torch.optim.Optimizer, tcfg: Any, total: int) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-step multiplier of every group's learning rate.

    cosine: η(t) = η₀ [f + (1 − f)(1 + cos(π t / T)) / 2], f = ``lr_final_factor``.
    """
    final = float(tcfg.lr_final_factor)
    if tcfg.lr_schedule == "cosine":
        def factor(step: int) -> float:
            return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    else:
        def factor(step: int) -> float:
            return 1.0
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

