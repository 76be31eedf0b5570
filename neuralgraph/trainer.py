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
    tail_start = total - max(1, total // 10)

    generator = torch.Generator(device=device).manual_seed(int(tcfg.seed))
    optimizer = torch.optim.Adam(family.param_groups(model, tcfg))
    scheduler = make_scheduler(optimizer, tcfg, total)
    result = TrainResult(history={"step": [], "loss": [], "regularization": [], "live": []})
    scale = data.target_scale
    # Running sums stay on the device: one host sync per check, not per step.
    run_pred = torch.zeros((), device=device)
    run_reg = torch.zeros((), device=device)
    tail_sum = torch.zeros((), device=device)
    n_run = 0
    reg_terms: dict[str, torch.Tensor] = {}
    t0 = time.perf_counter()
    bar = tqdm(total=total, disable=not progress, mininterval=1.0, dynamic_ncols=True, leave=False)
    model.train()
    step = 0
    try:
        for epoch in range(tcfg.n_epochs):
            for _ in range(n_iter):
                idx = torch.randint(0, data.n_frames, (tcfg.batch_size,), device=device, generator=generator)
                batch = data.batch(idx)
                pred = model(batch)
                loss_pred = ((pred - batch["y"]) / scale).pow(2).mean()
                clock = TrainClock(epoch=epoch, step=step, steps_per_epoch=n_iter)
                reg_terms = family.regularizers(model, batch, pred, tcfg, clock)
                loss_reg = sum(reg_terms.values()) if reg_terms else torch.zeros((), device=device)
                loss = loss_pred + loss_reg
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                family.after_step(model, tcfg)
                step += 1

                run_pred += loss_pred.detach()
                run_reg += loss_reg.detach()
                n_run += 1
                if step > tail_start:
                    tail_sum += loss_pred.detach()
                if step % check_every == 0 or step == total:
                    mean_pred = float(run_pred) / n_run
                    if not math.isfinite(mean_pred) or mean_pred > tcfg.divergence_threshold:
                        result.status = "diverged"
                        result.error = f"training loss became {mean_pred:.3g} at step {step}"
                        log.warning("run diverged: %s", result.error)
                        break
                if step % record_every == 0 or step == total:
                    live = family.live_metric(model, arrays)
                    result.history["step"].append(step)
                    result.history["loss"].append(float(run_pred) / n_run)
                    result.history["regularization"].append(float(run_reg) / n_run)
                    result.history["live"].append(live)
                    for key, value in reg_terms.items():
                        result.history.setdefault(f"reg_{key}", []).append(float(value.detach()))
                    bar.set_postfix(loss=f"{float(run_pred) / n_run:.3e}", refresh=False, **{primary_metric: f"{live:.3f}"})
                    run_pred.zero_()
                    run_reg.zero_()
                    n_run = 0
                if checkpoint is not None and step % checkpoint_every == 0:
                    checkpoint(model, step)
                bar.update(1)
            if result.status != "ok":
                break
    finally:
        bar.close()
    result.n_steps = step
    result.seconds = time.perf_counter() - t0
    n_tail = step - tail_start
    result.final_loss = float(tail_sum) / n_tail if n_tail > 0 else float("nan")
    if result.status != "ok" and result.history["loss"]:
        result.final_loss = float("nan")
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

