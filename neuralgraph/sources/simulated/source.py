"""``data=simulated``: the family's simulator, run once per simulation config (:mod:`neuralgraph.datacache`),
observed as ``cfg.data`` says (:mod:`.observe`)."""

from __future__ import annotations

from typing import Any

from neuralgraph.datacache import load_or_simulate
from neuralgraph.errors import ConfigError
from neuralgraph.family import Family
from neuralgraph.sources import DataSource, Dataset
from neuralgraph.sources.simulated.config import ObservedDerivative
from neuralgraph.sources.simulated.observe import observe


class SimulatedSource(DataSource):
    """Simulates ``cfg.simulation`` with the family's simulator, or loads the cached arrays."""

    name = "simulated"

    def check(self, cfg: Any, family: Family) -> None:
        if cfg.data.derivative == ObservedDerivative.exact:
            return
        if family.observed is None:
            raise ConfigError(f"data.derivative={cfg.data.derivative.value}: simulation.family={family.name} does "
                              "not say which of its arrays an instrument records; use data.derivative=exact")
        # The older simulator-side noise (forward differences of noisy states) would be observed twice.
        if getattr(cfg.simulation, "measurement_noise_level", 0.0) > 0:
            raise ConfigError(f"simulation.measurement_noise_level={cfg.simulation.measurement_noise_level} and "
                              f"data.derivative={cfg.data.derivative.value} both add measurement noise: set "
                              "simulation.measurement_noise_level=0 and use data.measurement_noise")

    def load(self, cfg: Any, family: Family) -> Dataset:
        arrays, location, cached = load_or_simulate(cfg.cache_dir, family.name, cfg.simulation, family.simulate)
        how = "cached" if cached else "simulated"
        if cfg.data.derivative != ObservedDerivative.exact:
            arrays = observe(arrays, family.observed, cfg.data, float(cfg.simulation.delta_t), int(cfg.simulation.seed))
            how += f", observed: {cfg.data.derivative.value} derivative, noise {cfg.data.measurement_noise:g}"
        return Dataset(arrays=arrays, has_truth=True, location=location, how=how)


SOURCE = SimulatedSource()
