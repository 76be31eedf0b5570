"""Fly visual system model and family: message passing against a per-edge loop, the config's own
checks, a model rebuilt from its state dict, the stateless live metric, a tiny end-to-end run."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from neuralgraph.errors import ConfigError
from neuralgraph.families.flyvis import simulate as fs
from neuralgraph.families.flyvis.config import EmbeddingInit, FieldType, FlyVisEvaluation, FlyVisModel
from neuralgraph.families.flyvis.family import FAMILY
from neuralgraph.families.flyvis.model import FlyVisGNN
from neuralgraph.families.flyvis.readout import identifiable_edges, range_frames
from neuralgraph.family import TrainClock
from neuralgraph.launch import compose_regime
from neuralgraph.metrics import pearson
from neuralgraph.rundir import read_analysis_log, read_metrics, read_results
from neuralgraph.train import run, typed

needs_connectome = pytest.mark.skipif(
    not fs.connectome_available(), reason=f"flyvis connectome JSON not installed; run `{fs.INSTALL_HINT}`"
)


def small_model(learn_field=False, seed=0):
    torch.manual_seed(seed)
    n = 12
    src = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 3])
    tgt = torch.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 5, 5])
    xy = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, 0.8]])
    cfg = FlyVisModel(hidden_dim=8, hidden_dim_update=8, embedding_init=EmbeddingInit.ones, hidden_dim_nnr_f=16,
                      field_type=FieldType.visual if learn_field else FieldType.given)
    return FlyVisGNN(cfg, n, src, tgt, torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 2, 0]), xy,
                     v_lo=-1.0, v_hi=1.0, v_norm=1.0)


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


@pytest.mark.parametrize("regime", ["tiny_flyvis", "flyvis_small", "flyvis", "flyvis_known_input", "flyvis_reference"])
def test_regimes_compose(regime):
    cfg = typed(compose_regime(regime))
    assert cfg.simulation.family == "flyvis"
    assert cfg.reward_key == "connectivity_R2"
    FAMILY.check(cfg)
    assert cfg.training.batch_size >= 1
    assert isinstance(cfg.model.field_type, FieldType)


@pytest.mark.parametrize("override, key", [
    ("model.hidden_dim=0", "model.hidden_dim"),
    ("model.n_extra_null_edges=-1", "model.n_extra_null_edges"),
    ("model.n_layers_nnr_f=1", "model.n_layers_nnr_f"),
    ("evaluation.n_clusters=-1", "evaluation.n_clusters"),  # 0 chooses k from the data
    ("training.lr_W=-1", "training.lr_W"),
    ("simulation.tau_min=0.01", "simulation.tau_min"),
    ("simulation.extent=-1", "simulation.extent"),
    ("simulation.stimuli=[movie]", "simulation.stimuli"),
])
def test_out_of_range_keys_are_refused_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        typed(compose_regime("flyvis_small", override))


def test_n_layers_nnr_f_matters_only_with_a_learned_field():
    assert FlyVisModel(field_type=FieldType.given, n_layers_nnr_f=1).n_layers_nnr_f == 1
    with pytest.raises(ConfigError, match="n_layers_nnr_f"):
        FlyVisModel(field_type=FieldType.visual, n_layers_nnr_f=1)
    assert FlyVisEvaluation(n_clusters=0).n_clusters == 0  # 0: the number of types chosen from the data
    with pytest.raises(ConfigError, match="n_clusters"):
        FlyVisEvaluation(n_clusters=-1)


def tiny_cfg(*overrides: str):
    return typed(compose_regime("tiny_flyvis", "simulation.n_frames=120", "simulation.n_test_frames=20",
                                "simulation.n_burn_in=10", "model.field_type=visual", "model.n_extra_null_edges=20",
                                *overrides))


@pytest.fixture(scope="module")
def tiny_arrays():
    if not fs.connectome_available():
        pytest.skip(f"flyvis connectome JSON not installed; run `{fs.INSTALL_HINT}`")
    return FAMILY.simulate(tiny_cfg().simulation)


def _outputs(model, data, seed=3):
    """Forward pass on a few frames, and every regulariser with the random neurons fixed."""
    torch.manual_seed(seed)
    batch = data.batch(torch.arange(4))
    cfg = tiny_cfg("training.coeff_W_L1=1e-4", "training.coeff_edge_weight_L2=1e-3", "training.coeff_edge_diff=100",
                   "training.coeff_edge_norm=1")
    with torch.no_grad():
        pred = model(batch)
        reg = FAMILY.regularizers(model, batch, pred, cfg.training, TrainClock(epoch=1, step=7, steps_per_epoch=5))
    return pred, reg


def test_model_rebuilt_from_config_and_dataset_reloads_its_state(tiny_arrays):
    """A state dict reloaded into a model built afresh (other init, other data ranges) gives the same
    outputs: the voltage ranges of the g_φ regularisers travel in the state dict."""
    cfg = tiny_cfg()
    torch.manual_seed(0)
    model, data = FAMILY.build(tiny_arrays, cfg, torch.device("cpu"))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))  # a state the constructor cannot reproduce
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)

    shifted = dict(tiny_arrays, x=tiny_arrays["x"] + 0.5)  # other voltage ranges in the constructor
    torch.manual_seed(1)
    rebuilt, _ = FAMILY.build(shifted, cfg, torch.device("cpu"))
    assert rebuilt.voltage_range() != model.voltage_range()
    rebuilt.load_state_dict(torch.load(buffer))
    assert rebuilt.voltage_range() == model.voltage_range()
    for name in ("v_lo", "v_hi", "v_norm"):
        assert torch.equal(getattr(rebuilt, name), getattr(model, name))
    (pred, reg), (pred2, reg2) = _outputs(model, data), _outputs(rebuilt, data)
    assert torch.equal(pred, pred2)
    assert reg.keys() == reg2.keys() >= {"W_L1", "edge_diff", "edge_norm", "edge_weight_L2"}
    for key in reg:
        assert torch.equal(reg[key], reg2[key]), key


def test_live_metric_is_stateless(tiny_arrays):
    """Each model carries the edge mask of its own dataset; no cache in the family mixes them up."""
    cfg = tiny_cfg()
    other = dict(tiny_arrays, x=np.ascontiguousarray(tiny_arrays["x"][::-1]) - 0.3)
    models = [FAMILY.build(arrays, cfg, torch.device("cpu"))[0] for arrays in (tiny_arrays, other)]
    for arrays, model in zip((tiny_arrays, other, tiny_arrays), models + models[:1]):
        n_true = len(arrays["W"])
        x = arrays["x"]
        mask = identifiable_edges(x[range_frames(x.shape[0])], arrays["edge_src"], arrays["edge_tgt"])
        r = pearson(arrays["W"][mask], model.W.detach().numpy()[:n_true][mask])
        assert FAMILY.live_metric(model, arrays) == r * r
    assert not np.array_equal(*(m.live_edges.numpy() for m in models))


@needs_connectome
def test_tiny_run_writes_the_run_directory(cache_dir, tmp_path):
    out = tmp_path / "run"
    run(compose_regime("tiny_flyvis", "num_threads=1", "progress=false", "model.field_type=visual",
                       "model.n_extra_null_edges=50"), out)
    metrics = read_metrics(out)
    for key in ("connectivity_R2", "tau_R2", "V_rest_R2", "field_R2", "cluster_accuracy", "test_R2",
                "test_pearson", "status"):
        assert key in metrics, key
    log = read_analysis_log(out)
    assert "connectivity_R2" in log
    results = read_results(out)
    for key in ("W_true", "W_learned", "W_corrected", "tau_true", "tau_learned", "V_rest_true", "V_rest_learned",
                "embeddings", "types", "curve_f", "rollout_pred", "field_learned"):
        assert key in results, key
    assert results["W_true"].shape == results["W_learned"].shape == results["W_corrected"].shape
    assert (results["W_true"][-50:] == 0).all()  # the null edges
    assert len(results["types"]) == 443
    for png in ("loss", "recovery", "embeddings", "functions", "rollout", "field"):
        assert (out / "plots" / f"{png}.png").exists(), png
    # metrics recomputed independently from results.npz
    # (W_learned is the raw weight, as in every family; W_corrected the scale-corrected one)
    wt = results["W_true"].astype(float)
    x = np.load(_dataset(out))["x"]
    keep = identifiable_edges(x, results["edge_src"], results["edge_tgt"])
    for key, metric in (("W_corrected", "connectivity_R2"), ("W_learned", "connectivity_R2_raw")):
        r = np.corrcoef(wt[keep], results[key].astype(float)[keep])[0, 1]
        assert metrics[metric] == pytest.approx(r * r, rel=1e-4, abs=1e-6), key
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


@pytest.mark.slow
def test_flyvis_regime_recovers_everything_at_extent_2(cli, tmp_path):
    """The `flyvis` regime's recipe (projected input field, W solve, cell types from the learned
    dynamics with k chosen from the data) with its 4,000 steps, on extent 2 (1,203 neurons) and
    4,000 frames: about 1-2 min. Measured on seed 42: connectivity 0.963 (oracle 0.999), τ 0.989,
    V_rest 0.951, field 0.996 (and clusters 0.971 with the earlier two-stage read-out told k = 65)."""
    from neuralgraph import rundir

    out = tmp_path / "flyvis_e2"
    proc = cli("+regime=flyvis", "simulation.extent=2", "simulation.n_frames=4000", "simulation.n_test_frames=100",
               "evaluation.n_rollout_frames=100", "training.data_augmentation_loop=80", "progress=false",
               "plots=false", "num_threads=1", f"hydra.run.dir={out}", timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = rundir.read_metrics(out)
    assert metrics["n_steps"] == 4000 and metrics["n_neurons"] == 1203
    assert metrics["connectivity_R2"] >= 0.93, metrics
    assert metrics["tau_R2"] >= 0.95 and metrics["V_rest_R2"] >= 0.9, metrics
    assert metrics["field_R2"] >= 0.95, metrics
    # Cell types: the headline reads the learned τ and V_rest only, with k chosen from the data, and
    # counts only above the graph-only baseline (unit weights, same k). On `flyvis_small` (extent 2,
    # a weaker learner than this recipe: connectivity 0.59-0.86) simulation seeds 1-3 it measured
    # 0.733 / 0.837 / 0.758 against baselines 0.717 / 0.663 / 0.580, beating the graph on all three
    # (benchmarks/results/flyvis_cell_types/results.md); this run itself has not been re-scored.
    # Hence a floor of 0.7, not the former 0.9 of the two-stage read-out, whose lift came from the
    # given connectome.
    assert metrics["cluster_beats_graph"] is True, metrics
    assert metrics["cluster_accuracy"] >= 0.7, metrics


@pytest.mark.slow
def test_flyvis_reference_regime_path_at_extent_1(cli, tmp_path):
    """The users' `flyvis_reference` recipe's path (reference model, learned SIREN visual field, W
    L1/L2, g_phi shape terms, every score) end to end at extent 1 and 2,000 frames. A guard of the
    path, not of its science (that recipe needs a GPU at extent 8): the run must finish un-diverged
    with every score finite, the field among them."""
    from neuralgraph import rundir

    out = tmp_path / "flyvis_e1"
    proc = cli("+regime=flyvis_reference", "simulation.extent=1", "simulation.n_frames=2000", "simulation.n_test_frames=100",
               "model.nnr_f_T_period=2000", "model.hidden_dim_nnr_f=128", "training.data_augmentation_loop=2",
               "evaluation.n_rollout_frames=100", "progress=false", "plots=false", "num_threads=1",
               f"hydra.run.dir={out}", timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = rundir.read_metrics(out)
    assert metrics["status"] != "diverged", metrics
    for key in ("connectivity_R2", "tau_R2", "V_rest_R2", "field_R2", "cluster_accuracy", "test_R2"):
        assert np.isfinite(metrics[key]), (key, metrics)
    assert metrics["n_neurons"] == 443
