"""`hydra/sweeper=optuna`: our thin Optuna sweeper on the regime's own space and reward key, with
a modern optuna, a stored study resumed by the same command, and interrupted trials asked again."""

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf
from sweeper_helpers import ROOT, app_cmd, app_env, run_app

from neuralgraph.explore.optuna_study import OptunaStudy, distribution
from neuralgraph.explore.space import parse_space
from neuralgraph.resources import regime_names

FAST = ["progress=false", "plots=false", "training.data_augmentation_loop=2"]


def trials(db, name):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{db}").trials


def test_optuna_is_modern():
    assert int(optuna.__version__.split(".")[0]) >= 4


def test_a_stored_study_is_resumed_by_the_same_command(tmp_path):
    db = tmp_path / "study.db"
    args = [f"hydra.sweeper.storage=sqlite:///{db}", "hydra.sweeper.n_trials=3"]
    run_app(tmp_path / "a", *args, sweeper="optuna")
    first = yaml.safe_load((tmp_path / "a" / "optimization_results.yaml").read_text())
    assert first["study_name"] == "toy" and first["reward_key"] == "score"  # from the regime
    assert first["n_trials"] == 3 and 0 < first["best_value"] < 1.2
    run_app(tmp_path / "a", *args, sweeper="optuna")  # the same command: nothing owed
    assert len(trials(db, "toy")) == 3
    assert sorted(p.name for p in (tmp_path / "a").iterdir() if p.is_dir()) == ["0", "1", "2"]
    run_app(tmp_path / "b", args[0], "hydra.sweeper.n_trials=5", sweeper="optuna")
    assert len(trials(db, "toy")) == 5  # continued, in another sweep directory


def test_trials_a_killed_sweep_left_running_are_asked_again(tmp_path):
    db = tmp_path / "study.db"
    args = [f"hydra.sweeper.storage=sqlite:///{db}", "hydra.sweeper.n_trials=4",
            "hydra.sweeper.n_jobs=2"]
    proc = subprocess.Popen(app_cmd(tmp_path / "a", "pre_sleep_s=30", *args, sweeper="optuna"),
                            env=app_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 60
    while not (tmp_path / "a" / "0").exists():
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    interrupted = trials(db, "toy")[0].params
    run_app(tmp_path / "b", *args, sweeper="optuna")
    done = trials(db, "toy")
    failed = [t for t in done if t.state == optuna.trial.TrialState.FAIL]
    complete = [t for t in done if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4 and len(failed) == 2  # the two interrupted ones
    assert "error" not in failed[0].user_attrs
    assert any(t.params == interrupted for t in complete)  # its parameters ran after all


def test_failing_trials_stop_the_sweep_with_one_line(tmp_path):
    proc = subprocess.run(app_cmd(tmp_path / "a", "training.fail=true", "hydra.sweeper.n_trials=4",
                                  sweeper="optuna"),
                          env=app_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "optuna: 4 of 4 trials failed (first error: RuntimeError: toy failure" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def regime_config():
    from neuralgraph.config import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        yield lambda overrides: compose("config", overrides=list(overrides))
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("regime", regime_names())
def test_every_regime_gives_the_optuna_sweeper_a_space_a_key_and_a_direction(regime, regime_config):
    from hydra_plugins.ucb_llm_sweeper.optuna_regime import OptunaRegimeSweeperConf

    conf = OmegaConf.structured(OptunaRegimeSweeperConf)
    study = OptunaStudy(conf, ROOT, [f"+regime={regime}"], launch=None, compose=regime_config)
    assert study.reward_key and study.direction == "maximize" and study.space.dims
    for dim in study.space.dims.values():
        distribution(dim)  # every dimension maps to an Optuna distribution


def test_range_and_choice_distributions():
    space = parse_space({"a": "range(8, 40, 8)", "b": "choice(true, false)",
                         "c": "tag(int, interval(1, 9))", "d": "tag(log, interval(1e-4, 1e-1))"})
    a, b, c, d = (distribution(space.dims[k]) for k in "abcd")
    assert (a.low, a.high, a.step) == (8, 32, 8)
    assert b.choices == (True, False) and (c.low, c.high) == (1, 9) and d.log


def test_tiny_metabolism_study_runs_and_resumes(tmp_path, regime_config):
    """The issue's command, cut to two trials of a few steps each, then run again."""
    db = tmp_path / "study.db"
    cmd = [sys.executable, "-m", "neuralgraph.train", "-m", "+regime=tiny_metabolism",
           "hydra/sweeper=optuna", f"hydra.sweeper.storage=sqlite:///{db}", "hydra.sweeper.study_name=s",
           "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={tmp_path / 'sweep'}", *FAST]
    env = app_env({"NEURALGRAPH_CACHE": str(tmp_path / "cache")})
    for _ in range(2):
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert res["reward_key"] == "rate_constants_R2" and res["n_trials"] == 2
    assert set(res["best_params"]) == set(regime_config(["+regime=tiny_metabolism"]).search_space)
    assert len(trials(db, "s")) == 2  # the second run resumed the finished study, ran nothing
