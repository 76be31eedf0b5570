"""Finding plug-in packages without a list to edit: families and data sources alike.

A kind of plug-in (``neuralgraph.families``, ``neuralgraph.sources``) is found in three places, the
later winning on a clash of names:

- every sub-package of its built-in package (``neuralgraph/families/signal/``);
- the entry-point group of the same name in installed distributions
  (``[project.entry-points."neuralgraph.families"] toy = "mypackage.toy"``);
- the importable packages named, comma-separated, in its environment variable
  (``NEURALGRAPH_FAMILIES=toy``), for a package that is not installed.

A plug-in package is imported module by module (``config.py`` to compose a config, the rest when
a run needs it), so finding plug-ins imports none of their heavy dependencies.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from neuralgraph.errors import ConfigError


@dataclass(frozen=True)
class PluginKind:
    """Where the plug-ins of one kind live: built-in package, entry-point group, environment variable."""

    builtin: str  # e.g. "neuralgraph.families"; also the entry-point group
    env_var: str  # e.g. "NEURALGRAPH_FAMILIES"
    what: str  # how an error names the choice, e.g. "simulation.family"

    def packages(self) -> dict[str, str]:
        """``{name: package}`` of every plug-in found."""
        base = importlib.import_module(self.builtin)
        found = {info.name: f"{self.builtin}.{info.name}" for info in pkgutil.iter_modules(base.__path__)
                 if info.ispkg}
        found.update({ep.name: ep.value for ep in entry_points(group=self.builtin)})
        named = [n.strip() for n in os.environ.get(self.env_var, "").split(",") if n.strip()]
        found.update({n.rsplit(".", 1)[-1]: n for n in named})
        return found

    def package(self, name: str) -> str:
        """The package of plug-in ``name``; an unknown name is refused with the known ones."""
        packages = self.packages()
        if name not in packages:
            raise ConfigError(f"{self.what}={name!r} is unknown; use one of: {', '.join(sorted(packages))}")
        return packages[name]

    def module(self, package: str, module: str) -> ModuleType:
        """``package.module``; a missing module is a :class:`ConfigError` naming it."""
        try:
            return importlib.import_module(f"{package}.{module}")
        except ModuleNotFoundError as err:
            if err.name in (package, f"{package}.{module}"):
                raise ConfigError(f"{self.what} package {package!r} has no {module}.py (or cannot be imported)") from err
            raise

    def member(self, package: str, module: str, attribute: str, kind: type) -> Any:
        """``package.module.attribute``, which must be an instance of ``kind``."""
        value = getattr(self.module(package, module), attribute, None)
        if not isinstance(value, kind):
            raise ConfigError(f"{package}.{module} must define {attribute}, an instance of "
                              f"{kind.__module__}.{kind.__qualname__}")
        return value
