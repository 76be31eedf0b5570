"""One name per concept: a former key name stops a run in one line naming its replacement, and the
new names reach the same parameters the old ones did."""

from __future__ import annotations

import subprocess
import sys

import pytest

from neuralgraph.config.vocabulary import RENAMED, renamed_keys
from neuralgraph.launch import compose_regime
from neuralgraph.train import refuse_former_keys, typed


@pytest.mark.parametrize("override, message", [
    ("training.lr_siren=1e-3", "training.lr_siren is now training.lr_field"),
    ("+training.lr_emb=1e-3", "training.lr_emb is now training.lr_embedding"),
    ("model.field_model=siren", "model.field_model is now model.field_type"),
])
def test_a_former_key_names_its_replacement(override, message, capsys):
    with pytest.raises(SystemExit) as stop:
        refuse_former_keys(["+regime=flyvis_small", override, "num_threads=1"])
    assert stop.value.code == 2 and capsys.readouterr().err.strip() == f"Error: {message}"


def test_current_keys_pass():
    refuse_former_keys(["+regime=flyvis_small", "training.lr_field=1e-3", "-m", "hydra/sweeper=ucb_llm"])
    assert renamed_keys(["training.lr_field", "regime"]) == []


def test_the_command_line_refuses_a_former_key():
    proc = subprocess.run([sys.executable, "-m", "neuralgraph.train", "+regime=tiny_signal", "training.lr_NNR_f=1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "training.lr_NNR_f is now training.lr_field" in proc.stderr


def test_no_regime_and_no_schema_keeps_a_former_name():
    """Every former name is gone from the composed configs (keys and search spaces) of every regime."""
    from neuralgraph.resources import regime_names
    from omegaconf import OmegaConf

    for regime in regime_names():
        cfg = compose_regime(regime, *(["data.path=x.npz"] if regime.endswith("recording") else []))
        flat = set(OmegaConf.to_container(cfg.search_space))
        for block in ("model", "training"):
            flat |= {f"{block}.{key}" for key in cfg[block]}
        assert not flat & set(RENAMED), (regime, sorted(flat & set(RENAMED)))


@pytest.mark.parametrize("regime, key", [("flyvis_small", "lr_embedding"), ("flyvis_small", "lr_field"),
                                         ("signal_visual_small", "lr_field")])
def test_the_unified_rates_reach_their_groups(regime, key):
    cfg = typed(compose_regime(regime))
    assert getattr(cfg.training, key) > 0
    assert key in cfg.training.group_rates(cfg.model)  # tests/test_vocabulary.py holds these to param_groups
