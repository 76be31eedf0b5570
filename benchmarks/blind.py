"""The blind protocol: each simulation seed draws its own ground truth from ranges wider than any
default, and the learner sees only what an instrument records.

Per (regime, simulation seed) the overrides of a blind run are, in this order:

1. the **observation** — every sample with Gaussian noise of 1 % of its node's spread, the
   derivative estimated by a cross-validated smoothing spline (:mod:`neuralgraph.sources.simulated.observe`);
2. the regime's **data recipe** for observed data (``benchmarks/blind_recipes.yaml``): what an
   experimenter would change once derivatives are estimated (trials from fresh states instead of
   process noise, more frames), chosen by the known-law oracle alone on tuning seeds
   (``benchmarks/observed_oracle.py``, ``benchmarks/results/observed_recipes/``);
3. the **truth draw** of the regime's family (:data:`DRAWS`), from a random stream of the
   simulation seed alone, so a seed names one draw whatever runs beside it:

   - metabolism: the centre of the log10 k range uniform in [−3, −0.5] (its width kept);
   - signal: the coupling gain g and the weight scale (the activation amplitude A of PDE_N11)
     each multiplied by 2^u, u ~ U[−1, 1] (2× either way; PDE_N2 has no separate weight scale,
     so only g moves there);
   - flyvis: the τ range multiplied by 2^u, u ~ U[−½, ½] (τ_min stays above Δt), and the mean
     V_rest shifted by U[−0.25, 0.25].

A draw is judged on its own: the learned score within :data:`ORACLE_GAP` of the oracle on the same
observations, at least :data:`CLEAR_BAR` wherever that oracle reaches :data:`CLEAR_ORACLE`, and
above the graph-only baseline where the family reports one (``baseline_<metric>``: the same
read-out from the given graph alone): a read-out that the graph gives without learning recovers
nothing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from neuralgraph import launch

RECIPES_FILE = Path(__file__).resolve().parent / "blind_recipes.yaml"
#: The truth draws use their own stream of the simulation seed.
DRAW_STREAM = 0xB11D
#: The learner may trail the oracle on the same observations by at most this much.
ORACLE_GAP = 0.03
#: Wherever the oracle reaches CLEAR_ORACLE, the learner must reach CLEAR_BAR.
CLEAR_ORACLE, CLEAR_BAR = 0.98, 0.95


def _metabolism(sim: Any, rng: np.random.Generator) -> list[str]:
    half = (float(sim.log_k_max) - float(sim.log_k_min)) / 2
    centre = rng.uniform(-3.0, -0.5)
    return [f"simulation.log_k_min={centre - half:.4f}", f"simulation.log_k_max={centre + half:.4f}"]


def _signal(sim: Any, rng: np.random.Generator) -> list[str]:
    gain, weight = 2.0 ** rng.uniform(-1.0, 1.0, size=2)
    params = [[float(v) for v in row] for row in sim.params]
    for row in params:
        row[2 if str(sim.signal_model_name.value) == "PDE_N4" else 0] *= gain  # column g
    out = ["simulation.params=[" + ",".join("[" + ",".join(f"{v:.4f}" for v in row) + "]" for row in params) + "]"]
    if str(sim.signal_model_name.value) == "PDE_N11":
        amplitude = [float(a) * weight for a in sim.activation_amplitude]
        out.append("simulation.activation_amplitude=[" + ",".join(f"{a:.4f}" for a in amplitude) + "]")
    return out


def _flyvis(sim: Any, rng: np.random.Generator) -> list[str]:
    scale = 2.0 ** rng.uniform(-0.5, 0.5)
    shift = rng.uniform(-0.25, 0.25)
    return [f"simulation.tau_min={float(sim.tau_min) * scale:.4f}", f"simulation.tau_max={float(sim.tau_max) * scale:.4f}",
            f"simulation.v_rest_mean={float(sim.v_rest_mean) + shift:.4f}"]


#: Per family, the truth draw: (the regime's simulation block, a seeded stream) -> overrides.
DRAWS: dict[str, Callable[[Any, np.random.Generator], list[str]]] = {
    "metabolism": _metabolism, "signal": _signal, "flyvis": _flyvis,
}


def read_recipes(path: Path = RECIPES_FILE) -> dict[str, Any]:
    """``{"observation": [...], "recipes": {regime: [...]}}`` of the recipes file."""
    data = yaml.safe_load(path.read_text()) or {}
    return {"observation": list(data.get("observation") or []), "recipes": dict(data.get("recipes") or {})}


@lru_cache(maxsize=None)
def _simulation(regime: str) -> Any:
    """The regime's simulation block as composed (its defaults are what a draw scales)."""
    return launch.compose_regime(regime).simulation


def truth_draw(regime: str, sim_seed: int) -> list[str]:
    """The overrides that draw ``regime``'s ground truth for ``sim_seed``."""
    sim = _simulation(regime)
    family = str(sim.family)
    if family not in DRAWS:
        raise KeyError(f"no blind truth draw for family {family!r} (regime {regime}): add one to benchmarks/blind.py")
    return DRAWS[family](sim, np.random.default_rng((sim_seed, DRAW_STREAM)))


def overrides(regime: str, sim_seed: int, recipes: dict[str, Any] | None = None) -> list[str]:
    """Every override of a blind run: observation, the regime's data recipe, the truth draw."""
    recipes = recipes if recipes is not None else read_recipes()
    return [*recipes["observation"], *(recipes["recipes"].get(regime) or []), *truth_draw(regime, sim_seed)]


def verdict(learned: float, oracle: float, baseline: float = float("nan")) -> bool:
    """Whether one draw meets the blind bar (a missing oracle fails it: nothing to compare with)."""
    if not (np.isfinite(learned) and np.isfinite(oracle)):
        return False
    if np.isfinite(baseline) and learned <= baseline:
        return False
    return learned >= oracle - ORACLE_GAP and (oracle < CLEAR_ORACLE or learned >= CLEAR_BAR)
