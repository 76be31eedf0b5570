r"""Neural signal networks on a graph (the reference's PDE_N2, PDE_N4 and PDE_N11).

Neuron i has activity u_i and a type t(i); per-type parameter rows (``simulation.params``) give
each neuron its constants. W is indexed W[post, pre]: W_ij is the weight from j onto i.

- **PDE_N2**, rows [g, s, c]:
  du_i/dt = −c_i u_i + s_i tanh(u_i) + g_i Σ_j W_ij φ(u_j)  (+ e_i)
- **PDE_N4**, rows [a, b, g, s, w, h] — width and threshold belong to the *sender*:
  du_i/dt = −a_i u_i + b_i + s_i tanh(u_i) + g_i Σ_j W_ij φ((u_j − h_j)/w_j)  (+ e_i)
- **PDE_N11** (random RNN), rows [g, c], activation f, amplitude A and slope S per *receiver* type:
  du_i/dt = −c_i u_i + g_i Σ_j W_ij A_t(i) f_t(i)(u_j / S_t(i))  (+ e_i)

With ``external_input_mode: multiplicative`` the input is a gain on the summed message
(g_i M_i e_i) instead of an additive drive. φ is ``simulation.phi``.

Integration is explicit Euler (:mod:`neuralgraph.integrate`), u ← u + Δt·f(u, e) + σ·ξ with
ξ ~ N(0, I) and σ = ``noise_model_level`` (not scaled by √Δt, as in the reference). It starts at
``start_frame`` < 0 (burn-in, not stored) from u ~ N(0, initial_state_std²) and stores frames
0…n_frames. The target is the **exact** du/dt at each stored state, before noise. With
``measurement_noise_level`` > 0 the observed u is noisy and the target becomes the forward finite
difference of the noisy observations (the last frame of each trial is then dropped): what an
experimentalist would have.

Trials (``n_trials`` = K): the n_frames + 1 stored states are split into K nearly equal runs, each
from its own initial state u ~ N(0, initial_state_std²) and its own burn-in; ``trial_bounds``
(K + 1 indices) marks where each starts, and no target pairs frames of two trials. One network
started once can settle on a fixed point or a cycle that leaves part of W unseen; K starting
points excite it K times. The input keeps one clock over the trials (trial k's frames continue
the time of trial k − 1), so an input is never restarted.

Connectivity (zero diagonal for every generated type):

- ``chaotic``: W_ij ~ N(0, 1/N);
- ``low_rank``: W = U V / √(r N) with U (N×r), V (r×N) standard normal: rank r, entry variance 1/N;
- ``Cauchy`` (= ``Lorentz``): standard Cauchy samples, |s| > 25 set to 0, scaled by N^−α with
  α = 0.7 (N < 2000), 0.675 (< 4000), 0.67 (< 8000), 0.66 (= 8000), 0.5 (> 8000);
- ``file``: an N×N matrix from a ``.pt`` or ``.npy`` file (W[post, pre]), used as given;
- sparsity: off-diagonal entries are kept with probability ``connectivity_filling_factor``;
- Dale's law: W ← |W|, then presynaptic columns j ≥ int(N·Dale_law_factor) are negated
  (no E/I rebalancing, as in the reference).

External input e (frames, N):

- ``oscillatory``: e_i(t) = A_i cos(2π f t), A_i ~ U(−A, A), t = frame·Δt;
- ``visual``: a generated stack of ``n_images`` images (drifting gratings plus moving Gaussian
  blobs, values in [0.5, 1.5]), each held for ≈ n_frames/n_images frames, flattened onto the first
  ``n_input_neurons`` neurons. Other neurons, and every neuron during burn-in, get the neutral
  value (0 additive, 1 multiplicative).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuralgraph.errors import ConfigError, DataError
from neuralgraph.families.signal.config import (
    PARAM_COLUMNS, Connectivity, InputMode, InputType, SignalModelName, SignalSimulation, Transfer, per_type,
)
from neuralgraph.integrate import euler, trajectory
from neuralgraph.matrix_file import load_matrix
from neuralgraph.metrics.activity import effective_rank
from neuralgraph.node_types import contiguous_types

log = logging.getLogger(__name__)


def transfer(kind: Transfer, x: np.ndarray) -> np.ndarray:
    """φ: tanh | relu | sigmoid | identity."""
    if kind == Transfer.tanh:
        return np.tanh(x)
    if kind == Transfer.relu:
        return np.maximum(x, 0.0)
    if kind == Transfer.sigmoid:
        return 1.0 / (1.0 + np.exp(-x))
    return x


# --------------------------------------------------------------------------------------------
# Connectivity


def cauchy_exponent(n: int) -> float:
    """α of the N^−α scaling of Cauchy (Lorentz) weights, as in the reference."""
    if n < 2000:
        return 0.7
    if n < 4000:
        return 0.675
    if n < 8000:
        return 0.67
    if n == 8000:
        return 0.66
    return 0.5


def load_connectivity(path: str | Path, n: int) -> np.ndarray:
    """An N×N W[post, pre] from ``.pt`` (a tensor, or a dict holding it under ``W``) or ``.npy``."""
    W = load_matrix(path, "simulation.connectivity_file", "W")
    if W.shape[0] != W.shape[1]:
        raise DataError(f"{path}: connectivity must be square (N x N), got shape {W.shape}")
    if W.shape[0] != n:
        raise DataError(
            f"{path}: connectivity is {W.shape[0]} x {W.shape[1]} but simulation.n_neurons={n}; "
            "set n_neurons to match the file"
        )
    if np.any(np.diag(W) != 0):
        log.warning("%s: the diagonal (self-connections) is not zero; the model learns no self-connections", path)
    return W


def make_connectivity(sim: SignalSimulation, rng: np.random.Generator) -> np.ndarray:
    """The ground-truth W (N×N, float64, W[post, pre]); see the module docstring."""
    n = int(sim.n_neurons)
    kind = sim.connectivity_type
    if kind == Connectivity.file:
        return load_connectivity(sim.connectivity_file, n)
    if kind == Connectivity.chaotic:
        W = rng.standard_normal((n, n)) / np.sqrt(n)
    elif kind == Connectivity.low_rank:
        r = int(sim.connectivity_rank)
        U = rng.standard_normal((n, r))
        V = rng.standard_normal((r, n))
        W = U @ V / np.sqrt(r * n)
    else:  # Cauchy, alias Lorentz
        s = rng.standard_cauchy((n, n))
        s[np.abs(s) > 25] = 0.0
        W = s * n ** (-cauchy_exponent(n))
    np.fill_diagonal(W, 0.0)
    f = float(sim.connectivity_filling_factor)
    if f < 1.0:
        W = W * (rng.random((n, n)) < f)
    if sim.Dale_law:
        W = np.abs(W)
        W[:, int(n * float(sim.Dale_law_factor)):] *= -1.0
    return W


def spectral_radius(W: np.ndarray) -> float:
    """max |λ| over the eigenvalues of W."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(W, dtype=np.float64)))))


# --------------------------------------------------------------------------------------------
# External input


def generate_image_stack(n_images: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """(n_images, width, width) smooth moving images in [0.5, 1.5]: gratings plus Gaussian blobs.

    Generated, not downloaded: two drifting sinusoidal gratings of random orientation and three
    blobs moving along random straight lines, summed and min-max scaled to [0.5, 1.5].
    """
    y, x = np.mgrid[0:width, 0:width] / max(1, width - 1)
    t = np.linspace(0.0, 1.0, n_images)[:, None, None]
    img = np.zeros((n_images, width, width))
    for _ in range(2):
        theta = rng.uniform(0, np.pi)
        k = rng.uniform(1.0, 3.0) * 2 * np.pi
        speed = rng.uniform(2.0, 6.0) * 2 * np.pi
        img += np.sin(k * (np.cos(theta) * x + np.sin(theta) * y) - speed * t)
    for _ in range(3):
        p0, p1 = rng.uniform(0, 1, 2), rng.uniform(0, 1, 2)
        cx = p0[0] + (p1[0] - p0[0]) * t
        cy = p0[1] + (p1[1] - p0[1]) * t
        img += 2.0 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 0.15**2))
    lo, hi = img.min(), img.max()
    return 0.5 + (img - lo) / max(hi - lo, 1e-12)


def input_neutral(sim: SignalSimulation) -> float:
    """The input value that leaves the dynamics unchanged: 0 additive, 1 multiplicative."""
    return 1.0 if sim.external_input_mode == InputMode.multiplicative else 0.0


def n_input_neurons(sim: SignalSimulation) -> int:
    """Neurons driven by the visual input."""
    n = int(sim.n_input_neurons) or int(sim.image_width) ** 2
    return min(n, int(sim.n_neurons))


class InputSource:
    """e(frame) for the configured external input; ``None`` input type gives no input at all."""

    def __init__(self, sim: SignalSimulation, rng: np.random.Generator) -> None:
        self.kind = sim.external_input_type
        self.n = int(sim.n_neurons)
        self.neutral = input_neutral(sim)
        self.dt = float(sim.delta_t)
        self.n_frames = int(sim.n_frames)
        if self.kind == InputType.oscillatory:
            A = float(sim.oscillation_max_amplitude)
            self.amplitude = rng.uniform(-A, A, self.n)
            self.freq = float(sim.oscillation_frequency)
        elif self.kind == InputType.visual:
            self.images = generate_image_stack(int(sim.n_images), int(sim.image_width), rng)
            self.n_in = n_input_neurons(sim)

    @property
    def active(self) -> bool:
        return self.kind != InputType.none

    def __call__(self, frame: int) -> np.ndarray:
        e = np.full(self.n, self.neutral)
        if self.kind == InputType.oscillatory:
            e = self.amplitude * np.cos(2 * np.pi * self.freq * frame * self.dt)
            if self.neutral == 1.0:
                e = 1.0 + e
        elif self.kind == InputType.visual and frame >= 0:
            n_img = self.images.shape[0]
            k = min(n_img - 1, frame * n_img // (self.n_frames + 1))
            e[: self.n_in] = self.images[k].ravel()[: self.n_in]
        return e


# --------------------------------------------------------------------------------------------
# Dynamics


@dataclass
class SignalDynamics:
    """The right-hand side f(u, e) of one ground-truth network, vectorised over leading axes."""

    model: SignalModelName
    W: np.ndarray  # (N, N) W[post, pre]
    types: np.ndarray  # (N,)
    p: dict[str, np.ndarray]  # per-neuron constants by column name
    phi: Transfer = Transfer.tanh
    activation: tuple[Transfer, ...] = (Transfer.tanh,)  # PDE_N11, per type
    amplitude: np.ndarray | None = None  # PDE_N11, per type
    slope: np.ndarray | None = None  # PDE_N11, per type
    mode: InputMode = InputMode.additive
    has_input: bool = False

    @property
    def gain(self) -> np.ndarray:
        """g_i, the receiver gain of the message."""
        return self.p["g"]

    def psi(self, u: np.ndarray) -> np.ndarray:
        """Presynaptic transfer ψ_j(u_j) for PDE_N2/N4 (same shape as u)."""
        if self.model == SignalModelName.PDE_N4:
            return transfer(self.phi, (u - self.p["h"]) / self.p["w"])
        if self.model == SignalModelName.PDE_N11:
            # Receiver-typed; for one type this is the sender's transfer.
            t0 = 0
            return self.amplitude[t0] * transfer(self.activation[t0], u / self.slope[t0])
        return transfer(self.phi, u)

    def message(self, u: np.ndarray) -> np.ndarray:
        """M_i = Σ_j W_ij ψ(u_j) (PDE_N11: with the receiver type's activation)."""
        if self.model == SignalModelName.PDE_N11 and len(self.activation) > 1:
            out = np.zeros_like(u)
            for n, act in enumerate(self.activation):
                rows = self.types == n
                if rows.any():
                    m = (self.amplitude[n] * transfer(act, u / self.slope[n])) @ self.W.T
                    out[..., rows] = m[..., rows]
            return out
        return self.psi(u) @ self.W.T

    def own(self, u: np.ndarray) -> np.ndarray:
        """The neuron's own dynamics φ(u_i) (the update function without the message)."""
        p = self.p
        if self.model == SignalModelName.PDE_N2:
            return -p["c"] * u + p["s"] * np.tanh(u)
        if self.model == SignalModelName.PDE_N4:
            return -p["a"] * u + p["b"] + p["s"] * np.tanh(u)
        return -p["c"] * u

    def __call__(self, u: np.ndarray, e: np.ndarray | None = None) -> np.ndarray:
        drive = self.gain * self.message(u)
        if self.has_input and e is not None:
            drive = drive * e if self.mode == InputMode.multiplicative else drive + e
        return self.own(u) + drive


def neuron_types(sim: SignalSimulation, rng: np.random.Generator) -> np.ndarray:
    types = contiguous_types(int(sim.n_neurons), int(sim.n_neuron_types))
    if sim.shuffle_neuron_types:
        types = rng.permutation(types)
    return types


def build_dynamics(sim: SignalSimulation, W: np.ndarray, types: np.ndarray) -> SignalDynamics:
    """The ground-truth right-hand side for this config, W and type assignment."""
    model = sim.signal_model_name
    n_types = int(sim.n_neuron_types)
    rows = np.asarray([list(r) for r in sim.params], dtype=np.float64)
    if rows.shape[0] == 1:
        rows = np.repeat(rows, n_types, axis=0)
    per_neuron = rows[types]
    p = {name: per_neuron[:, k] for k, name in enumerate(PARAM_COLUMNS[model])}
    kw = {}
    if model == SignalModelName.PDE_N11:
        kw = {
            "activation": tuple(per_type(sim.activation, n_types, "activation")),
            "amplitude": np.asarray(per_type(sim.activation_amplitude, n_types, "activation_amplitude"), float),
            "slope": np.asarray(per_type(sim.activation_slope, n_types, "activation_slope"), float),
        }
    return SignalDynamics(
        model=model, W=np.asarray(W, dtype=np.float64), types=np.asarray(types), p=p, phi=sim.phi,
        mode=sim.external_input_mode, has_input=sim.external_input_type != InputType.none, **kw,
    )


def activity_ranks(u: np.ndarray) -> tuple[int, int]:
    """Effective ranks (90 %, 99 %) of the uncentred activity, subsampled as in the reference.

    Neurons are taken every k-th so at most 1024 remain, and frames every m-th so that
    frames·neurons ≤ 10⁷; then :func:`neuralgraph.metrics.effective_rank` (all singular values).
    """
    u = np.asarray(u)
    k = max(1, int(np.ceil(u.shape[1] / 1024)))
    sub = u[:, ::k]
    m = max(1, int(np.ceil(sub.shape[0] * sub.shape[1] / 1e7)))
    sub = sub[::m]
    return effective_rank(sub, 0.90), effective_rank(sub, 0.99)


def transfer_condition(dyn: SignalDynamics, u: np.ndarray, max_frames: int = 20000) -> float:
    """Condition number σ_max/σ_min of the centred presynaptic signals ψ_j(u_j) (frames × N).

    W is what maps these signals to the targets, so a large value (a neuron stuck in saturation,
    activity on a low-dimensional set) means some columns of W are barely determined by the data,
    whatever the learner. Frames are subsampled to at most ``max_frames``; N ≤ 2000 only (NaN above).
    """
    if u.shape[1] > 2000:
        return float("nan")
    sub = np.asarray(u[:: max(1, int(np.ceil(len(u) / max_frames)))], dtype=np.float64)
    x = dyn.psi(sub)
    x = x - x.mean(axis=0)
    s = np.linalg.svd(x, compute_uv=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else float("inf")


def rollout(
    dyn: SignalDynamics, u0: np.ndarray, n_steps: int, dt: float, inputs: np.ndarray | None = None,
) -> np.ndarray:
    """Noise-free Euler rollout of the ground truth: (n_steps + 1, N) states, u0 first.

    The input of frame t is ``inputs[t]`` (the last row once the inputs run out).
    """
    def f(u: np.ndarray, t: int) -> np.ndarray:
        return dyn(u, None if inputs is None else inputs[min(t, len(inputs) - 1)])

    states, _, _ = trajectory(f, np.asarray(u0, dtype=np.float64), n_steps + 1, dt)
    return states


#: |u| beyond this is a blow-up: the states are stored as float32, and a network that grows
#: this far grows without bound (a bounded ψ keeps |u| ≤ g·max row sum of |W| / c).
BLOWUP = 1e8


def leak_rate(dyn: SignalDynamics) -> float:
    """The smallest linear decay rate of the own dynamics (c, or a for PDE_N4) over the neurons."""
    return float(np.min(dyn.p["a"] if dyn.model == SignalModelName.PDE_N4 else dyn.p["c"]))


def blowup_message(dyn: SignalDynamics, dt: float, frame: int) -> str:
    """One line: where the simulation blew up, the cause (spectral radius × gain, Euler step), the fix.

    Near u = 0 the network grows along W's leading eigenvector when g·ρ(W) exceeds the leak c
    (an unbounded ψ such as relu then never stops), and explicit Euler itself oscillates out when
    Δt·(c + g·ρ) > 2.
    """
    rho, g, c = spectral_radius(dyn.W), float(np.max(np.abs(dyn.gain))), leak_rate(dyn)
    loop = g * rho
    text = (f"the simulation blew up at frame {frame}: spectral radius of W {rho:.3g} x gain g {g:.3g} "
            f"= {loop:.3g} against a leak c = {c:.3g}")
    fixes = []
    if loop > c:
        fixes.append(f"divide W by at least {loop / max(c, 1e-12):.3g} (or lower g in simulation.params)")
    if dt * (c + loop) > 2:
        fixes.append(f"lower simulation.delta_t below {2 / (c + loop):.3g} (explicit Euler needs dt(c + g rho) < 2)")
    return text + "; " + (" and ".join(fixes) if fixes else "lower simulation.delta_t or the gains (params)")


def trial_bounds(n_states: int, n_trials: int) -> np.ndarray:
    """Start index of each trial and the end: K + 1 indices splitting n_states into nearly equal runs."""
    sizes = [len(part) for part in np.array_split(np.arange(n_states), n_trials)]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def integrate(
    sim: SignalSimulation, dyn: SignalDynamics, source: InputSource, u: np.ndarray, rng: np.random.Generator,
    first: int = 0, n_states: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(states, exact du/dt, inputs or None)`` of frames first…first + n_states − 1 after a burn-in from ``u``.

    ``n_states`` defaults to n_frames + 1 (one trial). The burn-in covers the ``-start_frame``
    frames before ``first`` (the input keeps its clock). Process noise is drawn from ``rng`` after
    every Euler step (burn-in included); a state beyond :data:`BLOWUP` (or not finite) raises
    :class:`ConfigError` naming the cause (:func:`blowup_message`).
    """
    dt, sigma = float(sim.delta_t), float(sim.noise_model_level)
    n_states = int(sim.n_frames) + 1 if n_states is None else int(n_states)

    def f(x: np.ndarray, frame: int) -> np.ndarray:
        return dyn(x, source(frame) if source.active else None)

    def noise_and_check(x: np.ndarray, frame: int) -> np.ndarray:
        if sigma > 0:
            x = x + sigma * rng.standard_normal(x.shape[0])
        if not np.all(np.abs(x) < BLOWUP):  # NaN fails the test too
            raise ConfigError(blowup_message(dyn, dt, frame))
        return x

    burn_in = -int(sim.start_frame)
    u = euler(f, u, burn_in, dt, t0=first - burn_in, after_frame=noise_and_check)
    # Stored as float32 (the dataset's dtype) while integrating in float64: a 100k-frame, 1000-neuron
    # run then peaks at half the memory. Measurement noise is added to the float64 states first.
    dtype = np.float64 if sim.measurement_noise_level > 0 else np.float32
    states, targets, _ = trajectory(f, u, n_states, dt, t0=first, derivatives=True, after_frame=noise_and_check,
                                    dtype=dtype)
    inputs = np.stack([source(frame) for frame in range(first, first + n_states)]) if source.active else None
    return states, targets, inputs


def simulate_trials(
    sim: SignalSimulation, dyn: SignalDynamics, source: InputSource, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """``(states, targets, inputs or None, trial_bounds)`` of every trial, concatenated.

    Each trial draws its initial state from ``rng`` just before it runs (the first one exactly as
    a single-trial simulation does). With measurement noise each trial's last frame is dropped
    (its forward difference would reach into the next trial).
    """
    n, std = int(sim.n_neurons), float(sim.initial_state_std)
    bounds = trial_bounds(int(sim.n_frames) + 1, int(sim.n_trials))
    runs = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        u0 = rng.standard_normal(n) * std
        runs.append(integrate(sim, dyn, source, u0, rng, first=int(start), n_states=int(stop - start)))
    level = float(sim.measurement_noise_level)
    if level > 0:
        noisy = []
        for states, _, inputs in runs:
            observed = states + level * rng.standard_normal(states.shape)
            targets = np.diff(observed, axis=0) / float(sim.delta_t)
            noisy.append((observed[:-1], targets, None if inputs is None else inputs[:-1]))
        runs = noisy
        bounds = bounds - np.arange(len(bounds))
    states = np.concatenate([r[0] for r in runs])
    targets = np.concatenate([r[1] for r in runs])
    inputs = None if runs[0][2] is None else np.concatenate([r[2] for r in runs])
    return states, targets, inputs, bounds


def simulate(sim: SignalSimulation) -> dict[str, np.ndarray]:
    """Simulate one network; arrays are compact float32 (frames, N) plus the truth."""
    rng = np.random.default_rng(int(sim.seed))
    types = neuron_types(sim, rng)
    W = make_connectivity(sim, rng)
    dyn = build_dynamics(sim, W, types)
    source = InputSource(sim, rng)
    states, targets, inputs, bounds = simulate_trials(sim, dyn, source, rng)
    r90, r99 = activity_ranks(states)
    out = {
        "u": np.asarray(states, dtype=np.float32),  # no copy when already float32
        "du": np.asarray(targets, dtype=np.float32),
        "W": W.astype(np.float32),
        "types": types.astype(np.int64),
        "params": np.asarray([list(r) for r in sim.params], dtype=np.float64),
        "spectral_radius": np.float64(spectral_radius(W)),
        "transfer_condition": np.float64(transfer_condition(dyn, states)),
        "effective_rank_90": np.int64(r90),
        "effective_rank_99": np.int64(r99),
        "delta_t": np.float64(float(sim.delta_t)),
        "trial_bounds": bounds,
    }
    if inputs is not None:
        out["e"] = inputs.astype(np.float32)
    if sim.external_input_type == InputType.visual:
        out["images"] = source.images.astype(np.float32)
    return out
