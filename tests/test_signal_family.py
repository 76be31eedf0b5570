"""Signal family end to end: the CLI on the tiny regimes writes a complete, truthful run directory."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from neuralgraph import resources, rundir
from neuralgraph.config import register_configs
from neuralgraph.explore.space import parse_space
from neuralgraph.metrics.regression import linear_fit
from tests.conftest import REPO

# Simulated regimes; signal_recording fits a file and is tested in tests/test_recording_fit.py.
SIGNAL_REGIMES = sorted(name for name in resources.regime_names() if "signal" in name and "recording" not in name)


@pytest.mark.parametrize("regime", SIGNAL_REGIMES)
def test_every_signal_regime_composes_and_validates(regime):
    from neuralgraph.family import get_family

    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"+regime={regime}"])
    assert cfg.simulation.family == "signal" and cfg.reward_key == "connectivity_R2"
    family = get_family("signal")
    typed = OmegaConf.to_object(cfg)  # every block's own checks run here
    family.check(typed)
    space = parse_space(OmegaConf.to_container(cfg.search_space))
    for key in space.dims:  # every searchable key exists in the composed config
        assert OmegaConf.select(cfg, key, throw_on_missing=True) is not None, key


def test_tiny_signal_run_directory(cli, tmp_path):
    out = tmp_path / "run"
    proc = cli("+regime=tiny_signal", "progress=false", "num_threads=1", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = rundir.read_metrics(out)
    for key in ("connectivity_R2", "connectivity_slope", "connectivity_R2_raw", "connectivity_slope_raw",
                "effective_rank_90", "effective_rank_99", "spectral_radius", "test_R2", "test_pearson",
                "cluster_accuracy", "n_clusters", "final_loss", "training_time_min", "status"):
        assert key in metrics, key
    assert metrics["connectivity_R2"] > 0.9
    assert metrics["status"] == "converged"
    res = rundir.read_results(out)
    for key in ("W_true", "W_learned", "W_corrected", "W_target", "sender_scale", "sender_level_true", "embeddings", "types", "curve_u", "psi_learned", "psi_true",
                "phi_learned", "phi_true", "x_norm"):
        assert key in res, key
    # The logged metric can be recomputed from results.npz.
    assert linear_fit(res["W_target"], res["W_corrected"]).r2 == pytest.approx(metrics["connectivity_R2"], abs=1e-5)
    # The corrected weights come from the learned functions alone: W*_ij times its sender's level.
    np.testing.assert_allclose(res["W_corrected"], res["W_learned"] * res["sender_scale"][None, :], rtol=1e-5, atol=1e-7)
    assert linear_fit(res["W_true"], res["W_learned"]).r2 == pytest.approx(metrics["connectivity_R2_raw"], abs=1e-5)
    n = res["W_true"].shape[0]
    assert res["psi_learned"].shape == res["psi_true"].shape == (n, len(res["curve_u"]))
    assert res["curve_u"][-1] == pytest.approx(float(res["x_norm"]), rel=1e-6)
    plots = {p.name for p in (out / "plots").iterdir()}
    assert {"loss.png", "connectivity_scatter.png", "connectivity_matrix.png", "functions.png", "embeddings.png",
            "activity.png", "rollout.png"} <= plots
    assert rundir.read_analysis_log(out)["connectivity_R2"] == pytest.approx(metrics["connectivity_R2"], abs=1e-5)


def test_tiny_rnn_recovers_W(cli, tmp_path):
    out = tmp_path / "rnn"
    proc = cli("+regime=tiny_signal_rnn", "progress=false", "plots=false", "num_threads=1", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = rundir.read_metrics(out)
    assert metrics["connectivity_R2"] > 0.98
    assert 0.9 < metrics["connectivity_slope"] < 1.1  # the scale correction gives the right scale


def test_bad_connectivity_file_is_a_clear_error(cli, tmp_path):
    bad = tmp_path / "w.npy"
    np.save(bad, np.zeros((20, 19)))
    proc = cli("+regime=tiny_signal_rnn", "progress=false", "simulation.connectivity_type=file",
               f"simulation.connectivity_file={bad}", f"hydra.run.dir={tmp_path / 'bad'}")
    assert proc.returncode != 0
    assert "square" in proc.stderr + proc.stdout


def test_wrong_key_type_fails_at_composition(cli, tmp_path):
    proc = cli("+regime=tiny_signal_rnn", "simulation.Dale_law=maybe", f"hydra.run.dir={tmp_path / 'x'}")
    assert proc.returncode != 0
    assert "Dale_law" in proc.stderr


def test_plots_import_neither_the_family_nor_the_model():
    """Figures are drawn from arrays: the plots module stands alone (no cycle with family.py)."""
    import subprocess
    import sys

    code = ("import sys, neuralgraph.families.signal.plots; "
            "assert not {'neuralgraph.families.signal.family', 'neuralgraph.families.signal.model', 'torch'} "
            "& set(sys.modules), sorted(m for m in sys.modules if m.startswith('neuralgraph'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
