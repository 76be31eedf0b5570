"""Nothing the model or the trainer starts from comes from the simulation's truth: on the same
data arrays, two configs that differ only in the truth's parameters build the same model (every
parameter and buffer), the same optimiser groups and the same training tensors."""

from __future__ import annotations

import pytest
import torch

from neuralgraph.family import get_family
from neuralgraph.launch import compose_regime
from neuralgraph.train import refuse_former_keys, typed

#: Per regime, overrides that change only the ground truth the simulator draws (not what is
#: observed or how: sizes, Δt, the input and the seed stay).
TRUTH_SHIFTS = {
    "tiny_metabolism": ("simulation.log_k_min=-3.0", "simulation.log_k_max=-2.0",
                        "simulation.homeostatic_lambda=[0.1,0.2]", "simulation.homeostatic_baseline=[3.0,6.0]"),
    "tiny_metabolism_S_learning": ("simulation.log_k_min=-1.0", "simulation.log_k_max=0.0",
                                   "simulation.rate_mlp_gain=1.5"),
    "tiny_signal": ("simulation.params=[[1.0,2.0,3.0],[2.0,1.0,0.5]]",),
    "tiny_flyvis": ("simulation.tau_min=0.1", "simulation.tau_max=0.4", "simulation.v_rest_mean=0.2",
                    "simulation.v_rest_std=0.1", "simulation.strength_median=0.02"),
}


def built(regime: str, *overrides: str):
    cfg = typed(compose_regime(regime, *overrides))
    family = get_family(cfg.simulation.family)
    return cfg, family


@pytest.mark.parametrize("regime", sorted(TRUTH_SHIFTS))
def test_the_truth_reaches_no_initial_state(regime):
    cfg, family = built(regime)
    shifted, _ = built(regime, *TRUTH_SHIFTS[regime])
    assert shifted.simulation != cfg.simulation  # the shift is real
    arrays = family.simulate(cfg.simulation)  # one dataset for both
    models = []
    for c in (cfg, shifted):
        torch.manual_seed(0)
        model, data = family.build(arrays, c, torch.device("cpu"))
        groups = [(g["name"], g["lr"], [tuple(p.shape) for p in g["params"]]) for g in family.param_groups(model, c.training)]
        models.append((model.state_dict(), groups, data))
    (a, groups_a, data_a), (b, groups_b, data_b) = models
    assert a.keys() == b.keys() and groups_a == groups_b
    for key in a:
        assert torch.equal(a[key], b[key]), f"{regime}: {key} depends on the truth"
    assert torch.equal(data_a.target_scale, data_b.target_scale) and torch.equal(data_a.y, data_b.y)


def test_a_setting_that_read_the_truth_is_refused_by_name(capsys):
    with pytest.raises(SystemExit):
        refuse_former_keys(["+regime=tiny_metabolism", "training.coeff_k_center=1"])
    assert "training.coeff_k_center is gone: it pulled the mean log k toward the centre" in capsys.readouterr().err
