"""Every key reaches something: each field of every schema (the run, the shared training keys, each
data source's block, each family's simulation / model / training blocks) is read by code other
than the schema that declares it — an attribute access ``….key`` or a ``getattr`` name in a module
that is not a config module. A key that nothing reads would be accepted and then silently ignored.

This is a static check by name: a field whose name is read elsewhere for another object passes
too. The conditional case (a learning rate that no parameter group of *this* run reads) is
``tests/test_vocabulary.py``'s.
"""

from __future__ import annotations

import ast
import dataclasses
from functools import lru_cache
from pathlib import Path

import pytest

from neuralgraph.config.base import RunConfig, TrainingBase
from neuralgraph.family import family_packages, family_schemas
from neuralgraph.sources import source_schemas

PACKAGE = Path(__file__).resolve().parent.parent / "neuralgraph"


def is_config_module(path: Path) -> bool:
    return path.name == "config.py" or path.parent.name == "config"


@lru_cache(maxsize=None)
def names_read() -> frozenset[str]:
    """Attribute names and non-docstring string constants of every non-config module."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if is_config_module(path):
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                found.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                found.add(node.value)
    return frozenset(found)


def schemas() -> dict[str, type]:
    out = {"run": RunConfig, "training (shared)": TrainingBase}
    out.update({f"data={name}": schema for name, schema in source_schemas().items()})
    for family in family_packages():
        out.update({f"{family}.{block}": schema for block, schema in family_schemas(family).items()})
    return out


@pytest.mark.parametrize("where", sorted(schemas()))
def test_every_key_of_the_schema_is_read(where):
    schema = schemas()[where]
    unread = [f.name for f in dataclasses.fields(schema) if f.name not in names_read()]
    assert not unread, f"{where}: keys nothing reads: {', '.join(unread)}"


def test_the_check_finds_an_unread_key():
    @dataclasses.dataclass
    class WithADeadKey:
        batch_size: int = 8
        coeff_nothing_reads_this: float = 0.0

    assert [f.name for f in dataclasses.fields(WithADeadKey) if f.name not in names_read()] == [
        "coeff_nothing_reads_this"]
