"""Long runs: the progress bar and the job-log lines say the elapsed time, steps/s and the ETA, and
a checkpoint is saved every ``checkpoint_every_min`` minutes of training besides the
``n_checkpoints`` ones; a run continued from a timed checkpoint ends where an uninterrupted one does."""

from __future__ import annotations

import io
import logging
import time

import pytest
import torch
from omegaconf import OmegaConf

from neuralgraph.config.base import TrainingBase
from neuralgraph.curves import CurveLog, pace
from neuralgraph.errors import ConfigError
from neuralgraph.launch import compose_regime
from neuralgraph.train import typed
from neuralgraph.trainer import Hooks, train

from test_trainer import Linear, LinearModel, line_data, slope


class SlowLinear(Linear):
    """The line family with a 2 ms step, so that a fraction of a second spans many steps."""

    def after_step(self, model, t):
        time.sleep(0.002)


def line_cfg(every_min: float | None, dal: int = 50):
    """100 steps of batch 10 (dal 50), one step-based checkpoint (at the last step)."""
    cfg = OmegaConf.create({"training": OmegaConf.structured(TrainingBase)})
    cfg.training.update(lr=0.05, batch_size=10, data_augmentation_loop=dal, n_checkpoints=1)
    if every_min is not None:
        cfg.checkpoint_every_min = every_min
    return cfg


def fit(cfg, hooks=None, resume=None, progress=False, family=None):
    torch.manual_seed(0)
    model = LinearModel(1, 1, bias=False)
    if resume is not None:
        model.load_state_dict(resume["weights"])
    result = train(family or SlowLinear(), model, line_data(), slope, cfg, torch.device("cpu"), progress=progress,
                   hooks=hooks, resume=None if resume is None else resume["training"])
    return model, result


def saving_hooks(model_box: list, saved: list) -> Hooks:
    """Hooks whose checkpoint serialises the state at once (its tensors keep changing after)."""
    def save(state):
        buf = io.BytesIO()
        torch.save({"weights": model_box[0].state_dict(), "training": state}, buf)
        saved.append(buf.getvalue())

    return Hooks(checkpoint=save)


def run_saving(cfg) -> tuple[torch.nn.Module, list[dict]]:
    """Train with a checkpoint hook; every checkpoint saved, loaded back."""
    torch.manual_seed(0)
    model = LinearModel(1, 1, bias=False)
    saved: list[bytes] = []
    train(SlowLinear(), model, line_data(), slope, cfg, torch.device("cpu"), progress=False,
          hooks=saving_hooks([model], saved))
    return model, [torch.load(io.BytesIO(b), weights_only=True) for b in saved]


def test_a_checkpoint_every_few_seconds_besides_the_step_based_ones():
    _, untimed = run_saving(line_cfg(0.0))
    assert [c["training"]["step"] for c in untimed] == [100, 100]  # n_checkpoints=1, then the end
    _, timed = run_saving(line_cfg(0.03 / 60))  # 30 ms: about every 10 steps of 2 ms and more
    steps = [c["training"]["step"] for c in timed]
    assert len(steps) >= 5 and steps == sorted(steps) and steps[0] < 50 and steps[-1] == 100


def test_a_run_continued_from_a_timed_checkpoint_ends_where_an_uninterrupted_one_does():
    model, saved = run_saving(line_cfg(0.03 / 60))
    middle = next(c for c in saved if 20 <= c["training"]["step"] < 100)
    resumed, result = fit(line_cfg(0.0), resume=middle)
    assert result.n_steps == 100
    assert torch.equal(resumed.weight, model.weight)


def test_hand_built_configs_without_the_key_take_no_timed_checkpoints():
    torch.manual_seed(0)
    model = LinearModel(1, 1, bias=False)
    saved: list[bytes] = []
    train(SlowLinear(), model, line_data(), slope, line_cfg(None), torch.device("cpu"), progress=False,
          hooks=saving_hooks([model], saved))
    assert len(saved) == 2


def test_the_key_is_typed_with_a_default_of_minutes():
    assert typed(compose_regime("tiny_signal")).checkpoint_every_min == 5.0
    with pytest.raises(ConfigError, match="checkpoint_every_min"):
        typed(compose_regime("tiny_signal", "checkpoint_every_min=-1"))


def test_the_progress_bar_shows_elapsed_time_steps_per_second_and_eta(capsys):
    fit(line_cfg(0.0), progress=True, family=Linear())
    err = capsys.readouterr().err
    assert "step/s" in err and "/100 [00:00<" in err  # [elapsed<ETA, rate]


def test_job_log_lines_end_with_elapsed_time_rate_and_eta(tmp_path, caplog):
    assert pace(100, 1000, 50.0) == "elapsed 0:00:50, 2 steps/s, ETA 0:07:30"
    assert pace(3000, 4000, 4000.0) == "elapsed 1:06:40, 0.75 steps/s, ETA 0:22:13"
    assert pace(0, 10, 0.0) == "elapsed 0:00:00, nan steps/s, ETA ?"
    caplog.set_level(logging.INFO, logger="neuralgraph.train")
    log = CurveLog(tmp_path, "w", log_every=1, progress=False)
    log([{"step": 10, "epoch": 0, "loss": 1.0, "regularization": 0.0, "live": 0.5, "lr_w": 1e-3,
          "wall_time_s": 5.0}], 40)
    assert caplog.records[-1].getMessage().endswith("elapsed 0:00:05, 2 steps/s, ETA 0:00:15")
