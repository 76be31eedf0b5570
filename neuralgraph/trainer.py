"""The shared training loop: random frames as one batched tensor, Adam with named groups.

Loss per step, for a batch of B frames of N nodes:

    L = 1/(B·N) Σ_b Σ_i ((ŷ_bi − y_bi) / s_i)²  +  Σ_r R_r(θ)

with s_i the per-node target scale (the std of dy_i/dt when ``normalize_targets`` is on, else 1)
and R_r the family's regularisers. Steps per epoch follow the users' convention
``n_frames · data_augmentation_loop // batch_size · 0.2``.

A non-finite or exploding loss stops the run with status ``diverged`` rather than burning the
remaining budget.

The loop's whole state — optimiser, schedule, step, the frame sampler's generator, the global
random generators, the running loss sums and the curves — goes into every checkpoint
(:meth:`_Loop.state_dict`), so a run stopped after step k and continued from its checkpoint takes
exactly the steps an uninterrupted run takes (bit for bit on the CPU). Checkpoints come every
``total / n_checkpoints`` steps and, in between, every ``checkpoint_every_min`` minutes.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import torch
from tqdm.auto import tqdm

from neuralgraph.errors import ConfigError
from neuralgraph.family import Learner, TrainClock, TrainData, steps_per_epoch
from neuralgraph.signals import StopSignals

log = logging.getLogger(__name__)


#: The scorer's cheap score of a model during training (progress bar, learning curves).
LiveMetric = Callable[[torch.nn.Module], float]


@dataclass
class TrainResult:
    history: dict[str, list] = field(default_factory=dict)  # per recorded step: losses, live metric
    status: str = "ok"  # ok | diverged
    error: str | None = None
    final_loss: float = float("nan")  # mean data loss over the last 10% of steps
    n_steps: int = 0
    seconds: float = 0.0  # training wall time, summed over the sessions of a resumed run


@dataclass
class Hooks:
    """What a run attaches to the loop; every hook is optional."""

    #: Called with the loop's state (:meth:`_Loop.state_dict`) at checkpoints, on a stop, at the end.
    checkpoint: Callable[[dict[str, Any]], None] | None = None
    #: Called after each record with every row so far and the run's total number of steps.
    on_record: Callable[[list[dict[str, Any]], int], None] | None = None
    #: Signals noted during a step are honoured after it: checkpoint, then raise ``Interrupted``.
    stop: StopSignals | None = None


def rng_state(device: torch.device) -> dict[str, Any]:
    """torch's, CUDA's (on a CUDA device), numpy's and Python's global generators, as plain values
    and tensors (a checkpoint then loads with ``weights_only=True``)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)),
        "python": random.getstate(),
    }


def set_rng_state(state: Mapping[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(state["python"])


class _Meter:
    """Running loss sums between host syncs, the history and curve rows, and the divergence check.

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
        self.rows: list[dict[str, Any]] = []  # metrics.csv: one dict per record

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

    def record(self, row: dict[str, Any], live: float, reg_terms: Mapping[str, torch.Tensor],
               extra: Mapping[str, float]) -> float:
        """Append the means since the last record to the history and to ``row`` (then to the
        rows, followed by ``extra``); return the mean data loss."""
        mean_pred = float(self.pred) / self.n
        mean_reg = float(self.reg) / self.n
        terms = {f"reg_{key}": float(value.detach()) for key, value in reg_terms.items()}
        self.history["step"].append(row["step"])
        self.history["loss"].append(mean_pred)
        self.history["regularization"].append(mean_reg)
        self.history["live"].append(live)
        for key, value in terms.items():
            self.history.setdefault(key, []).append(value)
        self.rows.append({**row, "loss": mean_pred, "regularization": mean_reg, **terms, "live": live, **extra})
        self.pred.zero_()
        self.reg.zero_()
        self.n = 0
        return mean_pred

    def final_loss(self, step: int) -> float:
        n_tail = step - self.tail_start
        return float(self.tail) / n_tail if n_tail > 0 else float("nan")

    def state_dict(self) -> dict[str, Any]:
        return {"pred": self.pred, "reg": self.reg, "tail": self.tail, "n": self.n,
                "history": self.history, "rows": self.rows}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for key in ("pred", "reg", "tail"):
            getattr(self, key).copy_(state[key])
        self.n = int(state["n"])
        self.history = {key: list(values) for key, values in state["history"].items()}
        self.rows = [dict(row) for row in state["rows"]]


def _step(
    learner: Learner, model: torch.nn.Module, batch: Mapping[str, torch.Tensor], scale: torch.Tensor,
    tcfg: Any, clock: TrainClock, optimizer: torch.optim.Optimizer, scheduler: Any,
    after_step: list[Callable[[torch.nn.Module], None]],
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """One gradient step on one batch: ``(data loss, regularisation, named terms)``, detached.

    With ``tcfg.micro_batch`` = m below the batch size, the data loss is back-propagated m frames
    at a time: the mean over B frames is Σ_c (n_c / B)·mean_c, so the gradient is the same, while
    every activation of a piece stays in the processor's cache (on a CPU, for large N·B;
    on a GPU leave it 0).
    """
    optimizer.zero_grad(set_to_none=True)
    n_frames = int(batch["x"].shape[0])
    piece = int(getattr(tcfg, "micro_batch", 0))
    if not 0 < piece < n_frames:
        pred = model(batch)
        loss_pred = ((pred - batch["y"]) / scale).pow(2).mean()
        reg_terms = learner.regularizers(model, batch, pred, tcfg, clock)
        loss_reg = sum(reg_terms.values()) if reg_terms else torch.zeros((), device=pred.device)
        (loss_pred + loss_reg).backward()
    else:
        loss_pred = torch.zeros((), device=scale.device)
        for start in range(0, n_frames, piece):
            part = {key: value[start:start + piece] for key, value in batch.items()}
            loss_part = ((model(part) - part["y"]) / scale).pow(2).mean() * (part["x"].shape[0] / n_frames)
            loss_part.backward()
            loss_pred = loss_pred + loss_part.detach()
        # The prediction exists only in pieces: the regularisers get pred=None and the whole batch.
        reg_terms = learner.regularizers(model, batch, None, tcfg, clock)
        loss_reg = sum(reg_terms.values()) if reg_terms else torch.zeros((), device=scale.device)
        if torch.is_tensor(loss_reg) and loss_reg.requires_grad:
            loss_reg.backward()
    optimizer.step()
    scheduler.step()
    learner.after_step(model, tcfg)
    for hook in after_step:
        hook(model)
    return loss_pred.detach(), torch.as_tensor(loss_reg).detach(), reg_terms


class _Loop:
    """The optimiser, schedule, sampler and meter of one run, and the steps between them."""

    def __init__(self, learner: Learner, model: torch.nn.Module, data: TrainData, live: LiveMetric | None,
                 tcfg: Any, device: torch.device, live_name: str, checkpoint_every_s: float = 0.0) -> None:
        self.learner, self.model, self.data, self.live = learner, model, data, live
        self.tcfg, self.device, self.live_name = tcfg, device, live_name
        self.n_iter = steps_per_epoch(data.n_frames, tcfg.data_augmentation_loop, tcfg.batch_size)
        self.total = self.n_iter * tcfg.n_epochs
        self.record_every = max(1, self.total // 200)
        self.check_every = min(50, self.record_every)
        self.checkpoint_every = max(1, self.total // max(1, tcfg.n_checkpoints))
        self.checkpoint_every_s = checkpoint_every_s  # also a checkpoint this often (0: only the above)
        self.generator = torch.Generator(device=device).manual_seed(int(tcfg.seed))
        self.optimizer = torch.optim.Adam(learner.param_groups(model, tcfg))
        self.scheduler = make_scheduler(self.optimizer, tcfg, self.total)
        self.meter = _Meter(device, self.total, tcfg.divergence_threshold)
        self.result = TrainResult(history=self.meter.history)
        self.step = 0
        self.seconds_before = 0.0  # training time of earlier sessions (a resumed run)
        self.t0 = self.last_save = time.perf_counter()

    def seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.t0

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step, "total": self.total, "status": self.result.status, "error": self.result.error,
            "seconds": self.seconds(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "generator": self.generator.get_state(),
            "meter": self.meter.state_dict(), "rng": rng_state(self.device),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if int(state["total"]) != self.total:
            raise ConfigError(f"the checkpoint is for a run of {state['total']} steps, this one has {self.total}")
        self.step = int(state["step"])
        self.result.status, self.result.error = state["status"], state["error"]
        self.seconds_before = float(state["seconds"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        self.meter.load_state_dict(state["meter"])
        self.result.history = self.meter.history
        set_rng_state(state["rng"], self.device)

    def run(self, hooks: Hooks, bar: tqdm) -> None:
        """Steps ``self.step`` … ``total − 1`` (nothing after a divergence)."""
        tcfg, total = self.tcfg, self.total
        for step in range(self.step if self.result.status == "ok" else total, total):
            idx = torch.randint(0, self.data.n_frames, (tcfg.batch_size,), device=self.device,
                                generator=self.generator)
            clock = TrainClock(epoch=step // self.n_iter, step=step, steps_per_epoch=self.n_iter)
            loss_pred, loss_reg, reg_terms = _step(self.learner, self.model, self.data.batch(idx),
                                                   self.data.target_scale, tcfg, clock, self.optimizer,
                                                   self.scheduler, self.data.after_step)
            self.step = step + 1
            self.meter.add(self.step, loss_pred, loss_reg)
            if self.step % self.check_every == 0 or self.step == total:
                self.result.error = self.meter.divergence(self.step)
                if self.result.error is not None:
                    self.result.status = "diverged"
                    log.warning("run diverged: %s", self.result.error)
                    break
            if self.step % self.record_every == 0 or self.step == total:
                self._record(reg_terms, hooks, bar)
            if self.step % self.checkpoint_every == 0 or self._save_due():
                self.save(hooks)
            bar.update(1)
            if hooks.stop is not None and hooks.stop.pending is not None:
                self.save(hooks)
                self.raise_pending(hooks.stop)

    def _save_due(self) -> bool:
        """Whether ``checkpoint_every_s`` seconds have passed since the last checkpoint: a killed
        long run then loses minutes, whatever its ``n_checkpoints``."""
        return 0 < self.checkpoint_every_s <= time.perf_counter() - self.last_save

    def save(self, hooks: Hooks) -> None:
        if hooks.checkpoint is not None:
            hooks.checkpoint(self.state_dict())
            self.last_save = time.perf_counter()

    def _record(self, reg_terms: Mapping[str, torch.Tensor], hooks: Hooks, bar: tqdm) -> None:
        live = float("nan") if self.live is None else self.live(self.model)
        lrs = {f"lr_{g.get('name', i)}": float(g["lr"]) for i, g in enumerate(self.optimizer.param_groups)}
        row = {"step": self.step, "epoch": (self.step - 1) // self.n_iter}
        mean = self.meter.record(row, live, reg_terms, {**lrs, "wall_time_s": self.seconds()})
        bar.set_postfix(loss=f"{mean:.3e}", refresh=False, **{self.live_name: f"{live:.3f}"})
        if hooks.on_record is not None:
            hooks.on_record(self.meter.rows, self.total)

    def raise_pending(self, stop: StopSignals) -> None:
        """Raise the signal noted during a step, saying which step the checkpoint holds."""
        err = stop.pending
        err.step, err.total = self.step, self.total
        raise err


def train(
    learner: Learner,
    model: torch.nn.Module,
    data: TrainData,
    live: LiveMetric | None,
    cfg: Any,
    device: torch.device,
    progress: bool = True,
    live_name: str = "live",
    hooks: Hooks | None = None,
    resume: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train ``model`` on ``data`` with ``cfg.training``; the learner supplies groups and regularisers.

    ``live`` scores the model at each record (the scorer's live metric, shown as ``live_name`` in
    the progress bar and written to the learning curves); None records NaN. ``resume`` is a state
    saved by ``hooks.checkpoint``: the loop continues after its step.
    """
    hooks = hooks or Hooks()
    # A config built by hand (tests, notebooks) may hold only the training block: no timed checkpoints.
    every_min = float(getattr(cfg, "checkpoint_every_min", 0.0))
    loop = _Loop(learner, model, data, live, cfg.training, device, live_name, 60.0 * every_min)
    if resume is not None:
        loop.load_state_dict(resume)
    # The bar shows this session's elapsed time, steps/s and the time left to the run's last step (ETA).
    bar = tqdm(total=loop.total, initial=loop.step, disable=not progress, mininterval=1.0, dynamic_ncols=True,
               leave=False, unit="step")
    model.train()
    if hooks.stop is not None:
        hooks.stop.deferring = True
    try:
        loop.run(hooks, bar)
    finally:
        if hooks.stop is not None:
            hooks.stop.deferring = False
        bar.close()
        model.eval()
    loop.save(hooks)
    if hooks.stop is not None and hooks.stop.pending is not None:  # noted after the last check
        loop.raise_pending(hooks.stop)
    result = loop.result
    result.n_steps = loop.step
    result.seconds = loop.seconds()
    result.final_loss = loop.meter.final_loss(loop.step) if result.status == "ok" else float("nan")
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
