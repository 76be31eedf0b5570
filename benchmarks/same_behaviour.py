"""Does a refactor leave every run bit-identical? Runs the same regimes from two checkouts and
compares their ``metrics.json`` (values and key order, timing keys aside) and ``results.npz``
(every array's dtype, shape and bytes).

    git worktree add /tmp/before <commit>
    python benchmarks/same_behaviour.py --before /tmp/before --after . --out outputs/same_behaviour

Each run is a subprocess on one thread, without plots or a progress bar, with its own dataset
cache, and imports only its own checkout (the editable install's path is dropped), so the two
sides never share code or data. The larger regimes train for a shortened step budget
(``training.data_augmentation_loop``): the check is of the code path, not of convergence. A
recording (``neuralgraph.recording.demo``, written once by the ``--before`` checkout) covers the
truth-free path. ``--compare-only`` compares run directories made earlier. The table goes to
``<out>/same_behaviour.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

#: ``(run name, overrides)``: every tiny regime at its defaults; the larger ones cut short.
RUNS = [
    ("tiny_metabolism", ["+regime=tiny_metabolism"]),
    ("tiny_signal", ["+regime=tiny_signal"]),
    ("tiny_signal_rnn", ["+regime=tiny_signal_rnn"]),
    ("tiny_flyvis", ["+regime=tiny_flyvis"]),
    ("tiny_metabolism_S_learning", ["+regime=tiny_metabolism_S_learning"]),
    ("signal_chaotic", ["+regime=signal_chaotic", "training.data_augmentation_loop=2"]),
    ("flyvis_small", ["+regime=flyvis_small", "training.data_augmentation_loop=1"]),
    ("oscillatory_rank50", ["+regime=oscillatory_rank50", "training.data_augmentation_loop=1"]),
    ("signal_recording", ["+regime=signal_recording", "data.path={recording}", "training.data_augmentation_loop=20"]),
]
COMMON = ["num_threads=1", "plots=false", "progress=false", "resume=false"]
#: Keys that differ between two identical runs (wall time, the cache folder's path).
TIMING = {"training_time_min", "dataset"}
#: Run ``neuralgraph.train`` from the checkout in $SAME_BEHAVIOUR_ROOT and nothing else.
ENTRY = ("import os, runpy, sys; root = os.environ['SAME_BEHAVIOUR_ROOT']; "
         "sys.path[:] = [root] + [p for p in sys.path if p and os.path.realpath(p) != os.path.realpath(os.environ"
         "['SAME_BEHAVIOUR_OTHER'])]; runpy.run_module('neuralgraph.train', run_name='__main__', alter_sys=True)")


def run_side(root: Path, other: Path, out: Path, recording: Path) -> None:
    """Every run of :data:`RUNS` from checkout ``root`` into ``out/<name>``."""
    env = dict(os.environ, SAME_BEHAVIOUR_ROOT=str(root), SAME_BEHAVIOUR_OTHER=str(other), PYTHONPATH=str(root),
               OMP_NUM_THREADS="1")
    for name, overrides in RUNS:
        args = [o.format(recording=recording) for o in overrides]
        cmd = [sys.executable, "-c", ENTRY, *args, *COMMON, f"cache_dir={out / 'cache'}", f"hydra.run.dir={out / name}"]
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        (out / f"{name}.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise SystemExit(f"{name} failed in {root} (exit {proc.returncode}); see {out / name}.log")


def write_recording(root: Path, path: Path) -> None:
    """A demo recording written by the ``root`` checkout's own generator."""
    code = ("import sys, numpy as np; from neuralgraph.recording.demo import demo_recording; "
            "arrays, _ = demo_recording(n=32, n_trials=4, duration=30.0, noise=0.01, missing=0.05, unobserved=1, "
            "seed=0); np.savez(sys.argv[1], **arrays)")
    subprocess.run([sys.executable, "-c", code, str(path)], cwd=root, env=dict(os.environ, PYTHONPATH=str(root)),
                   check=True)


def compare(before: Path, after: Path) -> tuple[bool, str]:
    """``(identical, one table row)`` for two run directories."""
    ma = json.loads((before / "metrics.json").read_text())
    mb = json.loads((after / "metrics.json").read_text())
    keys_a, keys_b = [k for k in ma if k not in TIMING], [k for k in mb if k not in TIMING]
    metrics_diff = sorted(k for k in set(keys_a) | set(keys_b) if ma.get(k) != mb.get(k))
    with np.load(before / "results.npz") as ra, np.load(after / "results.npz") as rb:
        arrays_diff = sorted(k for k in set(ra.files) | set(rb.files)
                             if k not in ra.files or k not in rb.files or ra[k].dtype != rb[k].dtype
                             or ra[k].shape != rb[k].shape or ra[k].tobytes() != rb[k].tobytes())
        n_arrays = len(ra.files)
    same = not metrics_diff and not arrays_diff and keys_a == keys_b
    row = (f"| {before.name} | {len(keys_a)} | {'yes' if keys_a == keys_b else 'no'} | "
           f"{', '.join(metrics_diff) or 'none'} | {n_arrays} | {', '.join(arrays_diff) or 'none'} | "
           f"{'identical' if same else 'DIFFERENT'} |")
    return same, row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the commit before the change")
    parser.add_argument("--after", type=Path, required=True, help="checkout with the change")
    parser.add_argument("--out", type=Path, required=True, help="folder for both sides' run directories and the table")
    parser.add_argument("--compare-only", action="store_true", help="compare <out>/before and <out>/after as they are")
    args = parser.parse_args()
    before, after = args.before.resolve(), args.after.resolve()
    if not args.compare_only:
        args.out.mkdir(parents=True, exist_ok=True)
        recording = args.out.resolve() / "traces.npz"
        write_recording(before, recording)
        run_side(before, after, args.out.resolve() / "before", recording)
        run_side(after, before, args.out.resolve() / "after", recording)
    rows, all_same = [], True
    for name, _ in RUNS:
        same, row = compare(args.out / "before" / name, args.out / "after" / name)
        rows.append(row)
        all_same &= same
    table = ("| run | metrics | key order same | metrics that differ | arrays | arrays that differ | verdict |\n"
             "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    (args.out / "same_behaviour.md").write_text(table)
    print(table)
    raise SystemExit(0 if all_same else 1)


if __name__ == "__main__":
    main()
