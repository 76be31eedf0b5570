"""Register every schema in Hydra's ConfigStore.

YAML files extend these schemas through their defaults list (``- /schema/model/metabolism``
style names below), so each key of a YAML file is type-checked against a dataclass.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from neuralgraph.config.base import RunConfig
from neuralgraph.config.metabolism import MetabolismModel, MetabolismSimulation, MetabolismTraining

#: (group, name) -> schema. Families add theirs here.
SCHEMAS = {
    ("schema/simulation", "metabolism"): MetabolismSimulation,
    ("schema/model", "metabolism"): MetabolismModel,
    ("schema/training", "metabolism"): MetabolismTraining,
}


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="run_schema", node=RunConfig)
    for (group, name), node in SCHEMAS.items():
        cs.store(group=group, name=name, node=node)
