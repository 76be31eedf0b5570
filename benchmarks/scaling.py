"""How cost grows with size: the signal family at N = 100 … 10,000 neurons and the fly visual
system at extent 2 … 15, one short measurement each, in one process.

    OMP_NUM_THREADS=1 python benchmarks/scaling.py [--signal-sizes 100 300 1000 3000 10000]
        [--extents 2 4 8 15] [--seconds 15] [--out benchmarks/results/scaling.md]

**Signal** (``signal_fig2``'s model, regularisers and batch of 8, at N neurons):

- training: the shared trainer's step (``gpu_probe.step_runner``: forward, loss, regularisers,
  backward, Adam) on random activity — a dense step costs the same whatever the values;
- simulation: one Euler step of the simulator, u ← u + Δt·f(u) + σξ with f one dense W·φ(u), on
  the regime's Cauchy W (the simulator's own pieces, float64 as it runs);
- memory: the step's peak RSS above the process's baseline (model, Adam's moments, the step's
  temporaries); the dataset of a 100k-frame run (u and du/dt stored as float32: 8·N bytes per
  frame); and the simulation's peak for it, from the bytes per neuron·frame measured on one real
  N = 1000, 5,000-frame simulation (float64 states and targets, their concatenation, the float32
  copies; W's O(N²) copies come on top; the figure is in ``results/scaling.md``).

**Flyvis** (the ``flyvis_reference`` regime, the users' recipe, at each extent, batch 1): lattice
size, the simulator's Euler steps/s (a 10- and a 310-frame simulation, differenced, as in ``bench_flyvis.py``), the
trainer's steps/s and the step's peak RSS above baseline (model built from the short simulation),
and the regime's 64,000-frame dataset (x and y, float32).

Peak RSS per measurement: ``gpu_probe.reset_peak`` resets the kernel's high-water mark
(``/proc/self/clear_refs``), after freed memory has gone back to the OS (``malloc_trim``).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuralgraph.families.signal import simulate as sig_sim
from neuralgraph.family import get_family
from neuralgraph.trainer import steps_per_epoch

from gpu_probe import GIB, compose, peak_bytes, reset_peak, seconds_per_step, simulate, step_runner  # noqa: E402

CPU = torch.device("cpu")
SIGNAL_FRAMES = 100_000  # the signal_fig2 run the memory column is for
#: Above this N, the training data of the step are this many random frames (any will do).
STEP_FRAMES = 64


def release() -> None:
    """Free what the last measurement left and hand the heap back to the OS."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def train_rate(family: Any, arrays: dict[str, np.ndarray], cfg: Any, seconds: float) -> tuple[float, float]:
    """``(steps/s, peak RSS above baseline in bytes)`` of the trainer's step on this dataset."""
    release()
    base = reset_peak(CPU)
    torch.manual_seed(0)
    model, data = family.build(arrays, cfg, CPU)
    sampler = torch.Generator().manual_seed(0)
    run = step_runner(family, model, data, cfg, CPU, 10**6, sampler)
    sec, _ = seconds_per_step(run, 10**6, CPU, warmup=2, max_seconds=seconds)
    return 1.0 / sec, peak_bytes(CPU) - base


def euler_seconds(sim: Any, seconds: float) -> float:
    """Seconds per Euler step of the signal simulator at ``sim.n_neurons``."""
    rng = np.random.default_rng(int(sim.seed))
    types = sig_sim.neuron_types(sim, rng)
    dyn = sig_sim.build_dynamics(sim, sig_sim.make_connectivity(sim, rng), types)
    u = rng.standard_normal(int(sim.n_neurons)) * float(sim.initial_state_std)
    dt, sigma = float(sim.delta_t), float(sim.noise_model_level)
    t0, n = time.perf_counter(), 0
    while n < 2000 and (n < 3 or time.perf_counter() - t0 < seconds):
        u = u + dt * dyn(u) + sigma * rng.standard_normal(u.shape[0])
        n += 1
    return (time.perf_counter() - t0) / n


def signal_sim_bytes_per_value(frames: int = 5000) -> float:
    """Peak RSS of one real N = 1000 simulation per neuron·frame (bytes)."""
    cfg = compose("signal_fig2")
    release()
    base = reset_peak(CPU)
    arrays, _ = simulate(cfg, frames)
    value = (peak_bytes(CPU) - base) / (arrays["u"].shape[0] * arrays["u"].shape[1])
    del arrays
    return value


def signal_row(n: int, seconds: float, sim_bytes: float) -> dict[str, Any]:
    cfg = compose("signal_fig2", [f"simulation.n_neurons={n}"])
    rng = np.random.default_rng(0)
    arrays = {"u": rng.standard_normal((STEP_FRAMES, n)).astype(np.float32),
              "du": rng.standard_normal((STEP_FRAMES, n)).astype(np.float32),
              "delta_t": np.float64(cfg.simulation.delta_t)}
    rate, mem = train_rate(get_family("signal"), arrays, cfg, seconds)
    del arrays
    release()
    euler_s = euler_seconds(cfg.simulation, min(seconds, 5.0))
    return {"N": n, "steps_per_s": rate, "train_gib": mem / GIB, "euler_ms": 1e3 * euler_s,
            "sim_100k_min": euler_s * SIGNAL_FRAMES / 60, "data_100k_gib": 8.0 * n * SIGNAL_FRAMES / GIB,
            "sim_peak_100k_gib": sim_bytes * n * SIGNAL_FRAMES / GIB}


def flyvis_row(extent: int, seconds: float, frames: int = 300) -> dict[str, Any]:
    cfg = compose("flyvis_reference", [f"simulation.extent={extent}", "simulation.n_test_frames=10",
                             "simulation.n_burn_in=10"])
    full = int(cfg.simulation.n_frames)
    t0 = time.perf_counter()
    simulate(cfg, 10)  # warm-up: the first simulation also reads the connectome
    _, short_s = simulate(cfg, 10)
    arrays, long_s = simulate(cfg, 10 + frames)
    n, edges = int(arrays["node_type"].shape[0]), int(arrays["edge_src"].shape[0])
    sim_rate = frames / max(long_s - short_s, 1e-9)
    rate, mem = train_rate(get_family("flyvis"), arrays, cfg, seconds)
    del arrays
    release()
    tcfg = cfg.training
    epoch = steps_per_epoch(full, tcfg.data_augmentation_loop, tcfg.batch_size)
    return {"extent": extent, "neurons": n, "synapses": edges, "setup_s": short_s, "sim_steps_per_s": sim_rate,
            "sim_full_min": full / sim_rate / 60, "steps_per_s": rate, "batch": int(tcfg.batch_size),
            "epoch_steps": epoch, "epoch_h": epoch / rate / 3600, "train_gib": mem / GIB,
            "data_full_gib": 8.0 * n * full / GIB, "full_frames": full, "wall_s": time.perf_counter() - t0}


def signal_table(rows: list[dict[str, Any]], sim_bytes: float) -> list[str]:
    out = [f"Signal (`signal_fig2` model and regularisers, batch 8; simulation peak: {sim_bytes:.0f} bytes per "
           "neuron·frame, measured at N = 1000):", "",
           "| N | train steps/s | train memory (GiB) | Euler step (ms) | simulate 100k frames (min) "
           "| dataset 100k frames (GiB) | simulation peak 100k frames (GiB) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['N']:,} | {r['steps_per_s']:.3g} | {r['train_gib']:.2f} | {r['euler_ms']:.3g} | "
                   f"{r['sim_100k_min']:.3g} | {r['data_100k_gib']:.2f} | {r['sim_peak_100k_gib']:.1f} |")
    return out


def flyvis_table(rows: list[dict[str, Any]]) -> list[str]:
    out = ["Flyvis (`flyvis_reference` regime, the users' recipe, batch 1; one epoch = the regime's steps per "
           "epoch; dataset = x and y of 64,000 frames, float32):", "",
           "| extent | neurons | synapses | setup (s) | Euler steps/s | simulate 64k frames (min) | train steps/s "
           "| one epoch (h) | train memory (GiB) | dataset (GiB) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['extent']} | {r['neurons']:,} | {r['synapses']:,} | {r['setup_s']:.1f} | "
                   f"{r['sim_steps_per_s']:.3g} | {r['sim_full_min']:.3g} | {r['steps_per_s']:.3g} | "
                   f"{r['epoch_h']:.3g} ({r['epoch_steps']:,} steps) | {r['train_gib']:.2f} | "
                   f"{r['data_full_gib']:.2f} |")
    return out


#: GPU memory sizes on sale (GB), for "what would fit".
GPU_GB = (24, 40, 48, 80, 141)


def fits(row: dict[str, Any], ram_gib: float = 24.0) -> str:
    """Whether a flyvis run at this extent fits a ``ram_gib`` machine with the dataset in RAM, and
    if not, what would (a quarter of the RAM left to the OS and the rest of the process)."""
    need = row["data_full_gib"] + row["train_gib"]
    if need < 0.75 * ram_gib:
        return f"extent {row['extent']}: needs ≈ {need:.1f} GiB (dataset + training): fits in {ram_gib:.0f} GiB."
    frames = int((0.75 * ram_gib - row["train_gib"]) * GIB / (8 * row["neurons"]))
    gpu = next((gb for gb in GPU_GB if gb * 1e9 > 1.2 * need * GIB), None)
    return (f"extent {row['extent']}: needs ≈ {need:.1f} GiB with the {row['full_frames']:,}-frame dataset in "
            f"RAM (x and y, float32; the simulator fills the same arrays) — does not fit in {ram_gib:.0f} GiB. "
            f"It would with x and y memory-mapped from disk (a step reads {row['batch']} frame(s), "
            f"{8 * row['neurons'] * row['batch'] / 2**20:.2f} MiB), stored as float16 "
            f"({row['data_full_gib'] / 2:.1f} GiB), or with ≤ {frames:,} frames in RAM; or on a GPU with "
            f"{gpu or max(GPU_GB)} GB (and as much host RAM for the simulation). One epoch at "
            f"{row['steps_per_s']:.2g} steps/s on one thread: {row['epoch_h']:.1f} h.")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} thread(s), "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signal-sizes", type=int, nargs="*", default=[100, 300, 1000, 3000, 10000])
    parser.add_argument("--extents", type=int, nargs="*", default=[2, 4, 8, 15])
    parser.add_argument("--seconds", type=float, default=15.0, help="time spent timing steps, per size")
    parser.add_argument("--out", default="benchmarks/results/scaling.md")
    args = parser.parse_args()
    t0 = time.perf_counter()
    lines = [f"Command: `OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} python benchmarks/scaling.py "
             f"{' '.join(sys.argv[1:])}`".replace("scaling.py `", "scaling.py`"), "", f"Machine: {machine()}.", ""]
    if args.signal_sizes:
        sim_bytes = signal_sim_bytes_per_value()
        signal_row(args.signal_sizes[0], 1.0, sim_bytes)  # warm-up: torch's one-time allocations
        rows = []
        for n in args.signal_sizes:
            rows.append(signal_row(n, args.seconds, sim_bytes))
            print(rows[-1], flush=True)
        lines += signal_table(rows, sim_bytes) + [""]
    if args.extents:
        rows = []
        for extent in args.extents:
            rows.append(flyvis_row(extent, args.seconds))
            print(rows[-1], flush=True)
        lines += flyvis_table(rows) + ["", fits(rows[-1]), ""]
    lines.append(f"Total {time.perf_counter() - t0:.0f} s.")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
