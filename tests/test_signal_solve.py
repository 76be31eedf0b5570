"""Variable projection for the signal model: W by least squares given the learned functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from neuralgraph.config.base import RunConfig
from neuralgraph.errors import ConfigError
from neuralgraph.families.signal import simulate as S
from neuralgraph.families.signal.config import SignalModel, SignalSimulation, SignalTraining
from neuralgraph.families.signal.model import SignalGNN
from neuralgraph.families.signal.solve import SignalWeightSolver
from neuralgraph.family import get_family

FAM = get_family("signal")


def typed(schema, **kw):
    return OmegaConf.to_object(OmegaConf.structured(schema(**kw)))


def test_solve_recovers_W_from_data_the_model_itself_generated():
    """du = φ*(u) + W ψ*(u) from the model with a known W: the solve finds W (zero diagonal) up to
    its ridge's bias (λ = 1e-6: errors ~1e-6 relative), starting from another W, and numpy's
    unregularised lstsq on each row agrees to the same level."""
    torch.manual_seed(0)
    n, frames = 9, 400
    model = SignalGNN(typed(SignalModel, hidden_dim=16, embedding_init_noise=0.5), n_neurons=n, x_scale=1.0).double()
    W_true = torch.randn(n, n, dtype=torch.float64) * model.mask
    u = torch.randn(frames, n, dtype=torch.float64) * 2
    with torch.no_grad():
        model.W.copy_(W_true)
        du = model.derivative(u, None)
        model.W.copy_(torch.randn(n, n, dtype=torch.float64))
    solver = SignalWeightSolver(u, du, None, every=5, total=7)
    model.register_buffer("solver_step", torch.zeros((), dtype=torch.long))
    for _ in range(4):
        solver.after_step(model)  # steps 1-4: no solve yet
    assert not torch.allclose(model.W, W_true, atol=1e-3)
    solver.after_step(model)  # step 5: a multiple of every
    np.testing.assert_allclose(model.W.detach().numpy(), W_true.numpy(), rtol=2e-5, atol=1e-6)
    X, R = solver.design(model)
    for i in range(n):
        keep = np.arange(n) != i
        row = np.linalg.lstsq(X[:, keep], R[:, i], rcond=None)[0]
        np.testing.assert_allclose(model.W.detach().numpy()[i, keep], row, rtol=2e-5, atol=1e-6)


def test_solve_is_refused_for_models_not_linear_in_W():
    sim = typed(SignalSimulation)
    for model_kw, what in (({"factorization": True, "low_rank": 2}, "factorization"),
                           ({"update_type": "generic"}, "update_type")):
        cfg = RunConfig(regime="t", reward_key="connectivity_R2", simulation=sim,
                        model=typed(SignalModel, **model_kw), training=typed(SignalTraining, W_solve_every=10))
        with pytest.raises(ConfigError, match=f"W_solve_every.*{what}"):
            FAM.check(cfg)


def test_a_run_with_the_solve_ends_on_the_solved_W(tmp_path):
    """tiny_signal with training.W_solve_every at its step count: the final W is the solution
    for the final functions (solving again changes nothing)."""
    from neuralgraph.launch import compose_regime
    from neuralgraph.train import typed as typed_run
    from neuralgraph.trainer import train

    cfg = typed_run(compose_regime("tiny_signal", "training.data_augmentation_loop=2", "training.W_solve_every=1000000"))
    arrays = S.simulate(cfg.simulation)
    torch.manual_seed(0)
    model, data = FAM.build(arrays, cfg, torch.device("cpu"))
    train(FAM, model, data, None, cfg, torch.device("cpu"), progress=False)
    solver = data.after_step[0].__self__  # the solver rides with the run's data, not on the model
    assert int(model.solver_step) == solver.total
    W_end = model.W.detach().clone()
    solver.solve(model)
    torch.testing.assert_close(model.W.detach(), W_end)
