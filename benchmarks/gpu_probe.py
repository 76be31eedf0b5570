"""Build a regime's dataset and time the shared trainer's step on one device: the pieces of
``benchmarks/gpu_check.sh``, each runnable on the CPU too.

    python benchmarks/gpu_probe.py speed    --regime signal_fig2 [--device cuda] [--steps 200] [--frames 5000]
    python benchmarks/gpu_probe.py parity   --regime tiny_signal [--devices cpu cuda] [--steps 300] [--tol 1e-3]
    python benchmarks/gpu_probe.py simulate --regime signal_fig2       # fill the dataset cache, say how long
    python benchmarks/gpu_probe.py compare  --regime tiny_signal RUN_DIR_A RUN_DIR_B [--tol 0.02]

Every command takes ``--override KEY=VALUE`` (Hydra's grammar, repeatable) and ``--json FILE``.

- **speed**: simulate ``--frames`` frames (a step's cost does not depend on how many there are),
  build the model, take ``--steps`` steps of the trainer after 3 warm-up steps, and print steps/s,
  the peak memory (CUDA: ``torch.cuda.max_memory_allocated``; CPU: the process's peak RSS) and
  what the regime's full dataset and step budget imply at that speed.
- **parity**: a tiny regime trained ``--steps`` steps on each device from the same initial
  weights on the same frames, then evaluated. The trainer's frame sampler draws on the run's
  device (CUDA's Philox generator is not the CPU's Mersenne twister), so two full runs are two
  training draws; here every ``torch.randint`` (frame indices, the regularisers' random neurons)
  draws on the CPU and is moved, so the devices differ only in arithmetic: float32 sums taken in
  another order (CUDA's blocked reductions and atomic ``index_add_``), ≈ 1e-7 relative per sum.
  Two tolerances, measured on the CPU by multiplying every initial weight by (1 + 1e-6·ξ), about
  ten float32 ulps (a reordered sum differs by one or two): the first 10 losses then move by
  ≤ 3e-7 relative (``--loss-tol`` 1e-4), and the primary metric after 300 steps by ≤ 8e-4 — Adam
  amplifies rounding along the way — on tiny_signal, tiny_metabolism and tiny_flyvis (``--tol``
  0.01). A wrong kernel or a tensor left on the wrong device shows in the first losses at once.
  The line also prints the jitter's effect on this machine.
- **compare**: the primary metric of two finished runs (``metrics.json``) against a tolerance.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from neuralgraph import rundir
from neuralgraph.datacache import load_or_simulate
from neuralgraph.family import Family, TrainClock, TrainData, get_family
from neuralgraph.launch import compose_regime
from neuralgraph.train import resolve_device, typed
from neuralgraph.trainer import _step, make_scheduler, steps_per_epoch

GIB = 2.0**30
#: parity: the steps whose losses must agree closely (before training amplifies rounding).
EARLY_STEPS = 10


# ---- memory ---------------------------------------------------------------------------------------
def _proc_status(key: str) -> float:
    """``VmHWM`` / ``VmRSS`` of this process in bytes (Linux), NaN elsewhere."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return float("nan")
    match = re.search(rf"{key}:\s+(\d+) kB", text)
    return float(match.group(1)) * 1024 if match else float("nan")


def reset_peak(device: torch.device) -> float:
    """Start a new peak-memory window; returns the bytes in use now (the window's baseline).

    CPU: writing 5 to ``/proc/self/clear_refs`` resets the peak RSS (``VmHWM``) to the current
    RSS (Linux ≥ 4.0), so one process can measure several configurations in turn.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return float(torch.cuda.memory_allocated(device))
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _proc_status("VmRSS")


def peak_bytes(device: torch.device) -> float:
    """Peak bytes since the last :func:`reset_peak`: CUDA's allocated tensors, or the RSS."""
    if device.type == "cuda":
        return float(torch.cuda.max_memory_allocated(device))
    return _proc_status("VmHWM")


def data_bytes(data: TrainData) -> float:
    """Bytes of the training tensors (states, targets, per-frame extras) as built on the device."""
    tensors = [data.x, data.y, *data.extras.values()]
    return float(sum(t.numel() * t.element_size() for t in tensors))


# ---- the trainer's step -----------------------------------------------------------------------------
def compose(regime: str, overrides: list[str] | tuple[str, ...] = ()) -> Any:
    return typed(compose_regime(regime, *overrides))


def step_runner(family: Family, model: torch.nn.Module, data: TrainData, cfg: Any, device: torch.device,
                total: int, sampler: torch.Generator) -> Callable[[], torch.Tensor]:
    """One call = one step of the shared trainer (``neuralgraph.trainer._step``: forward, loss,
    regularisers, backward, Adam, schedule, the family's after-step); returns the data loss."""
    tcfg = cfg.training
    optimizer = torch.optim.Adam(family.param_groups(model, tcfg))
    scheduler = make_scheduler(optimizer, tcfg, total)
    n_iter = steps_per_epoch(data.n_frames, tcfg.data_augmentation_loop, tcfg.batch_size)
    state = {"step": 0}
    model.train()

    def run() -> torch.Tensor:
        step = state["step"]
        idx = torch.randint(0, data.n_frames, (tcfg.batch_size,), generator=sampler,
                            device=sampler.device).to(device)
        clock = TrainClock(epoch=step // n_iter, step=step, steps_per_epoch=n_iter)
        loss, _, _ = _step(family, model, data.batch(idx), data.target_scale, tcfg, clock, optimizer, scheduler,
                           data.after_step)
        state["step"] = step + 1
        return loss

    return run


def seconds_per_step(run: Callable[[], torch.Tensor], steps: int, device: torch.device,
                     warmup: int = 3, max_seconds: float = float("inf")) -> tuple[float, int]:
    """``(seconds per step, steps timed)``: ``steps`` steps after ``warmup``, fewer if
    ``max_seconds`` runs out (at least one)."""
    for _ in range(warmup):
        run()
    _sync(device)
    t0 = time.perf_counter()
    done = 0
    while done < steps and (done == 0 or time.perf_counter() - t0 < max_seconds):
        run()
        done += 1
        if device.type == "cuda" and done % 50 == 0:
            _sync(device)  # so that the time limit sees the queued steps
    _sync(device)
    return (time.perf_counter() - t0) / done, done


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def simulate(cfg: Any, frames: int | None = None) -> tuple[dict[str, np.ndarray], float]:
    """The regime's arrays (``frames`` frames if given) and the seconds the simulation took."""
    sim = cfg.simulation if frames is None else dataclasses.replace(cfg.simulation, n_frames=int(frames))
    t0 = time.perf_counter()
    arrays = get_family(sim.family).simulate(sim)
    return arrays, time.perf_counter() - t0


# ---- commands ----------------------------------------------------------------------------------------
def speed(args: argparse.Namespace) -> dict[str, Any]:
    cfg = compose(args.regime, args.override)
    device = resolve_device(args.device)
    family = get_family(cfg.simulation.family)
    arrays, sim_s = simulate(cfg, args.frames)
    base = reset_peak(device)
    torch.manual_seed(int(cfg.training.seed))
    model, data = family.build(arrays, cfg, device)
    sampler = torch.Generator(device=device).manual_seed(int(cfg.training.seed))
    tcfg = cfg.training
    full_frames = int(cfg.simulation.n_frames)
    total = steps_per_epoch(full_frames, tcfg.data_augmentation_loop, tcfg.batch_size) * tcfg.n_epochs
    run = step_runner(family, model, data, cfg, device, total, sampler)
    sec, done = seconds_per_step(run, args.steps, device, max_seconds=args.max_seconds)
    peak = peak_bytes(device)
    per_frame = data_bytes(data) / data.n_frames
    out = {
        "regime": args.regime, "device": str(device), "n_nodes": int(data.x.shape[-1]), "frames": data.n_frames,
        "simulation_s": sim_s, "steps_timed": done, "steps_per_s": 1.0 / sec, "batch_size": int(tcfg.batch_size),
        "peak_gib": peak / GIB, "baseline_gib": base / GIB, "data_gib": data_bytes(data) / GIB,
        "full_data_gib": per_frame * full_frames / GIB, "full_steps": total, "full_training_min": total * sec / 60,
    }
    # At the regime's own size the dataset tensors grow from `frames` to `n_frames` frames.
    out["full_peak_gib"] = out["peak_gib"] - out["data_gib"] + out["full_data_gib"]
    print(f"speed {args.regime} on {device}: {out['n_nodes']} nodes, simulated {data.n_frames} frames in "
          f"{sim_s:.1f} s; {out['steps_per_s']:.1f} steps/s at batch {out['batch_size']} ({done} steps); "
          f"peak {'GPU' if device.type == 'cuda' else 'RSS'} memory {out['peak_gib']:.2f} GiB with "
          f"{out['data_gib']:.2f} GiB of data, {out['full_peak_gib']:.2f} GiB with the full "
          f"{full_frames}-frame dataset; the regime's {total} steps ≈ {out['full_training_min']:.1f} min")
    return out


@contextlib.contextmanager
def draws_on_cpu() -> Iterator[None]:
    """Every ``torch.randint`` draws from the CPU's generators and is moved to its device, so two
    devices seeded alike see the same numbers (the frame indices and the flyvis regularisers'
    random neurons are the only random draws of a training step)."""
    real = torch.randint

    def randint(*args: Any, device: Any = None, generator: torch.Generator | None = None, **kw: Any):
        if generator is not None and generator.device.type != "cpu":
            raise ValueError("draws_on_cpu: pass a CPU generator")
        return real(*args, generator=generator, **kw).to(device if device is not None else "cpu")

    torch.randint = randint
    try:
        yield
    finally:
        torch.randint = real


def trained_metric(cfg: Any, arrays: dict[str, np.ndarray], device: torch.device, steps: int,
                   jitter: float = 0.0) -> tuple[float, list[float]]:
    """The primary metric after ``steps`` trainer steps on ``device`` (CPU draws), and the losses.
    ``jitter``: every initial parameter is multiplied by (1 + jitter·ξ), ξ ~ N(0, 1)."""
    family = get_family(cfg.simulation.family)
    torch.manual_seed(int(cfg.training.seed))
    np.random.seed(int(cfg.training.seed))
    with draws_on_cpu():
        model, data = family.build(arrays, cfg, torch.device("cpu"))
        if jitter:
            gen = torch.Generator().manual_seed(1)
            with torch.no_grad():
                for p in model.parameters():
                    p.mul_(1 + jitter * torch.randn(p.shape, generator=gen))
        model, data = model.to(device), _to(data, device)
        sampler = torch.Generator().manual_seed(int(cfg.training.seed))
        run = step_runner(family, model, data, cfg, device, steps, sampler)
        losses = [float(run()) for _ in range(steps)]
    model.eval()
    metrics, _ = family.evaluate(model, arrays, cfg, device)
    return float(metrics[cfg.reward_key]), losses


def _to(data: TrainData, device: torch.device) -> TrainData:
    return TrainData(x=data.x.to(device), y=data.y.to(device), target_scale=data.target_scale.to(device),
                     extras={k: v.to(device) for k, v in data.extras.items()})


def parity(args: argparse.Namespace) -> dict[str, Any]:
    cfg = compose(args.regime, args.override)
    arrays, _ = simulate(cfg)
    devices = [resolve_device(name) for name in args.devices]
    primary = cfg.reward_key
    results = {str(d): trained_metric(cfg, arrays, d, args.steps) for d in devices}
    ref, ref_losses = results[str(devices[0])]
    jittered, _ = trained_metric(cfg, arrays, devices[0], args.steps, jitter=1e-6)
    out = {"regime": args.regime, "metric": primary, "steps": args.steps, "tol": args.tol,
           "values": {d: v for d, (v, _) in results.items()}, "jitter_delta": abs(jittered - ref)}
    out["max_delta"] = max(abs(v - ref) for v, _ in results.values())
    out["early_loss_rel_delta"] = max(abs(a - b) / max(abs(b), 1e-30) for _, ls in results.values()
                                      for a, b in zip(ls[:EARLY_STEPS], ref_losses))
    out["ok"] = bool(out["max_delta"] <= args.tol and out["early_loss_rel_delta"] <= args.loss_tol)
    values = ", ".join(f"{d} {v:.6f}" for d, v in out["values"].items())
    print(f"parity {args.regime}: first {EARLY_STEPS} losses max rel |Δ| {out['early_loss_rel_delta']:.1e} "
          f"(tol {args.loss_tol:g}); {primary} after {args.steps} steps {values}, |Δ| {out['max_delta']:.1e} "
          f"(tol {args.tol:g}; a 1e-6 weight jitter moves it {out['jitter_delta']:.1e}) -> "
          f"{'PASS' if out['ok'] else 'FAIL'}")
    return out


def fill_cache(args: argparse.Namespace) -> dict[str, Any]:
    cfg = compose(args.regime, args.override)
    t0 = time.perf_counter()
    _, path, cached = load_or_simulate(cfg.cache_dir, cfg.simulation.family, cfg.simulation,
                                       get_family(cfg.simulation.family).simulate)
    out = {"regime": args.regime, "dataset": str(path), "cached": bool(cached), "seconds": time.perf_counter() - t0}
    print(f"simulate {args.regime}: {'already cached' if cached else 'simulated'} in {out['seconds']:.1f} s ({path})")
    return out


def compare(args: argparse.Namespace) -> dict[str, Any]:
    """Two finished runs' primary metric (``metrics.json``) against ``--tol``."""
    cfg = compose(args.regime, args.override)
    key = cfg.reward_key
    a, b = (rundir.read_metrics(Path(d)) for d in args.runs)
    va, vb = float(a.get(key, math.nan)), float(b.get(key, math.nan))
    delta = abs(va - vb)
    ok = math.isfinite(delta) and delta <= args.tol
    print(f"compare {args.regime} {key}: {va:.4f} ({a.get('device')}, {a.get('training_time_min', math.nan):.1f} "
          f"min) vs {vb:.4f} ({b.get('device')}, {b.get('training_time_min', math.nan):.1f} min); |Δ| {delta:.4f} "
          f"(tol {args.tol:g}) -> {'PASS' if ok else 'FAIL'}")
    return {"regime": args.regime, "metric": key, "values": [va, vb], "delta": delta, "ok": bool(ok)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--override", action="append", default=[], help="KEY=VALUE (repeatable)")
    common.add_argument("--json", default=None, help="also write the result to this file")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = {name: sub.add_parser(name, parents=[common]) for name in ("speed", "parity", "simulate", "compare")}
    for name in ("speed", "parity", "simulate", "compare"):
        p[name].add_argument("--regime", required=True)
    p["speed"].add_argument("--device", default="auto")
    p["speed"].add_argument("--steps", type=int, default=200)
    p["speed"].add_argument("--frames", type=int, default=None, help="frames simulated (default: all)")
    p["speed"].add_argument("--max-seconds", type=float, default=60.0, help="cap on the timed steps")
    p["parity"].add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    p["parity"].add_argument("--steps", type=int, default=300)
    p["parity"].add_argument("--tol", type=float, default=0.01, help="on the primary metric")
    p["parity"].add_argument("--loss-tol", type=float, default=1e-4, help="relative, on the first losses")
    p["compare"].add_argument("runs", nargs=2, help="two run directories")
    p["compare"].add_argument("--tol", type=float, default=0.02)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = {"speed": speed, "parity": parity, "simulate": fill_cache, "compare": compare}[args.command]
    out = command(args)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0 if out.get("ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
