"""The metabolism GNN: shapes, frozen S, normalisation, per-node = per-edge, exact physics, and a
model rebuilt from its config and dataset that a saved state dict turns back into the trained one."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from neuralgraph.families.metabolism import simulate as sim
from neuralgraph.families.metabolism.config import MetabolismModel, MetabolismSimulation, MetabolismTraining
from neuralgraph.families.metabolism.family import FAMILY
from neuralgraph.families.metabolism.model import LOG_WIDTH, Graph, MetabolismGNN
from neuralgraph.family import TrainClock
from neuralgraph.launch import compose_regime
from neuralgraph.train import typed


@pytest.fixture(scope="module")
def data():
    return sim.simulate(MetabolismSimulation(n_metabolites=12, n_reactions=12, n_frames=100, substeps=2))


def make_model(data, **kw):
    torch.manual_seed(0)
    cfg = MetabolismModel(hidden_dim_sub=8, hidden_dim_node=8, **kw)
    return MetabolismGNN(cfg, Graph.from_arrays(data), c_scale=5.0)


def test_shapes_and_frozen_stoichiometry(data):
    model = make_model(data)
    x = torch.as_tensor(data["x"][0][:7])
    assert model({"x": x}).shape == (7, 12)
    names = {name for name, _ in model.named_parameters()}
    assert "S" not in names and not model.S.requires_grad
    assert torch.equal(model.S, torch.as_tensor(data["S"]))
    model({"x": x}).sum().backward()
    assert model.S.grad is None


def test_homeostasis_starts_at_zero(data):
    model = make_model(data)
    assert torch.all(model.homeostasis(torch.rand(3, 12)) == 0)


@pytest.mark.parametrize("form", ["softplus", "log"])
def test_normalised_substrate_is_one_at_c_equal_one(data, form):
    model = make_model(data, sub_normalized=True, substrate_form=form)
    s = torch.tensor([1.0, 2.0])
    assert torch.allclose(model.substrate(torch.ones(2), s), torch.ones(2))


def test_per_node_evaluation_equals_per_edge(data):
    model = make_model(data)
    c = torch.as_tensor(data["x"][0][:5])
    fast = model.log_rates(c)
    # Reference: evaluate f on every substrate edge and sum the logs per reaction by hand.
    per_edge = torch.log(model.substrate(c[:, model.sub_met], model.sub_s))
    slow = torch.full((5, 12), 0.0)
    for e in range(len(model.sub_met)):
        slow[:, model.sub_rxn[e]] += per_edge[:, e]
    slow = slow + np.log(10.0) * model.log_k
    assert torch.allclose(fast, slow, atol=1e-5)


def test_true_functions_reproduce_the_simulator(data, monkeypatch):
    model = make_model(data)
    with torch.no_grad():
        model.log_k.copy_(torch.as_tensor(data["log_k"]))
    lam = torch.as_tensor(data["homeostatic_lambda"][data["types"]]).float()
    base = torch.as_tensor(data["homeostatic_baseline"][data["types"]]).float()
    monkeypatch.setattr(model, "log_substrate", lambda c, s: s * torch.log(torch.clamp(c, min=1e-30)))
    monkeypatch.setattr(model, "homeostasis", lambda c: -lam * (c - base))
    x = torch.as_tensor(data["x"][0][:20])
    assert torch.allclose(model({"x": x}), torch.as_tensor(data["y"][0][:20]), rtol=1e-4, atol=1e-4)


def trained(cfg, arrays, steps=5):
    """The family's model after a few Adam steps (its parameters moved off their initial values)."""
    torch.manual_seed(0)
    model, train_data = FAMILY.build(arrays, cfg, torch.device("cpu"))
    opt = torch.optim.Adam(FAMILY.param_groups(model, cfg.training))
    for step in range(steps):
        batch = train_data.batch(torch.arange(step, step + 8))
        loss = ((model(batch) - batch["y"]) / train_data.target_scale).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        FAMILY.after_step(model, cfg.training)
    return model


@pytest.mark.parametrize("regime, overrides", [
    ("tiny_metabolism", ("training.coeff_k_floor=1",)),
    ("tiny_metabolism_S_learning", ("model.substrate_orders=free", "model.extra_edge_fraction=0.5")),
])
def test_a_model_rebuilt_from_config_and_data_reloads_from_its_state_dict(regime, overrides):
    cfg = typed(compose_regime(regime, "simulation.n_frames=40", *overrides))
    arrays = sim.simulate(cfg.simulation)
    model = trained(cfg, arrays)
    saved = io.BytesIO()
    torch.save(model.state_dict(), saved)
    saved.seek(0)
    # Rebuilt from the config and a dataset whose concentrations are scaled: the scales computed
    # from the data (c_scale, the regulariser's grid) must come from the state dict, not the data.
    torch.manual_seed(123)
    other = {**arrays, "x": 2 * arrays["x"]}
    rebuilt, _ = FAMILY.build(other, cfg, torch.device("cpu"))
    assert rebuilt.c_scale != model.c_scale
    rebuilt.load_state_dict(torch.load(saved, weights_only=True))
    for name, value in model.state_dict().items():
        assert torch.equal(value, rebuilt.state_dict()[name]), name
    x = torch.as_tensor(arrays["x"][1][:16])
    with torch.no_grad():
        assert torch.equal(rebuilt({"x": x}), model({"x": x}))
    clock = TrainClock(epoch=0, step=0, steps_per_epoch=1)
    reg, reg_rebuilt = (FAMILY.regularizers(m, {"x": x}, None, cfg.training, clock) for m in (model, rebuilt))
    assert reg and reg.keys() == reg_rebuilt.keys()
    assert all(torch.equal(reg[k], reg_rebuilt[k]) for k in reg)
    metrics, _ = FAMILY.evaluate(model, arrays, cfg, torch.device("cpu"))
    metrics_rebuilt, _ = FAMILY.evaluate(rebuilt, arrays, cfg, torch.device("cpu"))
    assert metrics_rebuilt.keys() == metrics.keys()
    assert all(np.array_equal(metrics[k], metrics_rebuilt[k], equal_nan=True) for k in metrics)



def test_log_form_is_one_at_c_equal_one_and_reaches_mass_action_near_zero(data):
    model = make_model(data, substrate_form="log")
    s = torch.tensor([1.0, 2.0])
    assert torch.allclose(model.substrate(torch.ones(2), s), torch.ones(2))
    # One linear layer g = LOG_WIDTH · s · u on the input u = ln(c / c_scale + ε) / LOG_WIDTH:
    # f(c, s) = ((c / c_scale + ε) / (1 / c_scale + ε))^s, i.e. c^s up to ε, down to c → 0.
    line = make_model(data, substrate_form="log", n_layers_sub=1)
    with torch.no_grad():
        line.mlp_sub.net[0].weight.copy_(torch.tensor([[LOG_WIDTH, 0.0]]))
        line.mlp_sub.net[0].bias.zero_()
    line._g = lambda c, s, g=line._g: s * g(c, s)  # the order multiplies the line (c^s)
    c = torch.tensor([0.0, 0.008, 0.5, 3.0])
    for order in (1.0, 2.0):
        f = line.substrate(c, torch.full_like(c, order))
        assert torch.allclose(f, c**order, rtol=1e-3, atol=1e-5)


def test_node_line_is_a_per_metabolite_line_in_units_of_the_loss_scale(data):
    torch.manual_seed(0)
    scale = torch.linspace(0.5, 2.0, 12)
    cfg = MetabolismModel(hidden_dim_sub=8, hidden_dim_node=8, node_line=True)
    model = MetabolismGNN(cfg, Graph.from_arrays(data), c_scale=5.0, node_scale=scale)
    c = torch.rand(3, 12) * 8
    assert torch.equal(model.homeostasis(c), torch.zeros(3, 12))  # starts switched off, like MLP_node
    with torch.no_grad():
        model.line.copy_(torch.stack([torch.linspace(-1, 1, 12), torch.linspace(2, -2, 12)]))
    line = scale * (model.line[0] + model.line[1] * c / 5.0)
    assert torch.allclose(model.homeostasis(c), line)
    groups = {g["name"]: g for g in FAMILY.param_groups(model, MetabolismTraining(lr_node=3e-3))}
    assert groups["node_line"]["params"] == [model.line] and groups["node_line"]["lr"] == 3e-3


def test_without_the_node_mlp_homeostasis_is_the_line_alone(data):
    from neuralgraph.errors import ConfigError

    torch.manual_seed(0)
    cfg = MetabolismModel(hidden_dim_sub=8, hidden_dim_node=8, node_line=True, node_mlp=False)
    model = MetabolismGNN(cfg, Graph.from_arrays(data), c_scale=5.0)
    with torch.no_grad():  # an MLP_node that would add something if it were used
        for p in model.mlp_node.parameters():
            p.fill_(0.3)
        model.line.copy_(torch.stack([torch.linspace(-1, 1, 12), torch.linspace(2, -2, 12)]))
    c = torch.rand(3, 12) * 8
    assert torch.allclose(model.homeostasis(c), model.line[0] + model.line[1] * c / 5.0)
    model.derivative(c).sum().backward()
    assert all(p.grad is None for p in model.mlp_node.parameters()) and model.line.grad is not None
    for bad in ({"node_line": False}, {"homeostasis": False}):
        with pytest.raises(ConfigError, match="node_mlp=false"):
            MetabolismModel(node_mlp=False, **bad)
