"""Training throughput of the signal GNN against N, and per-node against per-edge ψ*.

    python benchmarks/bench_signal.py [--sizes 100 1000 4000] [--edge-sizes 100 300 1000]
                                      [--batch 8] [--steps 50] [--device auto] [--threads 1]

For each N it times full training steps (forward, normalised MSE, backward, Adam) of the GNN with
the default model (dense W, ψ*(u_j, a_j) and φ*(u_i, a_i), 64 hidden units) on random activity,
and prints steps/s. A size whose step does not fit in memory is reported as skipped.

Then, for each N in ``--edge-sizes``, it times the same step with ψ* evaluated per neuron and
aggregated by one matrix product (the default) and with ψ* evaluated on all N² edges (the
reference's formulation), interleaved in one process so that machine load cancels out, and prints
the ratio per-edge time / per-node time.
"""

from __future__ import annotations

import argparse
import gc
import time

import torch

from neuralgraph.families.signal.config import SignalModel
from neuralgraph.families.signal.model import SignalGNN
from neuralgraph.train import resolve_device


def make_step(n: int, batch: int, per_edge: bool, device: torch.device):
    torch.manual_seed(0)
    model = SignalGNN(SignalModel(per_edge=per_edge), n_neurons=n, x_scale=1.0).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    u = torch.randn(batch, n, device=device)
    y = torch.randn(batch, n, device=device)
    frames = torch.arange(batch, device=device)

    def step():
        loss = (model({"x": u, "frame": frames}) - y).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def seconds_per_step(step, repeats: int, device: torch.device) -> float:
    for _ in range(2):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeats


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 4000])
    parser.add_argument("--edge-sizes", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(f"signal GNN on {device} (torch {torch.__version__}, {torch.get_num_threads()} threads), batch {args.batch}")

    print("\nN       steps/s   frames/s")
    for n in args.sizes:
        try:
            step = make_step(n, args.batch, per_edge=False, device=device)
            t = seconds_per_step(step, max(3, args.steps if n <= 1000 else args.steps // 5), device)
            print(f"{n:<7} {1 / t:9.1f} {args.batch / t:10.0f}")
        except (RuntimeError, MemoryError) as err:  # out of memory
            print(f"{n:<7} skipped ({type(err).__name__}: {str(err).splitlines()[0][:80]})")
        _free(device)

    print("\nN       per-node s/step  per-edge s/step  ratio edge/node")
    for n in args.edge_sizes:
        try:
            node = make_step(n, args.batch, per_edge=False, device=device)
            edge = make_step(n, args.batch, per_edge=True, device=device)
            reps = max(3, args.steps if n <= 300 else args.steps // 10)
            t_node = t_edge = 0.0
            for _ in range(3):  # interleave, so load changes hit both
                t_node += seconds_per_step(node, reps, device)
                t_edge += seconds_per_step(edge, max(2, reps // 3), device)
            print(f"{n:<7} {t_node / 3:15.5f} {t_edge / 3:16.5f} {t_edge / t_node:16.1f}x")
        except (RuntimeError, MemoryError) as err:
            print(f"{n:<7} skipped ({type(err).__name__}: {str(err).splitlines()[0][:80]})")
        _free(device)


if __name__ == "__main__":
    main()
