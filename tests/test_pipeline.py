"""End to end in one process: ``train.run`` on the composed config of each family's tiny regime,
and the run directory it leaves behind (the contract every reader relies on).

One run per regime (module-scoped), on the CPU with plots off; each test reads that run.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from neuralgraph import rundir
from neuralgraph.datacache import load_or_simulate
from neuralgraph.family import get_family
from neuralgraph.launch import compose_regime
from neuralgraph.train import run, typed

STATUSES = {"converged", "partial", "failed"}
CPU = torch.device("cpu")


def connectome_available() -> bool:
    from neuralgraph.families.flyvis import simulate

    return simulate.connectome_available()


#: regime -> the true and recovered arrays its results.npz must hold, in (true, learned) pairs
REGIMES = {
    "tiny_metabolism": ("k_true", "k_learned", "log_k_true", "log_k_learned"),
    "tiny_signal": ("W_true", "W_learned"),
    "tiny_flyvis": ("W_true", "W_learned", "tau_true", "tau_learned", "V_rest_true", "V_rest_learned"),
}


@dataclass
class Run:
    regime: str
    cfg: Any  # the composed DictConfig
    metrics: dict[str, Any]
    path: Any


@pytest.fixture(scope="module", params=sorted(REGIMES))
def finished(request, cache_dir, tmp_path_factory) -> Run:
    regime = request.param
    if regime == "tiny_flyvis" and not connectome_available():
        pytest.skip("flyvis connectome JSON not installed")
    cfg = compose_regime(regime, "device=cpu", "progress=false", "plots=false")
    path = tmp_path_factory.mktemp(regime)
    return Run(regime, cfg, run(cfg, path), path)


def strict_json(text: str) -> Any:
    """JSON as the standard defines it: a NaN or Infinity token is an error."""
    def refuse(token: str) -> None:
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_the_run_reports_a_status_and_a_finite_reward(finished):
    primary = finished.cfg.reward_key
    assert next(iter(finished.metrics)) == "status" and list(finished.metrics)[1] == primary
    assert finished.metrics["status"] in STATUSES
    assert math.isfinite(finished.metrics[primary])
    assert finished.metrics["error"] is None and finished.metrics["device"] == "cpu"
    assert finished.metrics["n_steps"] > 0 and math.isfinite(finished.metrics["final_loss"])


def test_the_run_directory_holds_the_contract(finished):
    for name in (rundir.ANALYSIS_LOG, rundir.METRICS_JSON, rundir.RESULTS_NPZ, rundir.MODEL_PT):
        assert (finished.path / name).stat().st_size > 0, name
    assert not (finished.path / rundir.PLOTS_DIR).exists()  # plots=false
    assert not [p.name for p in finished.path.iterdir() if p.name.endswith(".tmp")]


def test_metrics_json_is_the_returned_metrics_with_nan_as_null(finished):
    on_disk = strict_json((finished.path / rundir.METRICS_JSON).read_text())
    assert list(on_disk) == list(finished.metrics)
    for key, value in finished.metrics.items():
        if isinstance(value, float) and not math.isfinite(value):
            assert on_disk[key] is None, key
        elif isinstance(value, float):
            assert on_disk[key] == pytest.approx(value, rel=1e-12), key
        else:
            assert on_disk[key] == value, key


def test_analysis_log_repeats_the_metrics(finished):
    log = rundir.read_analysis_log(finished.path)
    primary = finished.cfg.reward_key
    assert log["status"] == finished.metrics["status"]
    assert log[primary] == pytest.approx(finished.metrics[primary], rel=1e-5, abs=1e-12)
    assert "error" not in log  # None is left out of the log


def test_results_hold_truth_and_recovery_side_by_side(finished):
    results = rundir.read_results(finished.path)
    keys = REGIMES[finished.regime]
    assert set(keys) <= set(results), sorted(set(keys) - set(results))
    for true_key, learned_key in zip(keys[::2], keys[1::2]):
        assert results[true_key].shape == results[learned_key].shape, true_key
        assert np.isfinite(results[true_key]).all() and np.isfinite(results[learned_key]).all(), learned_key


def test_the_checkpoint_rebuilds_the_trained_model(finished):
    """A fresh model built from the same config, given model.pt, scores what the run scored."""
    cfg = typed(finished.cfg)
    family = get_family(cfg.simulation.family)
    checkpoint = torch.load(finished.path / rundir.MODEL_PT, weights_only=False)
    assert f"regime: {finished.regime}" in checkpoint["config"]
    assert checkpoint["step"] == finished.metrics["n_steps"]
    arrays, data_dir, cached = load_or_simulate(cfg.cache_dir, family.name, cfg.simulation, family.simulate)
    assert cached and data_dir.name == finished.metrics["dataset"]
    torch.manual_seed(12345)  # another initialisation: everything trained must come from the checkpoint
    fresh, _ = family.build(arrays, cfg, CPU)
    fresh.load_state_dict(checkpoint["state_dict"])
    metrics, _ = family.evaluate(fresh, arrays, cfg, CPU)
    primary = cfg.reward_key
    assert metrics[primary] == pytest.approx(finished.metrics[primary], rel=1e-6, abs=1e-9)


def test_the_dataset_is_simulated_once_and_a_corrupt_copy_again(cache_dir, tmp_path, caplog):
    cfg = compose_regime("tiny_metabolism", "simulation.seed=7", "training.data_augmentation_loop=20",
                         "device=cpu", "progress=false", "plots=false")
    caplog.set_level(logging.INFO, logger="neuralgraph")
    first = run(cfg, tmp_path / "a")
    assert "(simulated" in caplog.text
    caplog.clear()
    second = run(cfg, tmp_path / "b")
    assert "(cached" in caplog.text and second["dataset"] == first["dataset"]
    data_file = cache_dir / "datasets" / first["dataset"] / "data.npz"
    data_file.write_bytes(b"not a zip file")
    third = run(cfg, tmp_path / "c")
    assert "unreadable" in caplog.text
    assert np.load(data_file)["x"].shape[-1] == 12
    # The same simulation and the same training seed: the same run, to the bit.
    for metrics in (second, third):
        assert metrics["rate_constants_R2"] == first["rate_constants_R2"]
        assert metrics["final_loss"] == first["final_loss"]
