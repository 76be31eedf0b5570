"""The frozen ``evaluation`` block: the keys that define a metric live there, every regime composes
it, a sweep may not change it, and a user typing the former ``training.X`` is told its new name."""

from __future__ import annotations

import dataclasses

import pytest
from omegaconf import OmegaConf

from neuralgraph import resources
from neuralgraph.config.vocabulary import EVALUATION_KEYS, RENAMED, renamed_message
from neuralgraph.explore.space import SearchSpaceError, parse_space
from neuralgraph.explore.validate import ProposalError, check_proposal
from neuralgraph.family import family_schemas
from neuralgraph.launch import compose_regime


@pytest.mark.parametrize("family", sorted(EVALUATION_KEYS))
def test_each_family_has_an_evaluation_schema_holding_exactly_the_moved_keys(family):
    schemas = family_schemas(family)
    evaluation = [f.name for f in dataclasses.fields(schemas["evaluation"])]
    assert evaluation == list(EVALUATION_KEYS[family])
    training = {f.name for f in dataclasses.fields(schemas["training"])}
    assert not training & set(evaluation), "a metric key is still a training key"


@pytest.mark.parametrize("regime", resources.regime_names())
def test_every_regime_composes_its_familys_evaluation_block(regime):
    cfg = compose_regime(regime)  # blocks typed one by one: a recording regime needs a data.path
    family = cfg.simulation.family
    if family in EVALUATION_KEYS:
        assert isinstance(OmegaConf.to_object(cfg.evaluation), family_schemas(family)["evaluation"])
    space = dict(cfg.search_space)
    assert not [k for k in space if k.startswith("evaluation.")], f"{regime} sweeps a metric key"


def test_a_former_training_key_names_its_new_place():
    assert renamed_message("training.n_rollout_frames") == "training.n_rollout_frames is now evaluation.n_rollout_frames"
    assert renamed_message("+training.sparsity_threshold") == (
        "training.sparsity_threshold is now evaluation.sparsity_threshold")
    for keys in EVALUATION_KEYS.values():
        for key in keys:
            assert RENAMED[f"training.{key}"] == f"evaluation.{key}"


def test_a_regime_sets_a_metric_key_under_evaluation():
    cfg = OmegaConf.to_object(compose_regime("tiny_signal", "evaluation.n_rollout_frames=50"))
    assert cfg.evaluation.n_rollout_frames == 50
    with pytest.raises(Exception, match="n_rollout_frames"):
        compose_regime("tiny_signal", "training.n_rollout_frames=50")  # not a training key any more


def test_a_search_space_naming_an_evaluation_key_is_refused():
    with pytest.raises(SearchSpaceError, match=r"'evaluation\.n_rollout_frames' is an evaluation key"):
        parse_space({"training.lr_W": "tag(log, interval(1e-4, 1e-1))",
                     "evaluation.n_rollout_frames": "choice(100, 1000)"})
    with pytest.raises(SearchSpaceError, match="evaluation key"):
        parse_space({"evaluation.cluster_threshold": "0.05"})  # a fixed value too


def test_a_proposal_naming_an_evaluation_key_is_refused():
    space = parse_space({"training.lr_W": "tag(log, interval(1e-4, 1e-1))"})
    parent = {"training.lr_W": "0.01"}
    with pytest.raises(ProposalError, match=r"'evaluation\.test_window' is an evaluation key"):
        check_proposal({"evaluation.test_window": 50}, parent, space, [])
    with pytest.raises(ProposalError, match="simulation key"):
        check_proposal({"simulation.n_frames": 50}, parent, space, [])


def test_the_optuna_sweeper_refuses_an_evaluation_key(tmp_path):
    from hydra_plugins.ucb_llm_sweeper.optuna_regime import OptunaRegimeSweeperConf

    from neuralgraph.explore.optuna_study import OptunaStudy

    conf = OmegaConf.structured(OptunaRegimeSweeperConf)
    conf.params = {"evaluation.n_clusters": "choice(10, 65)"}
    with pytest.raises(SearchSpaceError, match=r"evaluation\.n_clusters"):
        OptunaStudy(conf, tmp_path, ["+regime=tiny_flyvis"], launch=None,
                    compose=lambda overrides: OmegaConf.create({"regime": "tiny_flyvis"}))
