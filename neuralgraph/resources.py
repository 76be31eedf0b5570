"""Where NeuralGraph's own files are: the Hydra configs, the LLM's instruction documents, the fly
connectome. Nothing else in the package computes a path to them.

``conf/`` and ``agents/`` sit at the top of a checkout, where users read and edit them. A wheel
carries them as the packages ``neuralgraph.conf`` and ``neuralgraph.agents`` (``setup.py`` maps
the two folders onto those names), so every reader names them by package — Hydra as
``pkg://neuralgraph.conf`` — and finds the same files from a wheel, an editable install or a
checkout run in place. In the last two the folders are not inside ``neuralgraph/``: importing this
module then adds a finder that resolves the two names to the checkout's folders.

The connectome file (``data/flyvis/``, MIT licence and attribution beside it) is ordinary package
data.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.resources
import sys
from pathlib import Path

#: The installed package's folder (``…/site-packages/neuralgraph`` or ``<checkout>/neuralgraph``).
PACKAGE_DIR = Path(__file__).resolve().parent
CONF_PACKAGE = "neuralgraph.conf"
AGENTS_PACKAGE = "neuralgraph.agents"
#: What ``@hydra.main`` and ``initialize_config_module`` are given.
CONF_SEARCH_PATH = f"pkg://{CONF_PACKAGE}"
CONNECTOME_FILE = "fib25-fib19_v2.2.json"

_FOLDERS = {CONF_PACKAGE: "conf", AGENTS_PACKAGE: "agents"}


def source_checkout() -> Path | None:
    """The checkout root when the package runs from its source tree (in place or editable), else
    ``None`` (a wheel: the folders live inside the package)."""
    if (PACKAGE_DIR / "conf").is_dir():
        return None
    root = PACKAGE_DIR.parent
    return root if (root / "conf" / "__init__.py").is_file() else None


class _CheckoutFolders(importlib.abc.MetaPathFinder):
    """Resolves ``neuralgraph.conf`` / ``neuralgraph.agents`` to ``<checkout>/conf`` / ``agents``.

    A checkout keeps the folders beside the package, not in it; the import system searches the
    checkout root for the folder's own name, so the modules get ordinary file-system specs (and
    resource readers) exactly as if the folders sat inside ``neuralgraph/``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 (the finder protocol)
        if fullname not in _FOLDERS:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, [str(self.root)])


def _install_finder() -> None:
    root = source_checkout()
    if root is not None and not any(isinstance(f, _CheckoutFolders) for f in sys.meta_path):
        sys.meta_path.append(_CheckoutFolders(root))


_install_finder()


def _package_dir(package: str) -> Path:
    folder = PACKAGE_DIR / _FOLDERS[package]
    if folder.is_dir():
        return folder
    root = source_checkout()
    if root is None:
        raise FileNotFoundError(f"{package} is neither inside {PACKAGE_DIR} nor in a source checkout")
    return root / _FOLDERS[package]


def conf_dir() -> Path:
    """The folder of ``config.yaml`` and the config groups (``regime/``, ``model/``, …)."""
    return _package_dir(CONF_PACKAGE)


def agents_dir() -> Path:
    """The folder of the LLM's instruction documents (each regime names one: ``instructions:``)."""
    return _package_dir(AGENTS_PACKAGE)


def regime_names() -> list[str]:
    """Every regime shipped with the package (``+regime=NAME``), read through Hydra's package name."""
    regimes = importlib.resources.files(CONF_PACKAGE).joinpath("regime")
    return sorted(p.name[: -len(".yaml")] for p in regimes.iterdir() if p.name.endswith(".yaml"))


def connectome_file() -> Path:
    """The fly optic-lobe connectome (``fib25-fib19_v2.2.json``, from flyvis 1.2.0, MIT licence)."""
    return PACKAGE_DIR / "data" / "flyvis" / CONNECTOME_FILE
