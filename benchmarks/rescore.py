"""Score finished run directories again with the current evaluation code (no training, no plots).

    python benchmarks/rescore.py RUN_DIR [RUN_DIR ...] [--keys connectivity_R2 tau_R2 ...] [--out FILE.json]

The run's regime and overrides are read from ``RUN_DIR/.hydra/overrides.yaml``, its dataset from
the cache (simulated again if missing, as a run would), the trained model from ``model.pt``.
``metrics.json`` is left as the run wrote it; the new scores are printed (and written to
``--out``), so a change of a read-out can be applied to runs that took minutes or hours to train.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from omegaconf import OmegaConf

from neuralgraph import checkpoint, rundir
from neuralgraph.datacache import load_or_simulate
from neuralgraph.family import get_family
from neuralgraph.launch import compose_regime
from neuralgraph.train import typed


def rescore(run_dir: Path) -> dict:
    """The family's metrics of the model in ``run_dir`` on its own dataset, on the CPU."""
    overrides = [str(o) for o in OmegaConf.load(run_dir / ".hydra" / "overrides.yaml")]
    regimes = [o.split("=", 1)[1] for o in overrides if o.startswith("+regime=")]
    if not regimes:
        raise SystemExit(f"{run_dir}: no +regime= among its overrides; rescore needs a simulated regime's run")
    cfg = typed(compose_regime(regimes[0], *(o for o in overrides if not o.startswith(("+regime=", "hydra.")))))
    family = get_family(cfg.simulation.family)
    arrays, _, _ = load_or_simulate(cfg.cache_dir, family.name, cfg.simulation, family.simulate)
    device = torch.device("cpu")
    model, _ = family.build(arrays, cfg, device)
    model.load_state_dict(checkpoint.load(run_dir / rundir.MODEL_PT)["state_dict"])
    metrics, _ = family.evaluate(model, arrays, cfg, device)
    return metrics


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--keys", nargs="*", default=None, help="metrics to print (default: every float)")
    p.add_argument("--out", type=Path, default=None, help="write {run: metrics} here as JSON")
    args = p.parse_args()
    torch.set_num_threads(1)
    everything = {}
    for run in args.runs:
        metrics = {k: v for k, v in rescore(run).items() if isinstance(v, (int, float))}
        everything[str(run)] = metrics
        shown = {k: round(float(metrics[k]), 4) for k in (args.keys or metrics) if k in metrics}
        print(run, json.dumps(shown), flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps(everything, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
