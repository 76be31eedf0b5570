"""Learning curves: metrics.csv in every run (step, each loss term, the live metric, learning rates,
wall time), a job-log line every log_every steps without the progress bar, and TensorBoard on one
key — or one clear error when tensorboard is not installed."""

from __future__ import annotations

import logging
import math
import sys

import pytest

from neuralgraph import rundir
from neuralgraph.curves import csv_text
from neuralgraph.errors import ConfigError
from neuralgraph.launch import compose_regime
from neuralgraph.train import run, typed

OVERRIDES = ("plots=false", "training.data_augmentation_loop=20", "training.n_epochs=2",
             "training.lr_schedule=cosine")


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory, cache_dir):
    """A tiny run with the bar off and a log line every 25 steps; its directory and log records."""
    out = tmp_path_factory.mktemp("run")
    handler, logger = _Collect(), logging.getLogger("neuralgraph.train")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        metrics = run(compose_regime("tiny_metabolism", "progress=false", "log_every=25", *OVERRIDES), out)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return out, metrics, handler.messages


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_metrics_csv_holds_the_learning_curves(logged_run):
    run_dir, metrics, _ = logged_run
    cfg = typed(compose_regime("tiny_metabolism", *OVERRIDES))
    curves = rundir.read_curves(run_dir)
    t = cfg.training
    assert list(curves.columns[:4]) == ["step", "epoch", "loss", "regularization"]
    assert {"live", "lr_k", "lr_MLP_sub", "lr_MLP_node", "lr_embedding", "wall_time_s"} <= set(curves.columns)
    n_iter = metrics["n_steps"] // t.n_epochs
    assert curves["step"].iloc[-1] == metrics["n_steps"] and curves["step"].is_monotonic_increasing
    assert set(curves["epoch"]) == {0, 1}
    assert (curves["epoch"] == (curves["step"] - 1) // n_iter).all()
    assert curves["loss"].notna().all() and (curves["loss"] > 0).all()
    assert curves["wall_time_s"].is_monotonic_increasing and curves["wall_time_s"].iloc[-1] > 0
    # The cosine schedule, read back: from lr_k towards lr_final_factor · lr_k, never up.
    assert curves["lr_k"].iloc[0] == pytest.approx(t.lr_k, rel=1e-3)
    assert curves["lr_k"].is_monotonic_decreasing and curves["lr_k"].iloc[-1] == pytest.approx(t.lr_k * t.lr_final_factor)
    assert curves["live"].notna().all()


def test_the_job_log_gets_a_line_every_log_every_steps(logged_run):
    _, metrics, messages = logged_run
    lines = [m for m in messages if m.startswith("step ")]
    steps = [int(m.split()[1].split("/")[0]) for m in lines]
    total = metrics["n_steps"]
    # One line at the first record at or after each multiple of 25, and one at the end.
    assert len(lines) == math.ceil(total / 25) and steps[-1] == total
    assert all(25 * (i + 1) <= s < 25 * (i + 1) + 5 for i, s in enumerate(steps[:-1]))
    assert all("loss" in m and "rate_constants_R2" in m and "lr_k=" in m for m in lines)


def test_no_log_lines_with_the_progress_bar(tmp_path, cache_dir, caplog):
    caplog.set_level(logging.INFO, logger="neuralgraph.train")
    run(compose_regime("tiny_metabolism", "progress=true", "training.data_augmentation_loop=10", "plots=false"),
        tmp_path)
    assert not [r for r in caplog.records if r.getMessage().startswith("step ")]
    assert (tmp_path / rundir.METRICS_CSV).exists()


def test_csv_columns_follow_first_appearance_and_blank_what_is_missing():
    text = csv_text([{"step": 1, "loss": 0.5, "live": float("nan")},
                     {"step": 2, "loss": 0.25, "reg_L1": 0.1, "live": 0.3}])
    assert text.splitlines() == ["step,loss,live,reg_L1", "1,0.5,,", "2,0.25,0.3,0.1"]


def test_tensorboard_without_the_package_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were absent
    monkeypatch.setenv("NEURALGRAPH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match=r"tensorboard=true needs the tensorboard package: pip install tensorboard"):
        run(compose_regime("tiny_metabolism", "tensorboard=true", *OVERRIDES), tmp_path / "run")
    assert not (tmp_path / "cache").exists()  # refused before simulating anything


def test_tensorboard_logs_the_same_curves(tmp_path, cache_dir):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run(compose_regime("tiny_metabolism", "tensorboard=true", "progress=false", *OVERRIDES), tmp_path)
    events = EventAccumulator(str(tmp_path / rundir.TENSORBOARD_DIR))
    events.Reload()
    curves = rundir.read_curves(tmp_path)
    loss = events.Scalars("loss/data")
    assert [e.step for e in loss] == list(curves["step"])
    assert [e.value for e in loss] == pytest.approx(list(curves["loss"]), rel=1e-6)
    assert {"lr/k", "metric/rate_constants_R2_live", "loss/regularization"} <= set(events.Tags()["scalars"])
