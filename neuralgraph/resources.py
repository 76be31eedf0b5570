"""Where NeuralGraph's own files are: the Hydra configs, the LLM's instruction documents, the fly
connectome. Nothing else in the package computes a path to them.

Two kinds of folders hold configs and documents:

- the **shared** ones, ``conf/`` (``config.yaml``, the Hydra launchers) and ``agents/``
  (the memory template), at the top of a checkout, where users read and edit them; a wheel carries
  them inside the package as ``neuralgraph/conf`` and ``neuralgraph/agents`` (``setup.py``);
- each **family's** own, ``<family folder>/conf/`` (``regime/``, ``model/``, ``training/``) and
  ``<family folder>/agents/``, for every family :func:`neuralgraph.family.family_packages` finds
  (built-in, entry point or ``NEURALGRAPH_FAMILIES``), so a family is one self-contained folder.

Hydra finds the config folders through the search-path plugin
``hydra_plugins/neuralgraph_searchpath`` (it appends :func:`conf_dirs`); the shared ``conf/`` is
also the entry point's own config path (:data:`CONF_SEARCH_PATH`).

The connectome file (``data/flyvis/``, MIT licence and attribution beside it) is ordinary package
data.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

#: The installed package's folder (``…/site-packages/neuralgraph`` or ``<checkout>/neuralgraph``).
PACKAGE_DIR = Path(__file__).resolve().parent
CONNECTOME_FILE = "fib25-fib19_v2.2.json"
#: Inside a family folder: its config groups and its instruction documents.
FAMILY_CONF, FAMILY_AGENTS = "conf", "agents"
#: The config group of regimes (``+regime=NAME``).
REGIME_GROUP = "regime"


def source_checkout() -> Path | None:
    """The checkout root when the package runs from its source tree (in place or editable), else
    ``None`` (a wheel: the shared folders live inside the package)."""
    if (PACKAGE_DIR / "conf").is_dir():
        return None
    root = PACKAGE_DIR.parent
    return root if (root / "conf" / "config.yaml").is_file() else None


def _shared(folder: str) -> Path:
    inside = PACKAGE_DIR / folder
    if inside.is_dir():
        return inside
    root = source_checkout()
    if root is None:
        raise FileNotFoundError(f"{folder}/ is neither inside {PACKAGE_DIR} nor in a source checkout")
    return root / folder


def conf_dir() -> Path:
    """The shared config folder: ``config.yaml``, ``hydra/launcher/``."""
    return _shared("conf")


def agents_dir() -> Path:
    """The shared folder of documents the LLM reads (the memory template)."""
    return _shared("agents")


#: What ``@hydra.main`` is given: the shared config folder, as an absolute path.
CONF_SEARCH_PATH = str(conf_dir())


def family_dirs() -> dict[str, Path]:
    """``{family name: its folder}`` for every family found (the package's folder on disk)."""
    from neuralgraph.family import family_packages  # below: family imports torch, only when asked

    found = {}
    for name, package in family_packages().items():
        spec = importlib.util.find_spec(package)
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        if locations:
            found[name] = Path(locations[0]).resolve()
    return found


def conf_dirs() -> list[Path]:
    """Every config folder, for Hydra's search path: the shared one, then each family's ``conf/``."""
    family = [d / FAMILY_CONF for _, d in sorted(family_dirs().items()) if (d / FAMILY_CONF).is_dir()]
    return [conf_dir(), *family]


def agents_dirs() -> list[Path]:
    """Every folder of instruction documents: the shared one, then each family's ``agents/``."""
    family = [d / FAMILY_AGENTS for _, d in sorted(family_dirs().items()) if (d / FAMILY_AGENTS).is_dir()]
    return [agents_dir(), *family]


def regime_files() -> dict[str, Path]:
    """``{regime name: its YAML file}`` over every config folder (a name defined twice is refused)."""
    found: dict[str, Path] = {}
    for folder in conf_dirs():
        for path in sorted((folder / REGIME_GROUP).glob("*.yaml")):
            if path.stem in found:
                raise FileExistsError(f"regime {path.stem!r} is defined twice: {found[path.stem]} and {path}")
            found[path.stem] = path
    return found


def regime_names() -> list[str]:
    """Every regime found (``+regime=NAME``): the shared ones and each family's."""
    return sorted(regime_files())


def instruction_document(name: str) -> Path:
    """The instruction document called ``name`` (``metabolism.md``): the first folder of
    :func:`agents_dirs` that holds it; the shared folder's path when none does (for the message)."""
    for folder in agents_dirs():
        if (folder / name).is_file():
            return folder / name
    return agents_dir() / name


def connectome_file() -> Path:
    """The fly optic-lobe connectome (``fib25-fib19_v2.2.json``, from flyvis 1.2.0, MIT licence)."""
    return PACKAGE_DIR / "data" / "flyvis" / CONNECTOME_FILE
