"""Data sources: where the arrays a run fits come from, and whether they carry a truth.

A source is chosen by the run's ``data`` block (``data=simulated``, the default, or
``data=recording data.path=FILE``) and yields a :class:`Dataset`. Nothing above the sources asks
which one ran: the learner builds from ``Dataset.arrays``, and the scorer is picked by
``Dataset.has_truth`` (:func:`neuralgraph.family.scorer_for`).

A source is one package, found without a list to edit (:mod:`neuralgraph.discovery`): every
sub-package of this one, the ``neuralgraph.sources`` entry-point group, and the packages named in
``NEURALGRAPH_SOURCES``. It holds ``config.py`` with ``SCHEMA``, the dataclass of its ``data`` block
(registered as the option ``data=<name>``), and ``source.py`` with ``SOURCE``, the
:class:`DataSource` instance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from neuralgraph.discovery import PluginKind
from neuralgraph.errors import ConfigError
from neuralgraph.family import Family

#: Where sources are found (built in, entry points, environment variable).
SOURCES = PluginKind(builtin="neuralgraph.sources", env_var="NEURALGRAPH_SOURCES", what="data")


@dataclass
class Dataset:
    """What a source yields: the arrays, and what a reader may trust about them."""

    arrays: dict[str, np.ndarray]  # observations, what is known (graph, stimulus), and the truth if any
    has_truth: bool  # the arrays hold the ground truth the family's scorer compares with
    location: Path  # the cache folder or the file the arrays came from
    how: str  # for the log: simulated | cached | read (and how simulated data were observed)


class DataSource(ABC):
    """Yields the dataset a run fits (``load``); refuses settings it cannot serve (``check``)."""

    #: The option name in the ``data`` group (``data=<name>``).
    name: str = ""

    def check(self, cfg: Any, family: Family) -> None:
        """Raise :class:`ConfigError` naming the keys when ``cfg`` cannot be served by this source."""

    @abstractmethod
    def load(self, cfg: Any, family: Family) -> Dataset:
        """The arrays of this run (``cfg`` is the typed run config; ``cfg.data`` this source's block)."""


def source_packages() -> dict[str, str]:
    """``{source name: package}`` of every source found."""
    return SOURCES.packages()


def source_schemas() -> dict[str, type]:
    """``{source name: the dataclass of its data block}``."""
    return {name: SOURCES.module(package, "config").SCHEMA for name, package in source_packages().items()}


@lru_cache(maxsize=None)
def _source(package: str) -> DataSource:
    return SOURCES.member(package, "source", "SOURCE", DataSource)


def source_for(data: Any) -> DataSource:
    """The source whose schema ``data`` (a typed ``data`` block) is an instance of."""
    for name, schema in source_schemas().items():
        if type(data) is schema:
            return _source(source_packages()[name])
    raise ConfigError(f"data block of type {type(data).__name__} belongs to no data source; use data=NAME, one "
                      f"of: {', '.join(sorted(source_packages()))}")
