"""How well can a SIREN field Ω(x, y, t)² represent the flyvis training movie? An upper bound.

The SIREN of ``model.field_type=visual`` (the users' form) is fitted *directly* to the true
luminance of every photoreceptor column of a movie drawn like the training one (not through the
network, which can only make it harder), on random batches of frames as in training, and scored
like ``field_R2`` (squared Pearson r on frames 0–800, step 2) and over the whole movie:

    OMP_NUM_THREADS=1 python benchmarks/flyvis_siren_capacity.py [--extent 8] [--frames 16000]
        [--width 256] [--omega 200 800] [--lr 1e-6 3e-6 3e-5 1e-4] [--steps 1500] [--batch 16]

One line per (ω, lr); the output of a run at extent 8 is in
``benchmarks/results/full_size/flyvis_siren_capacity.txt``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from neuralgraph.families.flyvis.config import FlyVisSimulation
from neuralgraph.families.flyvis.simulate import hex_columns, hex_xy, make_stimulus
from neuralgraph.nn.siren import Siren

#: Frames scored like field_R2 (0 … 800, step 2).
FIELD_FRAMES = 800


def movie(extent: int, n_frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Column positions (n_col, 2) and a movie (n_frames, n_col) drawn as the simulator draws its own."""
    sim = FlyVisSimulation()
    xy = hex_xy(hex_columns(extent))
    stim, _ = make_stimulus(xy, n_frames, sim.delta_t, list(sim.stimuli), sim.segment_frames, sim.contrast,
                            np.random.default_rng(seed))
    return xy, stim


def fit(xy: np.ndarray, stim: np.ndarray, width: int, omega: float, lr: float, steps: int, batch: int,
        seed: int) -> tuple[float, float]:
    """(R² on frames 0–800, R² on every 7th frame) of a SIREN trained ``steps`` Adam steps on ``stim``."""
    torch.manual_seed(seed)
    target = torch.as_tensor(stim)
    n_frames = target.shape[0]
    field = Siren(3, 1, width, 3, omega_first=omega, omega_hidden=omega)
    torch.nn.init.constant_(field.out.bias, math.sqrt(0.5))  # grey start, as in the model
    columns = torch.as_tensor(xy / float(np.abs(xy).max()), dtype=torch.float32)
    t_scale = 2 * math.pi / n_frames  # one 2π of the time input spans the movie

    def values(frames: torch.Tensor) -> torch.Tensor:
        t = frames.float()[:, None, None] * t_scale
        inp = torch.cat([columns[None].expand(len(frames), -1, -1), t.expand(-1, columns.shape[0], 1)], -1)
        out = field(inp)[..., 0]
        return out * out

    opt = torch.optim.Adam(field.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        frames = torch.randint(0, n_frames, (batch,), generator=gen)
        loss = (values(frames) - target[frames]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    def r2(frames: torch.Tensor) -> float:
        with torch.no_grad():
            pred = torch.cat([values(c) for c in frames.split(256)]).numpy().ravel()
        r = np.corrcoef(pred, stim[frames.numpy()].ravel())[0, 1]
        return float(r * r) if np.isfinite(r) else 0.0

    return r2(torch.arange(0, min(FIELD_FRAMES, n_frames), 2)), r2(torch.arange(0, n_frames, 7))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--extent", type=int, default=8)
    p.add_argument("--frames", type=int, default=16000)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--omega", type=float, nargs="+", default=[200.0, 800.0])
    p.add_argument("--lr", type=float, nargs="+", default=[1e-6, 3e-6, 3e-5, 1e-4])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    torch.set_num_threads(1)
    xy, stim = movie(args.extent, args.frames, args.seed)
    print(f"extent {args.extent}: {xy.shape[0]} columns, {args.frames} frames; SIREN width {args.width}, "
          f"{args.steps} steps of {args.batch} frames")
    for omega in args.omega:
        for lr in args.lr:
            t0 = time.perf_counter()
            r2_scored, r2_all = fit(xy, stim, args.width, omega, lr, args.steps, args.batch, args.seed)
            print(f"omega {omega:g} lr {lr:g}: R2 frames 0-800 {r2_scored:.3f}, whole movie {r2_all:.3f} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
