"""Adds NeuralGraph's config folders to Hydra's search path, so a family is one folder.

Hydra calls :meth:`NeuralGraphSearchPath.manipulate_search_path` whenever it composes a config
(``@hydra.main``, the compose API, each job of a multirun). The folders come from
:func:`neuralgraph.resources.conf_dirs`: the shared ``conf/`` and the ``conf/`` of every family
found (built-ins, the ``neuralgraph.families`` entry points, ``NEURALGRAPH_FAMILIES``), so
``+regime=NAME`` finds a regime in whichever family folder holds it, from a checkout and from a
wheel alike. A folder already on the search path is not added twice.
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

PROVIDER = "neuralgraph"


class NeuralGraphSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from neuralgraph import resources  # imported when Hydra composes, not when it scans plugins

        present = {element.path for element in search_path.get_path()}
        for folder in resources.conf_dirs():
            for path in (str(folder), f"file://{folder}"):
                if path in present:
                    break
            else:
                search_path.append(PROVIDER, f"file://{folder}")
