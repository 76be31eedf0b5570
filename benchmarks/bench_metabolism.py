"""Simulation and training throughput for a metabolism regime on the current device.

    python benchmarks/bench_metabolism.py [--regime oscillatory_rank50] [--device auto] [--steps 300]

Prints simulation frames/s, training gradient steps/s at the regime's batch size, and two ratios
measured in the same process (so machine load cancels out):

- batched step (the whole batch as one tensor) vs one forward per sample, the reference's way;
- MLP_sub evaluated per (metabolite, order) and gathered vs evaluated on every substrate edge
  (S given only);
- the trainer's whole step (regularisers, sign projection) with PyTorch's default Adam vs its fused
  kernel (``fused=True``; not used by the trainer, since it moves every run's numbers slightly).
"""

from __future__ import annotations

import argparse
import time

import torch

from neuralgraph.family import TrainClock, get_family
from neuralgraph.launch import compose_regime
from neuralgraph.train import resolve_device, typed
from neuralgraph.trainer import _step, make_scheduler


def timed(fn, repeats: int) -> float:
    """Seconds per call of ``fn`` (after two warm-up calls)."""
    for _ in range(2):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regime", default="oscillatory_rank50")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()

    cfg = typed(compose_regime(args.regime))
    device = resolve_device(args.device)
    family = get_family(cfg.simulation.family)

    t0 = time.perf_counter()
    arrays = family.simulate(cfg.simulation)
    sim_s = time.perf_counter() - t0
    n_frames = arrays["x"].shape[0] * arrays["x"].shape[1]

    model, data = family.build(arrays, cfg, device)
    opt = torch.optim.Adam(family.param_groups(model, cfg.training))
    bs = int(cfg.training.batch_size)
    idx = torch.randint(0, data.n_frames, (bs,), device=device)
    batch = data.batch(idx)

    def step_batched():
        loss = ((model(batch) - batch["y"]) / data.target_scale).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    def step_per_sample():
        loss = 0.0
        for b in range(bs):
            one = {k: v[b : b + 1] for k, v in batch.items()}
            loss = loss + ((model(one) - one["y"]) / data.target_scale).pow(2).mean()
        opt.zero_grad()
        (loss / bs).backward()
        opt.step()

    c = batch["x"]

    def f_per_node():
        return model.log_rates(c)

    def f_per_edge():
        log_f = torch.log(model.substrate(c[:, model.sub_met], model.sub_s) + 1e-30)
        return log_f @ model.incidence

    def trainer_step(optimizer, scheduler):
        clock = TrainClock(epoch=0, step=0, steps_per_epoch=args.steps)
        _step(family, model, batch, data.target_scale, cfg.training, clock, optimizer, scheduler, data.after_step)

    def adam_step_time(**kw) -> float:
        optimizer = torch.optim.Adam(family.param_groups(model, cfg.training), **kw)
        scheduler = make_scheduler(optimizer, cfg.training, args.steps)
        return timed(lambda: trainer_step(optimizer, scheduler), args.steps)

    t_batched = timed(step_batched, args.steps)
    t_sample = timed(step_per_sample, max(10, args.steps // bs))
    t_adam, t_fused = adam_step_time(), adam_step_time(fused=True)
    if not model.learn_stoichiometry:
        with torch.no_grad():
            t_node = timed(f_per_node, args.steps)
            t_edge = timed(f_per_edge, args.steps)

    print(f"regime {args.regime} on {device} (torch {torch.__version__}, {torch.get_num_threads()} threads)")
    print(f"simulation: {n_frames / sim_s:,.0f} frames/s ({n_frames} frames incl. test runs, {sim_s:.1f} s)")
    print(f"training:   {1 / t_batched:,.0f} steps/s at batch {bs} ({bs / t_batched:,.0f} frames/s)")
    print(f"ratio batched / per-sample step speed: {t_sample / t_batched:.1f}x")
    if not model.learn_stoichiometry:
        print(f"ratio per-node / per-edge MLP_sub speed: {t_edge / t_node:.1f}x")
    print(f"trainer step: {t_adam * 1e3:.2f} ms with the default Adam, {t_fused * 1e3:.2f} ms fused "
          f"(ratio {t_adam / t_fused:.2f}x)")


if __name__ == "__main__":
    main()
