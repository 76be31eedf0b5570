"""Regimes: where they live, that they compose to the values they had before the config moves, and
that none repeats another.

``tests/data/regime_configs.json`` holds every regime's composed config as it was before the
vocabulary changes (``tests/regime_snapshot.py`` records it); the former keys in it are mapped to
their new names (:mod:`neuralgraph.config.vocabulary`) and every value must be unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from regime_snapshot import composed

from neuralgraph import resources
from neuralgraph.config.vocabulary import rename_container

HERE = Path(__file__).resolve().parent
RECORDED = json.loads((HERE / "data" / "regime_configs.json").read_text())


#: Settings a regime set that reached nothing (refused now, see tests/test_vocabulary.py), removed
#: from the regime: their value falls back to the schema's default, which reaches nothing either.
DROPPED = {("tiny_metabolism_S_learning", "training", "lr"): 1e-3}
#: Keys added since, whose defaults keep what a run did before: the simulated source's observation
#: (exact derivatives of noise-free states, as every run had).
ADDED = {("simulated", "data", key): value for key, value in {
    "derivative": "exact", "measurement_noise": 0.0, "smoothing": 0.0, "savgol_window": 7, "savgol_order": 3,
}.items()}

#: Defaults changed on purpose because they knew the answer (issue 29), per family: the initial
#: log k is estimated from the data and the k floor sits below it; the number of cell types is
#: chosen from the data.
UNBLINDED = {
    "metabolism": {("model", "log_k_init"): None, ("training", "k_floor_below_start"): 0.5},
    "flyvis": {("evaluation", "n_clusters"): 0, ("evaluation", "cluster_criterion"): "bic",
               ("evaluation", "n_clusters_min"): 2, ("evaluation", "n_clusters_max"): 150},
}


def plain(cfg: dict) -> dict:
    return json.loads(json.dumps(cfg, sort_keys=True, default=str))


def test_every_recorded_regime_is_still_found():
    assert set(RECORDED) <= set(resources.regime_names())


@pytest.mark.parametrize("regime", sorted(RECORDED))
def test_a_regime_composes_to_the_values_it_had(regime):
    before, now = plain(rename_container(RECORDED[regime])), plain(composed(regime))
    for (name, block, key), default in DROPPED.items():
        if name == regime:
            before[block][key] = default
    if not before.get("data"):  # the simulated source had no keys
        for (_, block, key), default in ADDED.items():
            before[block][key] = default
    for (block, key), value in UNBLINDED.get(before["simulation"].get("family"), {}).items():
        before[block][key] = value
    for block in sorted(set(before) | set(now)):
        assert now.get(block) == before.get(block), f"{regime}: block {block!r} changed"


def test_each_regime_lives_in_its_family_folder():
    families = resources.family_dirs()
    for name, path in resources.regime_files().items():
        family = RECORDED[name]["simulation"]["family"] if name in RECORDED else None
        assert family is None or path.is_relative_to(families[family]), (name, path)
    assert not list((resources.conf_dir() / resources.REGIME_GROUP).glob("*.yaml")), "regimes belong to families"


def content_lines(path: Path) -> list[str]:
    """The file's lines that set something (comments and blank lines aside), stripped."""
    lines = (line.split(" #")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


#: Lines every regime has by construction (its header and the blocks' names).
BOILERPLATE = {"defaults:", "- _self_", "simulation:", "model:", "training:", "search_space:", "evaluation:"}


def test_no_regime_file_repeats_more_than_half_of_another():
    files = resources.regime_files()
    lines = {name: [x for x in content_lines(p) if x not in BOILERPLATE] for name, p in files.items()}
    repeated = []
    for a, mine in lines.items():
        for b, theirs in lines.items():
            if a != b and mine:
                shared = sum(1 for line in mine if line in set(theirs))
                if shared > len(mine) / 2:
                    repeated.append(f"{a} repeats {shared} of its {len(mine)} lines from {b}")
    assert not repeated, "\n".join(sorted(repeated))
