"""The shape of the package, checked from its source: the import graph has no cycle and nothing
imports upward; each family folder stands alone; files and functions stay small.

Every ``import`` statement is read with :mod:`ast` — at module level and inside functions, since a
deferred import is still a dependency — and resolved to the neuralgraph module it names
(``from neuralgraph.x import y`` is an edge to ``neuralgraph.x.y`` when that is a module, else to
``neuralgraph.x``). Layers, bottom to top:

    floor     errors io integrate discovery family nn metrics config matrix_file node_types plotting rundir
              datacache resources signals recording sources (the data sources: simulated, a recording file)
    families  neuralgraph.families.<name> (each folder on its own)
    top       trainer train explore launch report
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "neuralgraph"
FLOOR = ("errors", "io", "integrate", "discovery", "family", "nn", "metrics", "config", "matrix_file",
         "node_types", "plotting", "rundir", "datacache", "resources", "signals", "recording", "sources")
ABOVE_THE_FLOOR = ("families", "trainer", "checkpoint", "curves", "train", "explore", "launch", "report")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=None)
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def resolve(name: str) -> str | None:
    """The longest prefix of ``name`` that is a neuralgraph module (``None`` outside the package)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules():
            return candidate
        parts.pop()
    return None


def imported_names(module: str) -> set[str]:
    """Dotted names ``module`` imports anywhere in its body (relative imports made absolute)."""
    tree = ast.parse(modules()[module].read_text(), filename=str(modules()[module]))
    here = module.split(".") if is_package(module) else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here[: len(here) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


@lru_cache(maxsize=None)
def graph() -> dict[str, frozenset[str]]:
    """``{module: neuralgraph modules it imports}``, self-imports (``from . import x`` of a package) aside."""
    edges = {}
    for module in modules():
        targets = {resolve(name) for name in imported_names(module)}
        edges[module] = frozenset(t for t in targets if t is not None and t != module)
    return edges


def cycles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def within(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations(sources: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{m} imports {t}" for m, targets in graph().items() if within(m, *sources)
                  for t in targets if within(t, *forbidden))


def family_folders() -> list[str]:
    root = PACKAGE / "families"
    return sorted(f"neuralgraph.families.{p.name}" for p in root.iterdir() if (p / "__init__.py").exists())


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}) \
        == [["a", "b", "c"]]
    assert cycles({"a": frozenset({"b"}), "b": frozenset(), "c": frozenset({"a", "b"})}) == []


def test_import_resolution():
    assert "neuralgraph.family" in graph()["neuralgraph.trainer"]
    assert "neuralgraph.io" in graph()["neuralgraph.rundir"]


def test_the_import_graph_has_no_cycle():
    found = cycles(dict(graph()))
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_floor_imports_nothing_above_it():
    sources = tuple(f"neuralgraph.{name}" for name in FLOOR)
    bad = violations(sources, tuple(f"neuralgraph.{name}" for name in ABOVE_THE_FLOOR))
    assert not bad, "upward imports: " + "; ".join(bad)


@pytest.mark.parametrize("folder", family_folders())
def test_a_family_folder_stands_alone(folder):
    others = tuple(f for f in family_folders() if f != folder)
    upward = ("neuralgraph.trainer", "neuralgraph.train", "neuralgraph.explore", "neuralgraph.launch",
              "neuralgraph.report")
    bad = violations((folder,), others + upward)
    assert not bad, "; ".join(bad)


@pytest.mark.parametrize("folder", family_folders())
def test_a_family_folder_holds_its_schemas_and_its_family(folder):
    path = PACKAGE / "families" / folder.rsplit(".", 1)[-1]
    for name in ("config.py", "family.py"):
        assert (path / name).exists(), f"{folder} has no {name}"
    tree = ast.parse((path / "config.py").read_text())
    assert any(isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "SCHEMAS" for t in n.targets)
               for n in tree.body), f"{folder}.config defines no SCHEMAS"


@pytest.mark.parametrize("folder", family_folders())
def test_a_family_folder_holds_its_regimes_options_and_instructions(folder):
    """Regimes, the model/training options and the LLM's documents sit in the family's folder, and
    each YAML there composes from this family's schemas only."""
    name = folder.rsplit(".", 1)[-1]
    path = PACKAGE / "families" / name
    assert list((path / "conf" / "regime").glob("*.yaml")), f"{folder} has no conf/regime/*.yaml"
    assert list((path / "agents").glob("*.md")), f"{folder} has no agents/*.md"
    for group in ("model", "training"):
        assert (path / "conf" / group / f"{name}.yaml").exists(), f"{folder} has no conf/{group}/{name}.yaml"
    others = [f.rsplit(".", 1)[-1] for f in family_folders() if f != folder]
    for yaml in (path / "conf").rglob("*.yaml"):
        text = yaml.read_text()
        assert not any(f"/{other}@" in text or f": {other}\n" in text for other in others), f"{yaml} names another family"


def test_explore_knows_no_family():
    bad = violations(("neuralgraph.explore",), ("neuralgraph.families",))
    assert not bad, "; ".join(bad)


def test_no_file_is_long():
    lines = {str(p.relative_to(PACKAGE.parent)): len(p.read_text().splitlines()) for p in modules().values()}
    long = {f: n for f, n in lines.items() if n > MAX_FILE_LINES}
    assert not long, f"files over {MAX_FILE_LINES} lines: {long}"


def test_no_function_is_long():
    long = {}
    for module, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{module}:{node.name}"] = n
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def source_folders() -> list[str]:
    root = PACKAGE / "sources"
    return sorted(f"neuralgraph.sources.{p.name}" for p in root.iterdir() if (p / "__init__.py").exists())


@pytest.mark.parametrize("folder", source_folders())
def test_a_source_folder_stands_alone(folder):
    """A data source knows no family and no other source: it is one folder, found by discovery."""
    others = tuple(f for f in source_folders() if f != folder)
    bad = violations((folder,), others + ("neuralgraph.families",))
    assert not bad, "; ".join(bad)
    path = PACKAGE / "sources" / folder.rsplit(".", 1)[-1]
    assert (path / "config.py").exists() and (path / "source.py").exists(), f"{folder} lacks config.py or source.py"


def code_words(module: str) -> set[str]:
    """Identifiers and string constants of ``module``'s code (docstrings aside), in lower case."""
    tree = ast.parse(modules()[module].read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    words = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            words.add(node.value.lower())
        elif isinstance(node, ast.Name):
            words.add(node.id.lower())
        elif isinstance(node, ast.Attribute):
            words.add(node.attr.lower())
    return words


def test_the_run_and_the_trainer_name_no_family_and_no_source():
    """train.py and the trainer compose the parts they are given; they never ask which ones."""
    named = tuple(source_folders()) + ("neuralgraph.families", "neuralgraph.recording")
    bad = violations(("neuralgraph.train", "neuralgraph.trainer"), named)
    assert not bad, "; ".join(bad)
    for module in ("neuralgraph.train", "neuralgraph.trainer"):
        words = code_words(module)
        for name in ("metabolism", "signal", "flyvis", "recording", "simulated", "simulate"):
            assert not any(name in word.split("_") or word.startswith(name) for word in words), f"{module} names {name}"
