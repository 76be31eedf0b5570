"""``data=simulated``: the family's simulator, run once per simulation config (:mod:`neuralgraph.datacache`)."""

from __future__ import annotations

from typing import Any

from neuralgraph.datacache import load_or_simulate
from neuralgraph.family import Family
from neuralgraph.sources import DataSource, Dataset


class SimulatedSource(DataSource):
    """Simulates ``cfg.simulation`` with the family's simulator, or loads the cached arrays."""

    name = "simulated"

    def load(self, cfg: Any, family: Family) -> Dataset:
        arrays, location, cached = load_or_simulate(cfg.cache_dir, family.name, cfg.simulation, family.simulate)
        return Dataset(arrays=arrays, has_truth=True, location=location, how="cached" if cached else "simulated")


SOURCE = SimulatedSource()
