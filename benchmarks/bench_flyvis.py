"""Simulation and training throughput of the fly visual system family on the current device.

    python benchmarks/bench_flyvis.py [--regime flyvis_small] [--device auto] [--steps 50] [--frames 400]

Prints

- lattice construction time and size;
- simulation: Euler steps per second on the regime's lattice (``--frames`` steps, not the regime's
  full movie, so the extent-8 regime is measured in seconds);
- training: gradient steps per second at the regime's batch size (the step the shared trainer runs:
  forward, loss, regularisers, backward, Adam), and the implied time per epoch of the regime;
- one ratio measured in the same process, so machine load cancels out: g_φ evaluated once per
  neuron and gathered onto the edges (this model) against g_φ evaluated on every edge.

The connectome file ships with NeuralGraph (``neuralgraph/data/flyvis/``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from neuralgraph.families.flyvis import simulate as fs
from neuralgraph.family import TrainClock, get_family
from neuralgraph.launch import compose_regime
from neuralgraph.train import resolve_device, typed
from neuralgraph.trainer import steps_per_epoch

from bench_metabolism import timed  # noqa: E402  (same folder: seconds per call after warm-up)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regime", default="flyvis_small")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--frames", type=int, default=400, help="Euler steps simulated for the timing")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    cfg = typed(compose_regime(args.regime))
    device = resolve_device(args.device)
    family = get_family("flyvis")
    full_frames = cfg.simulation.n_frames

    t0 = time.perf_counter()
    lat = fs.load_lattice(cfg.simulation.extent)
    lattice_s = time.perf_counter() - t0
    print(f"regime {args.regime}: extent {lat.extent}, {len(lat.columns)} columns, {lat.n_neurons} neurons, "
          f"{lat.n_edges} synapses, {len(lat.input_nodes)} inputs; lattice built in {lattice_s:.2f} s")

    # Setup (lattice, ground truth, spectral radius) is timed apart from the Euler steps: two
    # simulations that differ only in their number of frames.
    def simulate(frames: int):
        sim_cfg = dataclasses.replace(cfg.simulation, n_frames=frames, n_test_frames=10, n_burn_in=10)
        t0 = time.perf_counter()
        out = family.simulate(sim_cfg)
        return out, time.perf_counter() - t0

    _, short_s = simulate(10)
    arrays, long_s = simulate(10 + args.frames)
    step_rate = args.frames / max(long_s - short_s, 1e-9)
    print(f"simulation: setup {short_s:.2f} s, then {step_rate:.0f} Euler steps/s; "
          f"the regime's {full_frames} frames ≈ {full_frames / step_rate / 60:.1f} min")

    model, data = family.build(arrays, cfg, device)
    opt = torch.optim.Adam(family.param_groups(model, cfg.training))
    bs = cfg.training.batch_size
    gen = torch.Generator(device=device).manual_seed(0)

    def train_step() -> None:
        idx = torch.randint(0, data.n_frames, (bs,), device=device, generator=gen)
        batch = data.batch(idx)
        pred = model(batch)
        loss = ((pred - batch["y"]) / data.target_scale).pow(2).mean()
        reg = family.regularizers(model, batch, pred, cfg.training, TrainClock(epoch=0, step=0, steps_per_epoch=1))
        if reg:
            loss = loss + sum(reg.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step_s = timed(train_step, args.steps)
    n_iter = steps_per_epoch(full_frames, cfg.training.data_augmentation_loop, bs)
    print(f"training: {1 / step_s:.1f} steps/s at batch {bs} on {device} ({step_s * 1e3:.1f} ms/step); "
          f"one epoch of the regime = {n_iter} steps ≈ {n_iter * step_s / 60:.1f} min")

    # g_φ per neuron + gather (this model) vs g_φ on every edge (the reference's per-edge MLP).
    v = data.x[torch.randint(0, data.n_frames, (bs,), device=device, generator=gen)]
    src = model.edge_src

    def per_node() -> None:
        with torch.no_grad():
            model.messages(v)

    def per_edge() -> None:
        with torch.no_grad():
            g = model.g(v[:, src], model.a[src])
            torch.zeros_like(v).index_add_(1, model.edge_tgt, g * model.W)

    t_node, t_edge = timed(per_node, max(5, args.steps // 5)), timed(per_edge, max(5, args.steps // 5))
    print(f"messages: per-neuron g_φ {t_node * 1e3:.2f} ms vs per-edge g_φ {t_edge * 1e3:.2f} ms "
          f"(×{t_edge / t_node:.1f} faster; {len(src) / lat.n_neurons:.0f} edges per neuron)")
    print(f"peak memory of states+targets for the full regime: "
          f"{2 * full_frames * lat.n_neurons * 4 / 2**30:.2f} GiB (float32)")


if __name__ == "__main__":
    main()
