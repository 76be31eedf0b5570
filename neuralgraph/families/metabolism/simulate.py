r"""Metabolic network on a bipartite metabolite–reaction graph.

    dc_i/dt = −λ_{t(i)} (c_i − c_base,t(i)) + Σ_j S_ij v_j(c)

with S the stoichiometric matrix (metabolites × reactions), t(i) the metabolite's type
(contiguous blocks) and v_j the rate of reaction j:

- mass action:  v_j = k_j Π_{i ∈ sub(j)} c_i^{|s_ij|}
- MLP rate law: v_j = k_j · softplus(g·ρ(Σ_{i ∈ sub(j)} σ(c_i/c_s, |s_ij|))) with fixed random MLPs σ, ρ,
  gain g = ``rate_mlp_gain`` and input scale c_s = ``rate_mlp_input_scale`` (1 and 5 by default: the
  original law, whose rates barely change with c over the usual range; the S-learning regime
  raises both sensitivities so that the rates carry information about S)

log10 k_j ~ U[log_k_min, log_k_max]. Integration is explicit Euler (:mod:`neuralgraph.integrate`,
``substeps`` per stored frame at least, doubled until the drawn rates are integrated stably: no
non-finite state and, under mass action, no substep that overshoots a concentration below zero;
the number used is stored as ``substeps`` and every later integration of the dataset uses it),
state clamped at 0; the stored target is the exact dc/dt at each stored state (before process
noise). With measurement noise the observed c is noisy and the
target becomes its forward finite difference, as an experimentalist would have to compute it.

Two constructors for S:

- ``cycles``: autocatalytic cycles over L metabolites (m_0 … m_{L−1}); reaction r of a cycle is
  food + catalyst → 2 catalyst with food m_r, catalyst m_{r+1 mod L}: both are substrates with
  |s| = 1 and the net column is −1 (food), +1 (catalyst). Cycles use unused metabolites first,
  then random ones. ``n_reactions mod L`` reactions are left without edges, as in the reference
  regimes (256 reactions in 3-cycles leave one): their k cannot be recovered and the evaluator
  flags them.
- ``random``: each reaction takes 1–3 substrates with coefficients in {1, 2} and 1–3 products
  (at most ``max_metabolites_per_reaction`` metabolites in all) that share the consumed mass as
  evenly as integers allow, so every column sums to zero (mass conservation). With
  ``distinct_substrates`` no two reactions share the same substrates and orders: two such
  reactions have proportional rates, so only a k-weighted sum of their columns of S could ever be
  recovered from the dynamics.
- ``file``: an integer matrix (n_metabolites × n_reactions) read from ``stoichiometry_file``
  (.npy, or .pt holding a tensor or a dict with key ``S``); the substrates of a reaction are its
  negative entries, with |S_ij| as the order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from neuralgraph.errors import ConfigError, DataError
from neuralgraph.families.metabolism.config import MetabolismSimulation, RateLaw, Stoichiometry
from neuralgraph.integrate import trajectory
from neuralgraph.metrics.activity import effective_rank
from neuralgraph.metrics.identifiability import null_space_weight
from neuralgraph.node_types import contiguous_types


@dataclass
class Network:
    """The stoichiometry as a dense matrix and as bipartite edge lists."""

    S: np.ndarray  # (n_met, n_rxn) signed net coefficients
    sub_met: np.ndarray  # substrate edges: metabolite index
    sub_rxn: np.ndarray  # substrate edges: reaction index
    sub_s: np.ndarray  # substrate edges: |coefficient| (reaction order)

    @property
    def all_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every non-zero entry of S: (metabolite, reaction, signed coefficient)."""
        met, rxn = np.nonzero(self.S)
        return met, rxn, self.S[met, rxn]


def cycle_network(n_met: int, n_rxn: int, cycle_length: int, rng: np.random.Generator) -> Network:
    """Autocatalytic cycles food + catalyst → 2 catalyst (see module docstring); 2 ≤ L ≤ n_met."""
    S = np.zeros((n_met, n_rxn))
    sub_met, sub_rxn = [], []
    unused = list(rng.permutation(n_met))
    for c in range(n_rxn // cycle_length):
        if len(unused) >= cycle_length:
            members = [unused.pop() for _ in range(cycle_length)]
        else:
            members = list(rng.choice(n_met, size=cycle_length, replace=False))
        for r in range(cycle_length):
            j = c * cycle_length + r
            food, cat = members[r], members[(r + 1) % cycle_length]
            S[food, j] -= 1.0
            S[cat, j] += 1.0
            sub_met += [food, cat]
            sub_rxn += [j, j]
    sub_met_a = np.asarray(sub_met, dtype=np.int64)
    return Network(S, sub_met_a, np.asarray(sub_rxn, dtype=np.int64), np.ones(len(sub_met_a)))


def random_network(
    n_met: int, n_rxn: int, max_per_reaction: int, rng: np.random.Generator, distinct_substrates: bool = False,
) -> Network:
    """Random mass-conserving reactions (see module docstring); 2 ≤ max_per_reaction ≤ n_met."""
    S = np.zeros((n_met, n_rxn))
    sub_met, sub_rxn, sub_s = [], [], []
    seen: set[tuple] = set()
    for j in range(n_rxn):
        for _attempt in range(1000):
            n_sub = int(rng.integers(1, min(3, max_per_reaction - 1) + 1))
            n_prod = int(rng.integers(1, min(3, max_per_reaction - n_sub) + 1))
            members = rng.choice(n_met, size=n_sub + n_prod, replace=False)
            subs, prods = members[:n_sub], members[n_sub:]
            coeff = rng.integers(1, 3, size=n_sub)
            key = tuple(sorted(zip(subs.tolist(), coeff.tolist())))
            if not distinct_substrates or key not in seen:
                break
        else:
            raise ConfigError(
                f"simulation.distinct_substrates: could not find {n_rxn} reactions with distinct substrates "
                f"among {n_met} metabolites; lower n_reactions or turn distinct_substrates off"
            )
        seen.add(key)
        S[subs, j] = -coeff
        mass = int(coeff.sum())
        share = np.full(n_prod, mass // n_prod)
        share[: mass % n_prod] += 1
        S[prods, j] = rng.permutation(share)
        sub_met += list(subs)
        sub_rxn += [j] * n_sub
        sub_s += list(coeff)
    return Network(
        S, np.asarray(sub_met, dtype=np.int64), np.asarray(sub_rxn, dtype=np.int64),
        np.asarray(sub_s, dtype=np.float64),
    )


class RateMLP:
    """Fixed random rate law v = k·softplus(g·ρ(Σ_sub σ(c/c_s, |s|))) (never trained; the truth)."""

    def __init__(self, hidden: int, rng: np.random.Generator, gain: float = 1.0, input_scale: float = 5.0) -> None:
        self.w1 = rng.normal(0, 1.0, size=(2, hidden))
        self.b1 = rng.normal(0, 0.5, size=hidden)
        self.w2 = rng.normal(0, 1.0 / np.sqrt(hidden), size=(hidden, hidden))
        self.b2 = rng.normal(0, 0.1, size=hidden)
        self.w3 = rng.normal(0, 1.0 / np.sqrt(hidden), size=(hidden, 1))
        self.gain = np.float64(gain)
        self.input_scale = np.float64(input_scale)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "RateMLP":
        """Rebuild the truth's rate law from a dataset's saved ``rate_mlp_*`` arrays."""
        mlp = cls.__new__(cls)
        for name in ("w1", "b1", "w2", "b2", "w3"):
            setattr(mlp, name, np.asarray(arrays[f"rate_mlp_{name}"], dtype=np.float64))
        # Datasets written before gain/input_scale existed used 1 and 5.
        mlp.gain = np.float64(arrays.get("rate_mlp_gain", 1.0))
        mlp.input_scale = np.float64(arrays.get("rate_mlp_input_scale", 5.0))
        return mlp

    def params(self) -> dict[str, np.ndarray]:
        return {f"rate_mlp_{k}": v for k, v in vars(self).items()}

    def __call__(self, c_sub: np.ndarray, s: np.ndarray, sub_rxn: np.ndarray, n_rxn: int) -> np.ndarray:
        """Reaction drive per run: c_sub (runs, E) substrate concentrations → (runs, R)."""
        inp = np.stack([c_sub / self.input_scale, np.broadcast_to(s, c_sub.shape)], axis=-1)
        msg = np.tanh(inp @ self.w1 + self.b1)  # (runs, E, H)
        h = np.zeros(c_sub.shape[:1] + (n_rxn, msg.shape[-1]))
        np.add.at(h, (slice(None), sub_rxn), msg)
        drive = (np.tanh(h @ self.w2 + self.b2) @ self.w3)[..., 0]
        return np.logaddexp(0.0, self.gain * drive)


def load_stoichiometry(path: str | Path, n_met: int, n_rxn: int) -> np.ndarray:
    """An integer S (n_met × n_rxn) from a .npy or .pt file; DataError naming the file otherwise."""
    key = "simulation.stoichiometry_file"
    path = Path(path)
    if not path.exists():
        raise DataError(f"{key}={str(path)!r} does not exist")
    try:
        if path.suffix == ".npy":
            S = np.load(path, allow_pickle=False)
        elif path.suffix == ".pt":
            import torch

            obj = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(obj, dict):
                if "S" not in obj:
                    raise DataError(f"{key}={str(path)!r}: a .pt dict must hold the matrix under key 'S' (keys: {sorted(obj)})")
                obj = obj["S"]
            S = obj.numpy() if hasattr(obj, "numpy") else np.asarray(obj)
        else:
            raise DataError(f"{key}={str(path)!r}: use a .npy or .pt file")
    except DataError:
        raise
    except Exception as err:  # unreadable file of the right suffix
        raise DataError(f"{key}={str(path)!r} cannot be read: {err}") from err
    S = np.asarray(S, dtype=np.float64)
    if S.shape != (n_met, n_rxn):
        raise DataError(
            f"{key}={str(path)!r}: S has shape {S.shape}, expected (n_metabolites, n_reactions) = "
            f"({n_met}, {n_rxn}); set simulation.n_metabolites / n_reactions to match the file"
        )
    if not np.isfinite(S).all():
        raise DataError(f"{key}={str(path)!r}: S holds {int((~np.isfinite(S)).sum())} NaN/inf entries")
    frac = np.abs(S - np.round(S))
    if frac.max() > 1e-6:
        i, j = np.unravel_index(int(np.argmax(frac)), S.shape)
        raise DataError(
            f"{key}={str(path)!r}: stoichiometric coefficients must be integers; S[{i}, {j}] = {S[i, j]:g} "
            f"({int((frac > 1e-6).sum())} non-integer entries)"
        )
    return np.round(S)


def file_network(S: np.ndarray) -> Network:
    """Substrates are the negative entries, with |S_ij| as the reaction order."""
    met, rxn = np.nonzero(S < 0)
    order = np.lexsort((met, rxn))  # grouped by reaction, like the constructors
    met, rxn = met[order].astype(np.int64), rxn[order].astype(np.int64)
    return Network(S.astype(np.float64), met, rxn, -S[met, rxn].astype(np.float64))


def derivative(
    c: np.ndarray, net: Network, k: np.ndarray, lam: np.ndarray, base: np.ndarray,
    rate_mlp: RateMLP | None, flux_limit_dt: float | None,
) -> np.ndarray:
    """dc/dt for a stack of states c (runs, N) — the right-hand side of the module's ODE."""
    n_rxn = net.S.shape[1]
    c_sub = c[:, net.sub_met]
    if rate_mlp is None:
        log_term = net.sub_s * np.log(np.maximum(c_sub, 1e-300))
        log_v = np.zeros((c.shape[0], n_rxn))
        np.add.at(log_v, (slice(None), net.sub_rxn), log_term)
        v = k * np.exp(log_v)
    else:
        v = k * rate_mlp(c_sub, net.sub_s, net.sub_rxn, n_rxn)
    has_sub = np.bincount(net.sub_rxn, minlength=n_rxn) > 0
    v = v * has_sub  # a reaction with no substrate edge has no rate (the empty leftover reactions)
    if flux_limit_dt is not None:
        # Scale each reaction so that no substrate is consumed below zero within one step.
        consumption = np.zeros_like(c)
        np.add.at(consumption, (slice(None), net.sub_met), net.sub_s * v[:, net.sub_rxn] * flux_limit_dt)
        scale_met = np.where(consumption > c, c / np.maximum(consumption, 1e-300), 1.0)
        scale_rxn = np.ones_like(v)
        np.minimum.at(scale_rxn, (slice(None), net.sub_rxn), scale_met[:, net.sub_met])
        v = v * scale_rxn
    return v @ net.S.T - lam * (c - base)


@dataclass
class TrueSystem:
    """The module's ODE with the truth's parameters: ``system(c, t)`` is dc/dt for states c (runs, N).

    ``lam`` and ``base`` are per metabolite; ``flux_limit_dt`` is the Euler step when the flux
    limiter is on (see :func:`derivative`).
    """

    net: Network
    k: np.ndarray
    lam: np.ndarray
    base: np.ndarray
    rate_mlp: RateMLP | None = None
    flux_limit_dt: float | None = None

    def __call__(self, c: np.ndarray, t: int = 0) -> np.ndarray:
        return derivative(c, self.net, self.k, self.lam, self.base, self.rate_mlp, self.flux_limit_dt)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], flux_limit_dt: float | None = None) -> "TrueSystem":
        """The truth of a saved dataset (the arrays :func:`simulate` returns)."""
        net = Network(arrays["S"].astype(np.float64), arrays["sub_met"], arrays["sub_rxn"],
                      arrays["sub_s"].astype(np.float64))
        types = arrays["types"]
        rate_mlp = RateMLP.from_arrays(arrays) if "rate_mlp_w1" in arrays else None
        return cls(net, 10.0 ** arrays["log_k"], arrays["homeostatic_lambda"][types],
                   arrays["homeostatic_baseline"][types], rate_mlp, flux_limit_dt)


def nonnegative(c: np.ndarray) -> np.ndarray:
    """The Euler projection of every metabolism integration: concentrations stay >= 0."""
    return np.maximum(c, 0.0)


def design_gram(x: np.ndarray, net: Network, types: np.ndarray, n_types: int) -> np.ndarray:
    """AᵀA of the mass-action design matrix (parameters: k_j, λ_t, λ_t·c_base,t), in float64.

    dc_i/dt = Σ_j S_ij k_j Π c^{|s|} − λ_t c_i + (λ_t c_base,t): linear in those parameters.
    """
    n_rxn = net.S.shape[1]
    gram = np.zeros((n_rxn + 2 * n_types,) * 2)
    onehot = np.eye(n_types)[types]  # (N, T)
    for chunk in np.array_split(x, max(1, x.shape[0] // 256)):
        log_term = net.sub_s * np.log(np.maximum(chunk[:, net.sub_met], 1e-300))
        log_m = np.zeros((chunk.shape[0], n_rxn))
        np.add.at(log_m, (slice(None), net.sub_rxn), log_term)
        m = np.exp(log_m)  # (F, R) mass-action monomials
        # Columns for frame f, metabolite i: [S_ij m_fj]_j, [−c_fi δ_t]_t, [δ_t]_t.
        cols_k = m[:, None, :] * net.S[None, :, :]  # (F, N, R)
        cols_lam = -chunk[:, :, None] * onehot[None]  # (F, N, T)
        cols_off = np.broadcast_to(onehot[None], cols_lam.shape)
        a = np.concatenate([cols_k, cols_lam, cols_off], axis=2).reshape(-1, gram.shape[0])
        gram += a.T @ a
    return gram


def network(sim: MetabolismSimulation, rng: np.random.Generator) -> Network:
    """The ground-truth S of the configured constructor."""
    n_met, n_rxn = sim.n_metabolites, sim.n_reactions
    if sim.stoichiometry == Stoichiometry.cycles:
        return cycle_network(n_met, n_rxn, sim.cycle_length, rng)
    if sim.stoichiometry == Stoichiometry.file:
        return file_network(load_stoichiometry(sim.stoichiometry_file, n_met, n_rxn))
    return random_network(n_met, n_rxn, sim.max_metabolites_per_reaction, rng, sim.distinct_substrates)


#: The simulator refines its Euler step (doubling the substeps) at most up to this many substeps.
MAX_SUBSTEPS = 1024
#: Mass action: a substep that would take a concentration below −CLAMP_TOLERANCE × (mean initial
#: concentration) before the clamp at 0 overshot: mass action cannot empty a metabolite in finite
#: time, so the step is too large for the drawn rates.
CLAMP_TOLERANCE = 1e-3


class StepTooLarge(Exception):
    """One Euler integration with a given number of substeps overshot or blew up (internal)."""

    def __init__(self, frame: int, reason: str) -> None:
        super().__init__(f"{reason} at frame {frame}")
        self.frame, self.reason = frame, reason


def integrate(
    system: TrueSystem, c0: np.ndarray, sim: MetabolismSimulation, rng: np.random.Generator,
    substeps: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """States and exact derivatives (runs, n_frames + 1, N) of Euler runs from c0 (runs, N).

    ``substeps`` Euler steps per frame (``sim.substeps`` when None). Process noise is added after
    each frame (then clamped at 0). A non-finite state, or (mass action) a substep that takes a
    concentration below −CLAMP_TOLERANCE × mean(c0) before the clamp at 0, raises
    :class:`StepTooLarge` (:func:`integrate_refined` then takes more substeps).
    """
    substeps = sim.substeps if substeps is None else substeps
    # Only mass action empties a substrate at a vanishing rate; an MLP law consumes at c = 0 too,
    # so there the clamp is part of the law, not a sign of a large step.
    floor = -CLAMP_TOLERANCE * float(np.mean(c0)) if sim.rate_law == RateLaw.mass_action else -np.inf
    frame = [0]

    def project(c: np.ndarray) -> np.ndarray:
        if c.min() < floor:  # NaN compares False: caught after the frame
            raise StepTooLarge(frame[0], "a concentration overshot below zero")
        return nonnegative(c)

    def after_frame(c: np.ndarray, t: int) -> np.ndarray:
        if sim.noise_model_level > 0:
            c = nonnegative(c + sim.noise_model_level * rng.standard_normal(c.shape))
        if not np.isfinite(c).all():
            raise StepTooLarge(t, "the state became non-finite")
        frame[0] = t + 1
        return c

    with np.errstate(over="ignore", invalid="ignore"):
        states, derivatives, _ = trajectory(
            system, c0, sim.n_frames + 1, float(sim.delta_t), derivatives=True, substeps=substeps,
            project=project, after_frame=after_frame,
        )
    # trajectory stacks frames first; the dataset stores runs first
    return np.ascontiguousarray(states.swapaxes(0, 1)), np.ascontiguousarray(derivatives.swapaxes(0, 1))


def integrate_refined(
    system: TrueSystem, c0: np.ndarray, sim: MetabolismSimulation, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`integrate` with as many substeps as the drawn rates need: ``sim.substeps`` first (the
    minimum), doubled until a run is finite and no substep overshoots below zero, up to
    ``max(MAX_SUBSTEPS, sim.substeps)``. Returns (states, derivatives, substeps used).

    Each attempt restarts from the same random state, so the process noise (and everything drawn
    after it) is the same stream whatever the number of substeps; where ``sim.substeps`` suffices
    the result is exactly that of one integration with it. With the flux limiter the system's
    step is rebuilt for each attempt.
    """
    start = rng.bit_generator.state
    substeps = sim.substeps
    cap = max(MAX_SUBSTEPS, sim.substeps)
    while True:
        rng.bit_generator.state = start
        if system.flux_limit_dt is not None:
            system.flux_limit_dt = float(sim.delta_t) / substeps
        try:
            x, y = integrate(system, c0, sim, rng, substeps)
            return x, y, substeps
        except StepTooLarge as err:
            if substeps * 2 > cap:
                raise ConfigError(
                    f"the simulation blew up even with {substeps} Euler substeps per frame ({err.reason} at "
                    f"frame {err.frame}; the refinement stops at {cap}): set simulation.substeps above {substeps}, "
                    "lower simulation.delta_t or the rate constants (simulation.log_k_max), or turn on "
                    "simulation.flux_limit"
                ) from None
            substeps *= 2


def training_frames(arrays: Mapping[str, np.ndarray], key: str = "x") -> np.ndarray:
    """The frames of every training run (trial) pooled: (n_trials · (n_frames + 1), N)."""
    runs = arrays[key][: n_trials(arrays)]
    return runs.reshape(-1, runs.shape[-1])


def substeps_used(arrays: Mapping[str, np.ndarray], sim: MetabolismSimulation) -> int:
    """Euler substeps per frame the dataset was simulated with: the stored ``substeps`` (the
    simulator refines ``simulation.substeps`` where the rates need it), else the config's value
    (datasets written before the refinement existed)."""
    return int(arrays["substeps"]) if "substeps" in arrays else int(sim.substeps)


def n_trials(arrays: Mapping[str, np.ndarray]) -> int:
    """Training runs in a dataset (1 in datasets written before trials existed)."""
    return int(arrays.get("n_trials", 1))


def simulate(sim: MetabolismSimulation) -> dict[str, np.ndarray]:
    """Simulate ``n_trials + n_test_runs`` runs of the network; the first ``n_trials`` are for training."""
    rng = np.random.default_rng(sim.seed)
    net = network(sim, rng)
    log_k = rng.uniform(sim.log_k_min, sim.log_k_max, size=sim.n_reactions)
    types = contiguous_types(sim.n_metabolites, sim.n_metabolite_types)
    lam_t = np.asarray(sim.homeostatic_lambda, dtype=np.float64)
    base_t = np.asarray(sim.homeostatic_baseline, dtype=np.float64)
    rate_mlp = None
    if sim.rate_law == RateLaw.mlp:
        rate_mlp = RateMLP(sim.rate_mlp_hidden, rng, float(sim.rate_mlp_gain), float(sim.rate_mlp_input_scale))
    flux_dt = float(sim.delta_t) / sim.substeps if sim.flux_limit else None
    system = TrueSystem(net, 10.0**log_k, lam_t[types], base_t[types], rate_mlp, flux_dt)

    n_runs = sim.n_trials + sim.n_test_runs
    c0 = rng.uniform(sim.concentration_min, sim.concentration_max, size=(n_runs, sim.n_metabolites))
    x, y, n_sub = integrate_refined(system, c0, sim, rng)
    x_clean = x.copy()
    if sim.measurement_noise_level > 0:
        x = nonnegative(x + sim.measurement_noise_level * rng.standard_normal(x.shape))
        y[:, :-1] = np.diff(x, axis=1) / float(sim.delta_t)
        y[:, -1] = y[:, -2]

    met_all, rxn_all, s_all = net.all_edges
    train_x = x[: sim.n_trials].reshape(-1, sim.n_metabolites)
    out = {
        "x": x.astype(np.float32),
        "y": y.astype(np.float32),
        "x_clean": x_clean.astype(np.float32),
        "S": net.S.astype(np.float32),
        "sub_met": net.sub_met,
        "sub_rxn": net.sub_rxn,
        "sub_s": net.sub_s.astype(np.float32),
        "all_met": met_all.astype(np.int64),
        "all_rxn": rxn_all.astype(np.int64),
        "all_s": s_all.astype(np.float32),
        "log_k": log_k.astype(np.float64),
        "types": types,
        "homeostatic_lambda": lam_t,
        "homeostatic_baseline": base_t,
        "delta_t": np.float64(sim.delta_t),
        "substeps": np.int64(n_sub),
        "n_trials": np.int64(sim.n_trials),
        "activity_rank_90": np.int64(effective_rank(train_x, 0.90)),
        "activity_rank_99": np.int64(effective_rank(train_x, 0.99)),
    }
    if rate_mlp is None:
        # Null-space weight of each k_j (and λ terms) in the training runs' design matrix.
        clean = x_clean[: sim.n_trials].reshape(-1, sim.n_metabolites)
        out["null_weight"] = null_space_weight(design_gram(clean, net, types, sim.n_metabolite_types))
    else:
        out.update(rate_mlp.params())
    return out
