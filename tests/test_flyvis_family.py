"""Fly visual system model and family: message passing against a per-edge loop, a tiny end-to-end run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from neuralgraph.config.store import register_configs
from neuralgraph.families.flyvis.family import identifiable_edges
from neuralgraph.families.flyvis.model import FlyVisGNN
from neuralgraph.rundir import read_analysis_log, read_metrics, read_results
from neuralgraph.families.flyvis.family import simulate as fs

from tests.conftest import REPO

needs_connectome = pytest.mark.skipif(
    not fs.connectome_available(), reason=f"flyvis connectome JSON not installed; run `{fs.INSTALL_HINT}`"
)


def small_model(learn_field=False, seed=0):
    torch.manual_seed(seed)
    n = 12
    src = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 3])
    tgt = torch.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 5, 5])
    xy = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, 0.8]])
    return FlyVisGNN(n, src, tgt, torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 2, 0]), xy,
                     hidden_dim=8, hidden_dim_update=8, learn_field=learn_field, hidden_dim_nnr_f=16)


def test_messages_equal_a_per_edge_loop():
    model = small_model()
    v = torch.randn(3, 12)
    msg = model.messages(v)
    ref = torch.zeros(3, 12)
    with torch.no_grad():
        for b in range(3):
            for k in range(len(model.W)):
                j, i = int(model.edge_src[k]), int(model.edge_tgt[k])
                gj = model.lin_edge(torch.cat([v[b, j : j + 1], model.a[j]]))[0] ** 2
                ref[b, i] += model.W[k] * gj
    torch.testing.assert_close(msg.detach(), ref, rtol=1e-5, atol=1e-6)


def test_forward_shapes_and_inputs():
    model = small_model()
    v = torch.randn(5, 12)
    lum = torch.rand(5, 3)
    out = model({"x": v, "stimulus": lum, "frame": torch.arange(5)})
    assert out.shape == (5, 12)
    e = model.external_input(lum, v)
    torch.testing.assert_close(e[:, :4], lum[:, [0, 1, 2, 0]])
    assert (e[:, 4:] == 0).all()
    field_model = small_model(learn_field=True)
    vals = field_model.field_values(torch.arange(5))
    assert vals.shape == (5, 3) and (vals >= 0).all()
    assert field_model({"x": v, "frame": torch.arange(5)}).shape == (5, 12)


def compose_regime(name: str, *overrides: str):
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=[f"+regime={name}", *overrides])


@pytest.mark.parametrize("regime", ["tiny_flyvis", "flyvis_small", "flyvis"])
def test_regimes_compose(regime):
    cfg = compose_regime(regime)
    assert cfg.simulation.family == "flyvis"
    assert cfg.reward_key == "connectivity_R2"
    assert cfg.training.batch_size >= 1


@needs_connectome
def test_tiny_run_writes_the_run_directory(cli, tmp_path):
    out = tmp_path / "run"
    res = cli("+regime=tiny_flyvis", "num_threads=1", "progress=false", "model.field_type=visual",
              "model.n_extra_null_edges=50", f"hydra.run.dir={out}")
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = read_metrics(out)
    for key in ("connectivity_R2", "tau_R2", "V_rest_R2", "field_R2", "cluster_accuracy", "test_R2",
                "test_pearson", "status"):
        assert key in metrics, key
    log = read_analysis_log(out)
    assert "connectivity_R2" in log
    results = read_results(out)
    for key in ("W_true", "W_learned", "tau_true", "tau_learned", "V_rest_true", "V_rest_learned",
                "embeddings", "types"):
        assert key in results, key
    assert results["W_true"].shape == results["W_learned"].shape
    assert (results["W_true"][-50:] == 0).all()  # the null edges
    assert len(results["types"]) == 443
    for png in ("loss", "recovery", "embeddings", "functions", "rollout", "field"):
        assert (out / "plots" / f"{png}.png").exists(), png
    # metrics recomputed independently from results.npz
    wt, wl = results["W_true"].astype(float), results["W_learned"].astype(float)
    x = np.load(_dataset(out))["x"]
    keep = identifiable_edges(x, results["edge_src"], results["edge_tgt"])
    r = np.corrcoef(wt[keep], wl[keep])[0, 1]
    assert metrics["connectivity_R2"] == pytest.approx(r * r, rel=1e-4, abs=1e-6)
    tl = results["tau_learned"]
    if np.ptp(tl) > 0:
        r = np.corrcoef(results["tau_true"], tl)[0, 1]
        assert metrics["tau_R2"] == pytest.approx(r * r, rel=1e-4, abs=1e-6)
    else:  # every τ clipped alike: the line fit is undefined
        assert metrics["tau_R2"] is None


def _dataset(run_dir):
    """The cached dataset a run used (its folder name is in metrics.json)."""
    import os
    from pathlib import Path

    name = read_metrics(run_dir)["dataset"]
    return Path(os.environ["NEURALGRAPH_CACHE"]) / "datasets" / name / "data.npz"


@needs_connectome
@pytest.mark.slow
def test_flyvis_small_recovers_W_and_tau(cli, tmp_path):
    """The issue's bar for the CPU regime: connectivity and τ recovered with R² ≥ 0.9 (minutes), with
    the visual input learned by the field (measured: conn 0.927, τ 0.976, field 0.962)."""
    out = tmp_path / "small"
    res = cli("+regime=flyvis_small", "num_threads=1", "progress=false", "plots=false", f"hydra.run.dir={out}",
              timeout=3600)
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = read_metrics(out)
    assert metrics["connectivity_R2"] >= 0.9
    assert metrics["tau_R2"] >= 0.9
    assert metrics["field_R2"] >= 0.8
