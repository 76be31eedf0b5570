"""Signal GNN: per-node ψ* equals the per-edge formulation, W structure, groups, regularisers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from neuralgraph.config.base import RunConfig
from neuralgraph.families.signal import simulate as S
from neuralgraph.families.signal.config import (InputMode, SignalEvaluation, SignalModel, SignalSimulation,
                                                SignalTraining)
from neuralgraph.families.signal.model import InputField, SignalGNN, rollout
from neuralgraph.family import TrainClock, get_family
from neuralgraph.trainer import steps_per_epoch

FAM = get_family("signal")
CLOCK = TrainClock(epoch=0, step=0, steps_per_epoch=1)


def typed(schema, **kw):
    """A typed config block (strings become enum members, as in a run)."""
    return OmegaConf.to_object(OmegaConf.structured(schema(**kw)))


def cfg_of(sim=None, model=None, training=None, evaluation=None):
    return RunConfig(regime="test", reward_key="connectivity_R2", simulation=typed(SignalSimulation, **(sim or {})),
                     model=typed(SignalModel, **(model or {})), training=typed(SignalTraining, **(training or {})),
                     evaluation=typed(SignalEvaluation, **(evaluation or {})))


@pytest.fixture(scope="module")
def tiny_arrays():
    return S.simulate(typed(SignalSimulation, n_neurons=12, n_frames=60, start_frame=-20))


@pytest.mark.parametrize("psi_input", ["u_embedding", "u"])
@pytest.mark.parametrize("positive", [False, True])
def test_per_node_equals_per_edge(psi_input, positive):
    torch.manual_seed(0)
    cfg = typed(SignalModel, psi_input=psi_input, psi_positive=positive, embedding_init_noise=0.5, hidden_dim=16)
    model = SignalGNN(cfg, n_neurons=9, x_scale=2.0)
    u = torch.randn(5, 9) * 3
    fast = model.message(u)
    slow = model.message_per_edge(u)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
    # Gradients agree too.
    g_fast = torch.autograd.grad(fast.sum(), model.W)[0]
    g_slow = torch.autograd.grad(model.message_per_edge(u).sum(), model.W)[0]
    torch.testing.assert_close(g_fast, g_slow, rtol=1e-5, atol=1e-5)


def test_message_is_a_plain_sum_over_senders():
    torch.manual_seed(1)
    model = SignalGNN(typed(SignalModel, hidden_dim=8), n_neurons=6, x_scale=1.0)
    u = torch.randn(2, 6)
    psi = model.psi_nodes(u)
    W = model.weight()
    expected = torch.stack([torch.stack([sum(W[i, j] * psi[b, j] for j in range(6)) for i in range(6)])
                            for b in range(2)])
    torch.testing.assert_close(model.message(u), expected, rtol=1e-5, atol=1e-6)
    assert torch.all(torch.diag(W) == 0)


def test_factorised_weight_has_low_rank():
    model = SignalGNN(typed(SignalModel, factorization=True, low_rank=4), n_neurons=30, x_scale=1.0)
    W = model.weight().detach()
    # WL @ WR has rank 4; the masked diagonal perturbs it a little.
    s = torch.linalg.svdvals(model.WL @ model.WR).detach()
    assert s[4] < 1e-4 * s[0]
    assert torch.all(torch.diag(W) == 0)


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_input_modes(mode):
    torch.manual_seed(2)
    model = SignalGNN(typed(SignalModel, hidden_dim=8), n_neurons=5, x_scale=1.0, input_mode=InputMode(mode))
    u, e = torch.randn(3, 5), torch.rand(3, 5) + 0.5
    msg = model.message(u)
    expected = model.phi_nodes(u) + (msg * e if mode == "multiplicative" else msg + e)
    torch.testing.assert_close(model({"x": u, "e": e, "frame": torch.arange(3)}), expected)


def test_generic_update_runs_and_depends_on_message():
    cfg = typed(SignalModel, update_type="generic", hidden_dim=8)
    model = SignalGNN(cfg, n_neurons=5, x_scale=1.0, input_mode=InputMode.additive)
    u, e = torch.randn(3, 5), torch.rand(3, 5)
    out = model({"x": u, "e": e, "frame": torch.arange(3)})
    assert out.shape == (3, 5)
    model.W.data.zero_()
    assert not torch.allclose(out, model({"x": u, "e": e, "frame": torch.arange(3)}))


@pytest.mark.parametrize("kind", ["siren", "low_rank"])
@pytest.mark.parametrize("neutral", [0.0, 1.0])
def test_field_models_start_near_neutral(kind, neutral):
    torch.manual_seed(0)
    cfg = typed(SignalModel, field_type=kind, hidden_dim_nnr_f=16, rank_nnr_f=3)
    field = InputField(cfg, n_neurons=10, n_input=6, n_frames=50, neutral=neutral)
    e = field(torch.tensor([0, 10, 49]))
    assert e.shape == (3, 10)
    torch.testing.assert_close(e[:, 6:], torch.full((3, 4), neutral))
    assert torch.all((e[:, :6] - neutral).abs() < 0.05)


def test_param_groups_and_learning_rates(tiny_arrays):
    cfg = cfg_of(training={"lr_W": 0.1, "lr": 0.01, "lr_update": 0.0, "lr_embedding": 0.002})
    model, _ = FAM.build(tiny_arrays, cfg, torch.device("cpu"))
    groups = {g["name"]: g for g in FAM.param_groups(model, cfg.training)}
    assert groups["W"]["lr"] == 0.1 and groups["psi"]["lr"] == 0.01
    assert groups["phi"]["lr"] == 0.01  # 0 falls back to lr
    assert groups["embedding"]["lr"] == 0.002
    n_params = sum(p.numel() for g in groups.values() for p in g["params"])
    assert n_params == sum(p.numel() for p in model.parameters())


def test_every_regulariser_is_finite_and_differentiable(tiny_arrays):
    coeffs = dict(coeff_W_L1=1e-3, coeff_W_L2=1e-3, coeff_edge_diff=1.0, coeff_edge_norm=1.0, coeff_phi_zero=1.0,
                  coeff_update_diff=1.0, coeff_edge_weight_L1=1e-3, coeff_edge_weight_L2=1e-3,
                  coeff_phi_weight_L1=1e-3, coeff_phi_weight_L2=1e-3, coeff_W_sign=1.0,
                  W_sign_start_epoch=0.0)
    cfg = cfg_of(model={"update_type": "generic"}, training=coeffs)
    model, data = FAM.build(tiny_arrays, cfg, torch.device("cpu"))
    batch = data.batch(torch.arange(8))
    terms = FAM.regularizers(model, batch, model(batch), cfg.training, CLOCK)
    assert set(terms) == {"W_L1", "W_L2", "edge_diff", "edge_norm", "phi_zero", "update_diff", "edge_weight_L1",
                          "edge_weight_L2", "phi_weight_L1", "phi_weight_L2", "W_sign"}
    for name, value in terms.items():
        assert torch.isfinite(value), name
    sum(terms.values()).backward()
    assert model.W.grad is not None and torch.isfinite(model.W.grad).all()


def test_two_phase_L1(tiny_arrays):
    cfg = cfg_of(training={"coeff_W_L1": 1e-2, "first_coeff_L1": 0.0, "n_epochs_init": 2})
    model, data = FAM.build(tiny_arrays, cfg, torch.device("cpu"))
    batch = data.batch(torch.arange(4))
    assert "W_L1" not in FAM.regularizers(model, batch, None, cfg.training, TrainClock(1, 0, 1))
    assert "W_L1" in FAM.regularizers(model, batch, None, cfg.training, TrainClock(2, 0, 1))


def test_dale_sign_term_penalises_only_minority_entries():
    model = SignalGNN(SignalModel(), n_neurons=3, x_scale=1.0)
    with torch.no_grad():
        model.W.copy_(torch.tensor([[0.0, -1.0, 2.0], [1.0, 0.0, -0.5], [3.0, -2.0, 0.0]]))
    t = SignalTraining(coeff_W_L1=0.0, coeff_W_sign=1.0, W_sign_start_epoch=0.0)
    terms = FAM.regularizers(model, {"x": torch.zeros(1, 3)}, None, t, CLOCK)
    # Column sums: +4, -3, +1.5 → minority entries: none in col 0, none in col 1, -0.5 in col 2.
    assert terms["W_sign"].item() == pytest.approx(0.5 / 9)


def test_dale_sign_term_starts_part_way(tiny_arrays):
    cfg = cfg_of(training={"coeff_W_sign": 1.0, "W_sign_start_epoch": 0.5, "batch_size": 4,
                           "data_augmentation_loop": 10})
    model, data = FAM.build(tiny_arrays, cfg, torch.device("cpu"))
    n_iter = steps_per_epoch(data.n_frames, 10, 4)  # 61 frames * 10 // 4 * 0.2 = 30
    assert n_iter == 30
    batch = data.batch(torch.arange(4))
    seen = [("W_sign" in FAM.regularizers(model, batch, None, cfg.training, TrainClock(step // n_iter, step, n_iter)))
            for step in range(2 * n_iter)]
    # Progress is (step + 1) mod n / n within an epoch (it has always been read so): the term is on
    # from the 15th step of epoch 0, off again on the epoch's last step, and on through epoch 1.
    assert not any(seen[:14]) and all(seen[14:29]) and not seen[29] and all(seen[30:])


def test_after_step_keeps_the_diagonal_zero(tiny_arrays):
    cfg = cfg_of()
    model, _ = FAM.build(tiny_arrays, cfg, torch.device("cpu"))
    with torch.no_grad():
        model.W.add_(1.0)
    FAM.after_step(model, cfg.training)
    assert torch.all(torch.diag(model.W) == 0)


def test_build_passes_the_input_and_scales_targets():
    arrays = S.simulate(typed(SignalSimulation, n_neurons=8, n_frames=30, external_input_type="oscillatory"))
    cfg = cfg_of(sim={"n_neurons": 8, "external_input_type": "oscillatory"})
    model, data = FAM.build(arrays, cfg, torch.device("cpu"))
    assert "e" in data.extras and data.extras["e"].shape == (31, 8)
    assert model.input_mode == InputMode.additive
    assert data.target_scale.shape == (8,)
    assert data.target_scale[0].item() == pytest.approx(float(arrays["du"].std(ddof=1)), rel=1e-5)


@pytest.mark.parametrize("field_type", ["low_rank", "siren"])
def test_learned_field_is_trained_and_scored(field_type):
    from neuralgraph.trainer import train

    sim = {"n_neurons": 10, "n_frames": 100, "external_input_type": "visual", "external_input_mode": "multiplicative",
           "image_width": 2, "n_images": 4}
    arrays = S.simulate(typed(SignalSimulation, **sim))
    cfg = cfg_of(sim=sim, model={"field_type": field_type, "hidden_dim": 8, "hidden_dim_update": 8,
                                 "hidden_dim_nnr_f": 16, "rank_nnr_f": 2},
                 training={"data_augmentation_loop": 20, "lr_field": 1e-2}, evaluation={"n_rollout_frames": 20})
    torch.manual_seed(0)
    model, data = FAM.build(arrays, cfg, torch.device("cpu"))
    assert "e" not in data.extras  # the model must infer the input
    assert model.field.n_input == 4
    before = model.field(torch.arange(100)).detach().clone()
    result = train(FAM, model, data, None, cfg, torch.device("cpu"), progress=False)
    assert result.status == "ok"
    assert not torch.allclose(before, model.field(torch.arange(100)).detach())
    metrics, results = FAM.evaluate(model, arrays, cfg, torch.device("cpu"))
    assert np.isfinite(metrics["field_R2"]) and 0 <= metrics["field_R2"] <= 1
    assert results["e_learned"].shape == arrays["e"].shape


def test_evaluate_with_true_input_and_types():
    from neuralgraph.trainer import train

    sim = {"signal_model_name": "PDE_N4", "n_neurons": 12, "n_neuron_types": 2, "n_frames": 100, "delta_t": 0.05,
           "params": [[1.0, 0.0, 4.0, 1.0, 1.0, 0.0], [2.0, 0.0, 4.0, 2.0, 2.0, 0.0]],
           "external_input_type": "oscillatory"}
    arrays = S.simulate(typed(SignalSimulation, **sim))
    cfg = cfg_of(sim=sim, model={"hidden_dim": 8, "hidden_dim_update": 8},
                 training={"data_augmentation_loop": 10}, evaluation={"n_rollout_frames": 30})
    model, data = FAM.build(arrays, cfg, torch.device("cpu"))
    train(FAM, model, data, None, cfg, torch.device("cpu"), progress=False)
    metrics, results = FAM.evaluate(model, arrays, cfg, torch.device("cpu"))
    assert {"cluster_accuracy", "n_clusters", "test_R2", "test_pearson"} <= set(metrics)
    assert results["rollout_true"].shape == (31, 12)
    # The noise-free re-simulation from frame 0 reproduces the (noise-free) data.
    np.testing.assert_allclose(results["rollout_true"], arrays["u"][:31], rtol=1e-3, atol=1e-3)


def test_dale_sign_term_improves_sign_consistency():
    from neuralgraph.trainer import train

    sim = {"n_neurons": 20, "start_frame": -100, "n_frames": 500, "noise_model_level": 0.5, "Dale_law": True}
    arrays = S.simulate(typed(SignalSimulation, **sim))
    accuracy = {}
    for coeff in (0.0, 0.1):
        cfg = cfg_of(sim=sim, model={"hidden_dim": 16, "hidden_dim_update": 16},
                     training={"data_augmentation_loop": 100, "lr_W": 5e-2, "coeff_W_sign": coeff},
                     evaluation={"n_rollout_frames": 20})
        torch.manual_seed(0)
        model, data = FAM.build(arrays, cfg, torch.device("cpu"))
        train(FAM, model, data, None, cfg, torch.device("cpu"), progress=False)
        accuracy[coeff] = FAM.evaluate(model, arrays, cfg, torch.device("cpu"))[0]["W_sign_accuracy"]
    assert accuracy[0.1] > accuracy[0.0] + 0.03


@pytest.mark.parametrize("model_kw, sim_kw", [
    ({}, {}),
    ({"factorization": True, "low_rank": 3, "update_type": "generic", "psi_input": "u"}, {}),
    ({"field_type": "siren", "hidden_dim_nnr_f": 8}, {"external_input_type": "visual", "image_width": 2,
                                                       "external_input_mode": "multiplicative"}),
    ({"field_type": "low_rank", "rank_nnr_f": 2}, {"external_input_type": "oscillatory"}),
])
def test_model_rebuilt_from_config_and_data_loads_its_state_dict(model_kw, sim_kw):
    """What model.pt holds is all a model needs: rebuilt from config + dataset, it computes the same."""
    sim = {"n_neurons": 10, "n_frames": 40, "start_frame": -20, **sim_kw}
    arrays = S.simulate(typed(SignalSimulation, **sim))
    cfg = cfg_of(sim=sim, model={"hidden_dim": 8, "hidden_dim_update": 8, "embedding_init_noise": 0.3, **model_kw})
    torch.manual_seed(0)
    trained, data = FAM.build(arrays, cfg, torch.device("cpu"))
    with torch.no_grad():  # move every parameter off its initial value
        for p in trained.parameters():
            p.add_(0.1 * torch.randn_like(p))
    state = trained.state_dict()
    torch.manual_seed(1)
    rebuilt, _ = FAM.build(arrays, cfg, torch.device("cpu"))
    rebuilt.load_state_dict(state)
    batch = data.batch(torch.arange(data.n_frames))
    assert torch.equal(trained(batch), rebuilt(batch))
    e = arrays.get("e")
    u0 = arrays["u"][0]
    np.testing.assert_array_equal(rollout(trained, u0, 20, 0.1, e), rollout(rebuilt, u0, 20, 0.1, e))


def test_model_rollout_is_nan_after_the_first_non_finite_state():
    torch.manual_seed(0)
    model = SignalGNN(typed(SignalModel, hidden_dim=8), n_neurons=6, x_scale=1.0)
    u0 = np.random.default_rng(0).standard_normal(6)
    out = rollout(model, u0, 30, 0.1)
    assert out.shape == (31, 6) and np.array_equal(out[0], u0) and np.isfinite(out).all()
    with torch.no_grad():
        model.W.fill_(1e30)  # the state overflows float32 within a few steps
    out = rollout(model, u0, 30, 0.1)
    finite = np.isfinite(out).all(axis=1)
    first_bad = int(np.argmin(finite))
    assert 0 < first_bad < 31 and finite[:first_bad].all() and np.isnan(out[first_bad:]).all()


@pytest.mark.parametrize("schema, kw, key", [
    (SignalModel, {"hidden_dim": 0}, "model.hidden_dim"),
    (SignalModel, {"low_rank": 0}, "model.low_rank"),
    (SignalModel, {"W_init_std": -1.0}, "model.W_init_std"),
    (SignalTraining, {"lr_W": -1.0}, "training.lr_W"),
    (SignalTraining, {"coeff_edge_diff": -1.0}, "training.coeff_edge_diff"),
    (SignalTraining, {"batch_size": 0}, "training.batch_size"),
    (SignalEvaluation, {"psi_norm_window": [1.0, 0.8]}, "evaluation.psi_norm_window"),
    (SignalEvaluation, {"rollout_every": 0}, "evaluation.rollout_every"),
])
def test_model_and_training_checks_name_the_key(schema, kw, key):
    from neuralgraph.errors import ConfigError

    with pytest.raises(ConfigError, match=key):
        typed(schema, **kw)


def test_check_spans_blocks():
    from neuralgraph.errors import ConfigError
    from neuralgraph.families.signal.family import build_model

    # The rank is checked against the data's neurons, simulated or recorded.
    activity = {"u": np.random.default_rng(0).normal(size=(50, 10)).astype(np.float32)}
    with pytest.raises(ConfigError, match="model.low_rank=20 must be in \\[1, N=10\\]"):
        build_model(activity, cfg_of(model={"factorization": True, "low_rank": 20}))
    assert build_model(activity, cfg_of(model={"factorization": False, "low_rank": 20})).n == 10
    with pytest.raises(ConfigError, match="field_type"):
        FAM.check(cfg_of(model={"field_type": "siren"}))
