"""One vocabulary of settings: a key that reaches nothing is refused, and every learning rate a
regime sets is the rate of one of its run's parameter groups.

Each family's training schema declares its Adam groups' rate keys and their fallbacks
(``group_rates`` / ``RATE_FALLBACK`` beside the fields); these tests hold the declaration to what
``Family.param_groups`` does, and every regime to the declaration.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from omegaconf import OmegaConf

from neuralgraph import resources
from neuralgraph.config.base import rate_keys, used_rates
from neuralgraph.errors import ConfigError
from neuralgraph.launch import compose_regime

TINY = {"metabolism": "tiny_metabolism_S_learning", "signal": "tiny_signal", "flyvis": "tiny_flyvis"}


def blocks(regime: str, *overrides: str):
    cfg = compose_regime(regime, *overrides)
    return OmegaConf.to_object(cfg.training), OmegaConf.to_object(cfg.model)


def set_keys(regime: str, block: str) -> set[str]:
    """The keys of ``block`` that the regime's file, or a regime it extends, sets."""
    files = resources.regime_files()
    text = yaml.safe_load(files[regime].read_text()) or {}
    keys = set((text.get(block) or {}).keys())
    for entry in text.get("defaults", []):
        parent = entry if isinstance(entry, str) else None
        parent = parent and parent.split("@")[0].removeprefix("/regime/")
        if parent in files:
            keys |= set_keys(parent, block)
    return keys


def test_a_learning_rate_no_group_uses_is_refused_naming_the_used_ones():
    with pytest.raises(ConfigError) as err:
        OmegaConf.to_object(compose_regime("tiny_metabolism_S_learning", "training.lr=1"))
    message = str(err.value)
    assert "\n" not in message and message.startswith("training.lr=1")
    for key in ("training.lr_k", "training.lr_sub", "training.lr_node", "training.lr_S"):
        assert key in message
    # A group left at 0 falls back to training.lr: then it is used, and accepted.
    OmegaConf.to_object(compose_regime("tiny_metabolism_S_learning", "training.lr=1", "training.lr_k=0"))


def test_the_command_line_stops_with_one_line_and_exit_code_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "neuralgraph.train", "+regime=tiny_metabolism_S_learning",
                           "training.lr=1", "progress=false", "plots=false", "num_threads=1",
                           f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "training.lr=1" in line]
    assert len(lines) == 1 and "training.lr_k" in lines[0]


@pytest.mark.parametrize("regime", resources.regime_names())
def test_every_learning_rate_a_regime_sets_is_used(regime):
    training, model = blocks(regime)
    used = set(used_rates(training, model))
    unused = sorted((set_keys(regime, "training") & set(rate_keys(training))) - used)
    assert not unused, f"{regime} sets {unused}, which no parameter group uses (used: {sorted(used)})"


@pytest.mark.parametrize("family", sorted(TINY))
def test_the_declared_group_rates_are_what_param_groups_does(family):
    """Give every rate a distinct value: each group's rate must be its declared key's; then set each
    declared rate to 0 in turn: the group must take its declared fallback's."""
    import torch

    from neuralgraph.family import get_family

    cfg = OmegaConf.to_object(compose_regime(TINY[family], "device=cpu"))
    fam = get_family(family)
    arrays = fam.simulate(cfg.simulation)
    model, _ = fam.build(arrays, cfg, torch.device("cpu"))
    t = cfg.training
    keys = rate_keys(t)
    for zero in [None, *t.group_rates(cfg.model)]:
        for i, key in enumerate(keys):
            setattr(t, key, 0.0 if key == zero else 1e-3 * (i + 1))
        got = sorted(g["lr"] for g in fam.param_groups(model, t))
        declared = sorted(getattr(t, _resolve(t, key)) for key in t.group_rates(cfg.model))
        assert len(got) >= len(declared)
        assert set(got) == set(declared), (family, zero, got, declared)


def _resolve(t, key: str) -> str:
    while getattr(t, key) <= 0 and key in t.RATE_FALLBACK:
        key = t.RATE_FALLBACK[key]
    return key
