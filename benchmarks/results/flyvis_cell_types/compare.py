"""The flyvis cell-type read-out of finished runs under several evaluation settings (no training).

    python benchmarks/results/flyvis_cell_types/compare.py RUN_DIR [RUN_DIR ...] [--out FILE.json]
    python benchmarks/results/flyvis_cell_types/compare.py --rounds EXTENT K SEED
    python benchmarks/results/flyvis_cell_types/compare.py --noisy-truth EXTENT SEED NOISE
    python benchmarks/results/flyvis_cell_types/compare.py --baseline-spread EXTENT K [K ...]

Each run's model is loaded as ``benchmarks/rescore.py`` does and its cell-type metrics
(:func:`neuralgraph.families.flyvis.evaluate.cell_types`) are computed with the run's own
evaluation block and with these changes to it: ``cluster_criterion=bic`` (the default),
``cluster_criterion=silhouette``, and ``n_clusters=65`` (the true number, as the former default). ``--rounds``
prints the graph-only baseline's accuracy / ARI after each refinement round on the lattice of
``EXTENT`` at ``K`` clusters (what ``celltypes.GRAPH_ROUNDS`` was read from); ``--noisy-truth``
scores the read-out, without training, on the true log τ and V_rest plus noise (and times it);
``--baseline-spread`` the graph-only baseline at each K over clustering seeds 0-4.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from threadpoolctl import threadpool_limits

from neuralgraph import checkpoint, rundir
from neuralgraph.datacache import load_or_simulate
from neuralgraph.families.flyvis import celltypes
from neuralgraph.families.flyvis.evaluate import cell_types
from neuralgraph.families.flyvis.readout import corrected_weights, linearise
from neuralgraph.family import get_family
from neuralgraph.launch import compose_regime
from neuralgraph.metrics.cluster import matched_accuracy
from sklearn.metrics import adjusted_rand_score
from neuralgraph.train import typed

SETTINGS = {"bic": {"cluster_criterion": "bic"}, "silhouette": {"cluster_criterion": "silhouette"},
            "fixed_65": {"n_clusters": 65}}
KEYS = ("cluster_accuracy", "cluster_ARI", "n_clusters", "baseline_cluster_accuracy", "baseline_cluster_ARI",
        "cluster_beats_graph", "cluster_accuracy_with_wiring", "cluster_accuracy_with_unit_wiring")


def compare(run_dir: Path) -> dict:
    overrides = [str(o) for o in OmegaConf.load(run_dir / ".hydra" / "overrides.yaml")]
    regime = [o.split("=", 1)[1] for o in overrides if o.startswith("+regime=")][0]
    cfg = typed(compose_regime(regime, *(o for o in overrides if not o.startswith(("+regime=", "hydra.")))))
    family = get_family("flyvis")
    arrays, _, _ = load_or_simulate(cfg.cache_dir, family.name, cfg.simulation, family.simulate)
    device = torch.device("cpu")
    model, _ = family.build(arrays, cfg, device)
    model.load_state_dict(checkpoint.load(run_dir / rundir.MODEL_PT)["state_dict"])
    model.eval()
    fit = linearise(model, arrays, device)
    src, tgt = model.edge_src.numpy(), model.edge_tgt.numpy()
    W_corr = corrected_weights(model.W.detach().double().numpy(), src, tgt, fit["alpha"], fit["gamma"], fit["g_slope"])
    out = {"regime": regime, "sim_seed": cfg.simulation.seed, "train_seed": cfg.training.seed,
           "n_neurons": int(len(arrays["node_type"])), "n_types": int(len(np.unique(arrays["node_type"])))}
    for name, change in SETTINGS.items():
        evaluation = dataclasses.replace(cfg.evaluation, **change)
        t0 = time.perf_counter()
        with threadpool_limits(1):
            metrics, _ = cell_types(model, arrays, fit, W_corr, evaluation, cfg.training.seed)
        out[name] = {k: metrics[k] for k in KEYS} | {"seconds": round(time.perf_counter() - t0, 1)}
    return out


def rounds_table(extent: int, k: int, seed: int, rounds: int = 8) -> str:
    from neuralgraph.families.flyvis.simulate import load_lattice

    lat = load_lattice(extent)
    labels = np.zeros(lat.n_neurons, dtype=np.int64)
    ones = np.ones(lat.n_edges)
    cells = []
    with threadpool_limits(1):
        for _ in range(rounds):
            labels = celltypes.cluster_labels(celltypes.wiring_fingerprint(labels, ones, lat.edge_src, lat.edge_tgt),
                                              "kmeans", k, seed)
            labels = np.unique(labels, return_inverse=True)[1]
            cells.append(f"{matched_accuracy(labels, lat.node_type):.3f} / "
                         f"{adjusted_rand_score(lat.node_type, labels):.3f}")
    return f"| {extent} | {k} | {seed} | " + " | ".join(cells) + " |"


def baseline_spread(extent: int, ks: list[int], seeds: range = range(5)) -> list[str]:
    """The graph-only baseline's accuracy on the lattice of ``extent`` at each k, over clustering seeds."""
    from neuralgraph.families.flyvis.simulate import load_lattice

    lat = load_lattice(extent)
    rows = []
    with threadpool_limits(1):
        for k in ks:
            accs = [matched_accuracy(celltypes.graph_types(lat.n_neurons, lat.edge_src, lat.edge_tgt, "kmeans", k, s),
                                     lat.node_type) for s in seeds]
            rows.append(f"| {extent} | {k} | " + " ".join(f"{a:.3f}" for a in accs)
                        + f" | {np.mean(accs):.3f} | {np.std(accs):.3f} |")
    return rows


def noisy_truth(extent: int, seed: int, noise: float) -> dict:
    """No training: the cell-type metrics when the learned log τ and V_rest are the truth plus
    Gaussian noise of ``noise`` standard deviations (per neuron), on the lattice of ``extent``; the
    learned weights are the true ones. Times the read-out at that size."""
    from types import SimpleNamespace

    from neuralgraph.families.flyvis.config import FlyVisEvaluation, FlyVisSimulation
    from neuralgraph.families.flyvis.simulate import draw_ground_truth, load_lattice

    lat = load_lattice(extent)
    rng = np.random.default_rng(seed)
    gt = draw_ground_truth(lat, FlyVisSimulation(seed=seed, extent=extent), rng)
    t = lat.node_type
    feats = celltypes.standardised(np.stack([np.log(gt.tau_type[t]), gt.v_rest_type[t]], 1))
    feats = feats + noise * rng.standard_normal(feats.shape)
    model = SimpleNamespace(a=torch.zeros(len(t), 2), edge_src=torch.as_tensor(lat.edge_src),
                            edge_tgt=torch.as_tensor(lat.edge_tgt))
    fit = {"tau": np.exp(feats[:, 0]), "V_rest": feats[:, 1]}
    arrays = {"node_type": t, "type_names": np.asarray(lat.type_names)}
    out = {"extent": extent, "seed": seed, "noise": noise, "n_neurons": lat.n_neurons}
    for name, change in SETTINGS.items():
        t0 = time.perf_counter()
        with threadpool_limits(1):
            metrics, _ = cell_types(model, arrays, fit, gt.W, FlyVisEvaluation(**change), seed)
        out[name] = {k: metrics[k] for k in KEYS} | {"seconds": round(time.perf_counter() - t0, 1)}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", type=Path)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--rounds", nargs=3, type=int, metavar=("EXTENT", "K", "SEED"), default=None)
    p.add_argument("--baseline-spread", nargs="+", type=int, metavar="EXTENT K", default=None)
    p.add_argument("--noisy-truth", nargs=3, type=float, metavar=("EXTENT", "SEED", "NOISE"), default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.rounds:
        print(rounds_table(*args.rounds), flush=True)
        return
    if args.baseline_spread:
        print("\n".join(baseline_spread(args.baseline_spread[0], args.baseline_spread[1:])), flush=True)
        return
    if args.noisy_truth:
        extent, seed, noise = args.noisy_truth
        print(json.dumps(noisy_truth(int(extent), int(seed), noise)), flush=True)
        return
    everything = {}
    for run in args.runs:
        everything[str(run)] = compare(run)
        print(json.dumps({str(run): everything[str(run)]}), flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps(everything, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
