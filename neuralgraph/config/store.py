"""Register every schema in Hydra's ConfigStore.

YAML files extend these schemas through their defaults list (``- /schema/model/metabolism@_here_``
style entries), so each key of a YAML file is type-checked against a dataclass. Each family's
schema module exports ``SCHEMAS = {(group, name): dataclass}``.
"""

from __future__ import annotations

import importlib
import importlib.util

from hydra.core.config_store import ConfigStore

from neuralgraph.config.base import RunConfig

#: Schema modules, one per family (a family not yet built is simply absent).
FAMILY_SCHEMA_MODULES = ("metabolism", "signal", "flyvis")


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="run_schema", node=RunConfig)
    for family in FAMILY_SCHEMA_MODULES:
        name = f"neuralgraph.config.{family}"
        if importlib.util.find_spec(name) is None:
            continue
        for (group, option), node in importlib.import_module(name).SCHEMAS.items():
            cs.store(group=group, name=option, node=node)
