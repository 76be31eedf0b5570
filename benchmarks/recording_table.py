"""The README's recording validation: connectivity recovered from files NeuralGraph did not simulate.

    python benchmarks/recording_table.py [--n 100] [--out outputs/benchmarks/recording] \
        [--override training.data_augmentation_loop=80 ...]

For each row (noise 0, 1 %, 5 %, 10 % of the activity's std; 1 % noise with 10 % of the samples
missing) :func:`neuralgraph.recording.demo.demo_recording` integrates a rate network
du/dt = −u + 3 W tanh(u) with scipy's ``solve_ivp`` (10 trials of 50 time units, sampled at
irregular intervals 0.1·U(0.5, 1.5), the last neuron unobserved) and writes it as an ``.npz``;
then each file is fitted exactly as a user would, one process at a time:

    python -m neuralgraph.train +regime=signal_recording data.path=FILE hydra.run.dir=RUN

and the learned W (``W_normalized`` of ``results.npz``: each sender's ψ* rescaled to rise by 2
across ±1.5 std u, so ≈ g·W for this tanh network, slope ≈ 3) is compared with the generating W
over the observed neurons' off-diagonal entries (R² of the least-squares line, as
``connectivity_R2``, and its slope), beside the
known-law oracle (the true φ and ψ, W by least squares on the same smoothed data): what any
learner could reach from these samples. Written to ``OUT``: the files (4 MB each), the runs, ``table.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from neuralgraph import launch
from neuralgraph.metrics.regression import linear_fit
from neuralgraph.recording.config import RecordingData
from neuralgraph.recording.demo import demo_recording
from neuralgraph.recording.prepare import load_recording
from neuralgraph.rundir import read_results

ROWS = {"noise 0": (0.0, 0.0), "noise 1%": (0.01, 0.0), "noise 5%": (0.05, 0.0), "noise 10%": (0.10, 0.0),
        "noise 1%, 10% missing": (0.01, 0.10)}
GAIN = 3.0


def off_diagonal_fit(W_true: np.ndarray, W: np.ndarray):
    """The least-squares line of W against W_true over the off-diagonal entries (``.r2``, ``.slope``)."""
    off = ~np.eye(len(W_true), dtype=bool)
    return linear_fit(W_true[off], W[off])


def oracle_r2(path: Path, W_true: np.ndarray) -> float:
    """W by least squares given the true law (du/dt + u = g W tanh(u)), row by row, W_ii = 0."""
    arrays = load_recording(RecordingData(path=str(path)))
    u, du = arrays["u"].astype(np.float64), arrays["du"].astype(np.float64)
    X, y = np.tanh(u), (du + u) / GAIN
    n = u.shape[1]
    W = np.zeros((n, n))
    for i in range(n):
        keep = np.arange(n) != i
        W[i, keep] = np.linalg.lstsq(X[:, keep], y[:, i], rcond=None)[0]
    return off_diagonal_fit(W_true, W).r2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="neurons of the generating network")
    parser.add_argument("--out", default="outputs/benchmarks/recording")  # git-ignored: the files are large
    parser.add_argument("--rows", nargs="*", default=list(ROWS), help=f"rows to run, of: {list(ROWS)}")
    parser.add_argument("--override", nargs="*", default=[], help="extra overrides of every run")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| recording | connectivity R² (learned) | slope | oracle R² | one_step_R2 (held out) | "
             "residual_fraction | training (min) |", "|---|---|---|---|---|---|---|"]
    for name in args.rows:
        noise, missing = ROWS[name]
        tag = name.replace(" ", "_").replace("%", "").replace(",", "")
        arrays, W_true = demo_recording(n=args.n, noise=noise, missing=missing, seed=0)
        path = out / f"{tag}.npz"
        np.savez(path, **arrays)
        t0 = time.time()
        metrics = launch.run(out / "runs" / tag, "signal_recording", f"data.path={path.resolve()}", "plots=false",
                             *args.override)
        fit = off_diagonal_fit(W_true, read_results(out / "runs" / tag)["W_normalized"].astype(np.float64))
        row = (f"| {name} | {fit.r2:.4f} | {fit.slope:.2f} | {oracle_r2(path, W_true):.4f} | "
               f"{metrics['one_step_R2']:.4f} | {metrics['residual_fraction']:.4f} | "
               f"{metrics['training_time_min']:.1f} |")
        print(row, f"({time.time() - t0:.0f} s)", flush=True)
        lines.append(row)
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'table.md'}")


if __name__ == "__main__":
    main()
