"""Register every schema in Hydra's ConfigStore.

YAML files extend these schemas through their defaults list (``- /schema/model/metabolism@_here_``
style entries), so each key of a YAML file is type-checked against a dataclass. The schemas of
each family come from its folder (see :mod:`neuralgraph.family` for how families are found).
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from neuralgraph.config.base import RunConfig
from neuralgraph.family import family_packages, family_schemas


def register_configs() -> None:
    """Store ``run_schema``, the option ``data=<source>`` of every data source found, and
    ``schema/<block>/<family>`` for every family found (idempotent)."""
    # Imported here: a source's schema may read this package's range checks.
    from neuralgraph.sources import source_schemas

    cs = ConfigStore.instance()
    cs.store(name="run_schema", node=RunConfig)
    for name, node in source_schemas().items():
        cs.store(group="data", name=name, node=node)
    for name in family_packages():
        for block, node in family_schemas(name).items():
            cs.store(group=f"schema/{block}", name=name, node=node)
