r"""The fly visual system: voltage dynamics on the Drosophila optic-lobe connectome.

    τ_i dv_i/dt = −v_i + V_rest,i + Σ_j W_ij ReLU(v_j) + I_i(t)        (+ process noise)

Connectome
    The cell types, their hexagonal column patterns and the type-to-type average filters (offsets
    on the hexagonal lattice with mean synapse counts and signs) come from
    ``fib25-fib19_v2.2.json``, the connectome file distributed with the ``flyvis`` package
    (Lappalainen et al., *Connectome-constrained networks predict neural activity across the fly
    visual system*, Nature 634, 1132–1140, 2024; TuragaLab/flyvis, MIT licence; the reconstructions
    are from the FIB-25 and FIB-19 datasets of the Janelia FlyEM project). NeuralGraph ships a copy
    with its licence and attribution (``neuralgraph/data/flyvis/``, found through
    :func:`neuralgraph.resources.connectome_file`); the flyvis package is neither installed nor
    imported.

    The lattice is built here from the file for any ``extent`` e: columns are the axial hexagonal
    coordinates (u, v) with |u|, |v|, |u + v| ≤ e (3e(e+1)+1 columns); a cell type with pattern
    ``stride [su, sv]`` has one neuron at each column with u ≡ 0 (mod su) and v ≡ 0 (mod sv).
    An average filter from type S to type T with offsets {(du, dv): n} connects the S neuron at
    (u, v) to the T neuron at (u + du, v + dv) when both exist, with synapse count n. Filters with
    three or more reported offsets are completed, as in flyvis, with ``n_syn_fill`` synapses at
    every lattice offset inside the convex hull of the reported ones (the reconstructions leave gaps).
    This reproduces the published sizes: extent 8 → 217 columns, 13,741 neurons, 434,112 synapses,
    1,736 photoreceptor inputs; extent 15 → 721 columns, 45,669 neurons, 1,513,231 synapses.

Ground truth (seeded, documented distributions)
    - τ per cell type: log-uniform on [tau_min, tau_max];
    - V_rest per cell type: Normal(v_rest_mean, v_rest_std);
    - one synapse strength per (source type, target type) filter: log-normal with median
      ``strength_median`` and log-std ``strength_log_std``, then all strengths multiplied by one
      factor so that the spectral radius of |W| is at most ``max_gain`` (a sufficient condition for
      a stable fixed point of the ReLU network under constant input);
    - W_ij = sign · synapse count · strength; signs come from the file.

Stimulus
    Generated here, on the columns' cartesian positions (x = u + v/2, y = v·√3/2, in column
    spacings); the same luminance drives R1–R8 of a column, I = input_gain · luminance. A movie is a
    sequence of segments of ``segment_frames`` frames, each one kind drawn from ``stimuli``:
    ``flash`` (full-field or disk luminance steps), ``edge`` (an ON or OFF edge moving in one of
    eight directions), ``bar`` (a moving bar), ``grating`` (a drifting sinusoid) and ``noise``
    (naturalistic statistics: a sum of plane waves with 1/f amplitude drifting with a random
    velocity, plus slow random phase walks). Luminance is clipped to [0, 1].

Integration
    Explicit Euler (:func:`neuralgraph.integrate.euler`) with step ``delta_t`` (0.02 as in flyvis),
    Gaussian process noise of std ``noise_model_level`` added to v after each step, ``n_burn_in``
    steps from v = V_rest discarded.
    The stored target y is the exact, noise-free dv/dt at each stored state.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from neuralgraph import resources
from neuralgraph.errors import ConfigError, DataError
from neuralgraph.families.flyvis.config import STIMULUS_KINDS, FlyVisSimulation
from neuralgraph.integrate import euler, trajectory

#: The connectome file (shipped in neuralgraph/data/flyvis/, copied from the flyvis 1.2.0 wheel).
CONNECTOME_FILE = resources.CONNECTOME_FILE
#: What to do when the file is missing.
INSTALL_HINT = "reinstall neuralgraph (the file ships in neuralgraph/data/flyvis/)"


# -- locating and reading the connectome --------------------------------------------------------


def find_connectome_file(path: str | None = None) -> Path:
    """The connectome JSON: ``path`` if given, else the copy that ships with NeuralGraph."""
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise DataError(f"simulation.connectome_file={path!r} does not exist")
        return p
    p = resources.connectome_file()
    if not p.is_file():
        raise DataError(f"the fly connectome {p} is missing: {INSTALL_HINT}, or set simulation.connectome_file "
                        "to the JSON path")
    return p


def connectome_available(path: str | None = None) -> bool:
    try:
        find_connectome_file(path)
        return True
    except DataError:
        return False


@dataclass
class ConnectomeSpec:
    """The cell types and average filters of the connectome file."""

    type_names: list[str]  # 65 cell types, in file order
    strides: np.ndarray  # (n_types, 2) column stride (su, sv) of each type
    input_types: list[int]  # indices of R1–R8
    output_types: list[int]  # indices of the output units listed in the file
    filter_src: np.ndarray  # (n_filters,) source type of each average filter
    filter_tgt: np.ndarray  # (n_filters,) target type
    filter_sign: np.ndarray  # (n_filters,) +1 / −1
    offsets: list[np.ndarray]  # per filter: (k, 3) rows (du, dv, synapse count), hull-filled


def _hull_fill(offsets: np.ndarray, n_fill: float) -> np.ndarray:
    """Add ``n_fill`` synapses at the integer offsets inside the convex hull of the reported ones.

    The hull is computed with qhull's joggle option (collinear offsets give a thin hull) and the
    containment test is matplotlib's polygon test, the combination that reproduces the published
    synapse counts of the flyvis lattice.
    """
    from matplotlib.path import Path as MplPath
    from scipy.spatial import ConvexHull

    pts = offsets[:, :2]
    hull = ConvexHull(pts * (1 + 1e-6), qhull_options="QJ")
    polygon = MplPath(pts[hull.vertices])
    lo, hi = pts.min(axis=0).astype(int), pts.max(axis=0).astype(int)
    gu, gv = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1), indexing="ij")
    grid = np.stack([gu.ravel(), gv.ravel()], axis=1)
    inside = grid[polygon.contains_points(grid)]
    known = {(int(a), int(b)) for a, b in pts}
    extra = [(int(a), int(b), n_fill) for a, b in inside if (int(a), int(b)) not in known]
    if not extra:
        return offsets
    return np.concatenate([offsets, np.asarray(extra, dtype=np.float64)], axis=0)


def read_connectome(path: Path, n_syn_fill: float = 1.0) -> ConnectomeSpec:
    try:
        raw = json.loads(Path(path).read_text())
        nodes, edges = raw["nodes"], raw["edges"]
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"cannot read the connectome file {path}: {err}") from err
    names = [n["name"] for n in nodes]
    index = {n: i for i, n in enumerate(names)}
    strides = np.ones((len(names), 2), dtype=np.int64)
    for i, n in enumerate(nodes):
        kind, arg = n["pattern"][0], n["pattern"][1]
        if kind == "stride":
            strides[i] = arg
        elif kind == "tile":
            strides[i] = (arg, arg)
        else:
            raise DataError(f"{path}: cell type {n['name']} has an unsupported pattern {n['pattern']!r}")
    src, tgt, sign, offs = [], [], [], []
    for e in edges:
        o = np.asarray([(du, dv, float(cnt)) for (du, dv), cnt in e["offsets"]], dtype=np.float64)
        if n_syn_fill > 0 and len(o) >= 3:
            o = _hull_fill(o, float(n_syn_fill))
        src.append(index[e["src"]])
        tgt.append(index[e["tar"]])
        sign.append(int(np.sign(e["alpha"])))
        offs.append(o)
    return ConnectomeSpec(
        type_names=names, strides=strides,
        input_types=[index[n] for n in raw.get("input_units", [])],
        output_types=[index[n] for n in raw.get("output_units", []) if n in index],
        filter_src=np.asarray(src), filter_tgt=np.asarray(tgt), filter_sign=np.asarray(sign), offsets=offs,
    )


# -- the lattice --------------------------------------------------------------------------------


def hex_columns(extent: int) -> np.ndarray:
    """Axial coordinates (u, v) of the 3e(e+1)+1 columns with |u|, |v|, |u+v| ≤ extent (u-major)."""
    cols = [(u, v) for u in range(-extent, extent + 1) for v in range(-extent, extent + 1) if abs(u + v) <= extent]
    return np.asarray(cols, dtype=np.int64).reshape(-1, 2)


def hex_xy(uv: np.ndarray) -> np.ndarray:
    """Cartesian positions of axial coordinates, in units of the column spacing."""
    uv = np.asarray(uv, dtype=np.float64)
    return np.stack([uv[:, 0] + 0.5 * uv[:, 1], uv[:, 1] * math.sqrt(3) / 2], axis=1)


@dataclass
class Lattice:
    """Neurons and synapses of the connectome tiled over a hexagonal patch."""

    extent: int
    type_names: list[str]
    columns: np.ndarray  # (n_col, 2) axial (u, v)
    node_type: np.ndarray  # (N,) cell type index
    node_col: np.ndarray  # (N,) column index
    edge_src: np.ndarray  # (E,) presynaptic neuron j
    edge_tgt: np.ndarray  # (E,) postsynaptic neuron i
    edge_filter: np.ndarray  # (E,) index of the type-to-type filter the synapse comes from
    edge_sign: np.ndarray  # (E,) ±1
    edge_count: np.ndarray  # (E,) synapse count
    input_nodes: np.ndarray  # (n_in,) neurons of the input types (R1–R8), column-major within type
    n_filters: int

    @property
    def n_neurons(self) -> int:
        return int(self.node_type.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_src.shape[0])


def build_lattice(spec: ConnectomeSpec, extent: int) -> Lattice:
    if extent < 0:
        raise ConfigError(f"simulation.extent={extent} must be >= 0")
    columns = hex_columns(extent)
    n_types = len(spec.type_names)
    size = 2 * extent + 1
    col_index = -np.ones((size, size), dtype=np.int64)
    col_index[columns[:, 0] + extent, columns[:, 1] + extent] = np.arange(len(columns))
    node_type, node_col = [], []
    # neuron_at[type, u + e, v + e] = neuron index or −1
    neuron_at = -np.ones((n_types, size, size), dtype=np.int64)
    n = 0
    for t in range(n_types):
        su, sv = spec.strides[t]
        keep = (columns[:, 0] % su == 0) & (columns[:, 1] % sv == 0)
        cols = np.nonzero(keep)[0]
        neuron_at[t, columns[cols, 0] + extent, columns[cols, 1] + extent] = n + np.arange(len(cols))
        node_type.append(np.full(len(cols), t))
        node_col.append(cols)
        n += len(cols)
    node_type_a = np.concatenate(node_type)
    node_col_a = np.concatenate(node_col)

    src_l, tgt_l, fil_l, cnt_l = [], [], [], []
    for f in range(len(spec.filter_src)):
        s_t, t_t = spec.filter_src[f], spec.filter_tgt[f]
        s_nodes = np.nonzero(node_type_a == s_t)[0]
        s_uv = columns[node_col_a[s_nodes]]
        for du, dv, cnt in spec.offsets[f]:
            tu = s_uv[:, 0] + int(du) + extent
            tv = s_uv[:, 1] + int(dv) + extent
            ok = (tu >= 0) & (tu < size) & (tv >= 0) & (tv < size)
            tgt = np.full(len(s_nodes), -1)
            tgt[ok] = neuron_at[t_t, tu[ok], tv[ok]]
            ok = tgt >= 0
            src_l.append(s_nodes[ok])
            tgt_l.append(tgt[ok])
            fil_l.append(np.full(ok.sum(), f))
            cnt_l.append(np.full(ok.sum(), cnt))
    edge_filter = np.concatenate(fil_l)
    inputs = np.concatenate([np.nonzero(node_type_a == t)[0] for t in spec.input_types]) if spec.input_types \
        else np.zeros(0, dtype=np.int64)
    return Lattice(
        extent=extent, type_names=list(spec.type_names), columns=columns,
        node_type=node_type_a, node_col=node_col_a,
        edge_src=np.concatenate(src_l), edge_tgt=np.concatenate(tgt_l), edge_filter=edge_filter,
        edge_sign=spec.filter_sign[edge_filter], edge_count=np.concatenate(cnt_l),
        input_nodes=inputs, n_filters=len(spec.filter_src),
    )


def load_lattice(extent: int, connectome_file: str | None = None, n_syn_fill: float = 1.0) -> Lattice:
    return build_lattice(read_connectome(find_connectome_file(connectome_file), n_syn_fill), extent)


# -- ground truth -------------------------------------------------------------------------------


@dataclass
class GroundTruth:
    tau_type: np.ndarray  # (n_types,) time constant per cell type (s)
    v_rest_type: np.ndarray  # (n_types,) resting potential per cell type
    strength: np.ndarray  # (n_filters,) synapse strength per type-to-type filter
    W: np.ndarray  # (E,) sign · count · strength
    gain_scale: float  # factor applied to the drawn strengths to cap the spectral radius of |W|
    spectral_radius: float  # of |W| after the cap


def spectral_radius_abs(n: int, src: np.ndarray, tgt: np.ndarray, w: np.ndarray, n_iter: int = 300) -> float:
    """Perron root of the non-negative matrix |W| (power iteration on a sparse matrix)."""
    import scipy.sparse as sp

    A = sp.csr_matrix((np.abs(w), (tgt, src)), shape=(n, n))
    x = np.ones(n) / math.sqrt(n)
    lam = 0.0
    for _ in range(n_iter):
        y = A @ x + 1e-12 * x  # the tiny shift keeps a nilpotent part from collapsing x to 0
        norm = np.linalg.norm(y)
        if norm == 0:
            return 0.0
        x, lam_new = y / norm, norm
        if abs(lam_new - lam) <= 1e-9 * max(lam_new, 1e-30):
            lam = lam_new
            break
        lam = lam_new
    return float(lam)


def draw_ground_truth(lat: Lattice, sim: FlyVisSimulation, rng: np.random.Generator) -> GroundTruth:
    n_types = len(lat.type_names)
    log_tau = rng.uniform(math.log(sim.tau_min), math.log(sim.tau_max), n_types)
    tau_type = np.exp(log_tau)
    v_rest_type = rng.normal(sim.v_rest_mean, sim.v_rest_std, n_types)
    strength = sim.strength_median * np.exp(sim.strength_log_std * rng.standard_normal(lat.n_filters))
    W = lat.edge_sign * lat.edge_count * strength[lat.edge_filter]
    rho = spectral_radius_abs(lat.n_neurons, lat.edge_src, lat.edge_tgt, W)
    scale = min(1.0, sim.max_gain / rho) if rho > 0 and sim.max_gain > 0 else 1.0
    return GroundTruth(tau_type, v_rest_type, strength * scale, W * scale, scale, rho * scale)


# -- stimuli ------------------------------------------------------------------------------------


def _segment(kind: str, xy: np.ndarray, n: int, dt: float, rng: np.random.Generator, contrast: float) -> np.ndarray:
    """Luminance (n, n_col) of one stimulus segment of kind ``kind``, around a grey of 0.5."""
    t = np.arange(n)[:, None] * dt
    x, y = xy[None, :, 0], xy[None, :, 1]
    radius = max(1.0, float(np.abs(xy).max()))
    c = contrast * rng.uniform(0.5, 1.0)
    if kind == "flash":
        # Luminance steps: grey, then ON or OFF (full field or a disk), then grey.
        sgn = rng.choice([-1.0, 1.0])
        disk = rng.random() < 0.5
        r = rng.uniform(0.3, 1.0) * radius
        on = (t >= 0.2 * n * dt) & (t < 0.7 * n * dt)
        space = (np.hypot(x, y) <= r) if disk else np.ones_like(x, dtype=bool)
        lum = 0.5 + sgn * c * (on & space)
    elif kind in ("edge", "bar"):
        theta = rng.integers(0, 8) * math.pi / 4
        d = x * math.cos(theta) + y * math.sin(theta)
        speed = rng.uniform(5.0, 20.0)  # columns per second
        front = -radius - 1 + speed * t
        sgn = rng.choice([-1.0, 1.0])
        if kind == "edge":
            lum = 0.5 + sgn * c * (d <= front)
        else:
            width = rng.uniform(1.0, 3.0)
            lum = 0.5 + sgn * c * ((d <= front) & (d > front - width))
    elif kind == "grating":
        theta = rng.uniform(0, 2 * math.pi)
        k = 2 * math.pi / rng.uniform(3.0, 12.0)  # wavelength in columns
        omega = 2 * math.pi * rng.uniform(0.5, 4.0)  # temporal frequency (Hz)
        lum = 0.5 + c * np.sin(k * (x * math.cos(theta) + y * math.sin(theta)) - omega * t + rng.uniform(0, 2 * math.pi))
    elif kind == "noise":
        # Naturalistic statistics: plane waves with 1/f amplitudes, rigidly drifting (global optic
        # flow) plus a slow random walk of each phase.
        n_waves = 32
        kmag = np.exp(rng.uniform(math.log(2 * math.pi / 20.0), math.log(2 * math.pi / 1.5), n_waves))
        ang = rng.uniform(0, 2 * math.pi, n_waves)
        kx, ky = kmag * np.cos(ang), kmag * np.sin(ang)
        amp = 1.0 / kmag
        amp = amp / np.sqrt(np.sum(amp**2 / 2))
        vel = rng.normal(0, 8.0, 2)  # columns per second
        phase0 = rng.uniform(0, 2 * math.pi, n_waves)
        walk = np.cumsum(rng.normal(0, 1.0 * math.sqrt(dt), (n, n_waves)), axis=0)
        arg = (kx[None, None, :] * (x[..., None] - vel[0] * t[..., None])
               + ky[None, None, :] * (y[..., None] - vel[1] * t[..., None]) + phase0 + walk[:, None, :])
        lum = 0.5 + c * 0.5 * np.sum(amp * np.sin(arg), axis=-1)
    else:
        raise ConfigError(f"simulation.stimuli: unknown kind {kind!r}; use any of {list(STIMULUS_KINDS)}")
    return np.broadcast_to(lum, (n, xy.shape[0]))


def make_stimulus(
    xy: np.ndarray, n_frames: int, dt: float, kinds: list[str], segment_frames: int, contrast: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """A movie (n_frames, n_col) in [0, 1] and the kind index of each frame."""
    out = np.empty((n_frames, xy.shape[0]), dtype=np.float32)
    kind_of_frame = np.empty(n_frames, dtype=np.int8)
    start = 0
    while start < n_frames:
        n = min(segment_frames, n_frames - start)
        k = int(rng.integers(0, len(kinds)))
        out[start:start + n] = np.clip(_segment(kinds[k], xy, n, dt, rng, contrast), 0.0, 1.0)
        kind_of_frame[start:start + n] = STIMULUS_KINDS.index(kinds[k])
        start += n
    return out, kind_of_frame


# -- integration --------------------------------------------------------------------------------


def integrate(
    lat: Lattice, gt: GroundTruth, stimulus: np.ndarray, dt: float, noise: float, n_burn_in: int,
    rng: np.random.Generator, input_gain: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Euler integration; returns states x (T, N) and exact noise-free dv/dt y (T, N), float32.

    The first ``n_burn_in`` frames of ``stimulus`` are used for the burn-in and not stored. Noise
    is drawn after every step, the last stored one included, so the test movie drawn from ``rng``
    afterwards does not depend on how the frames are recorded.
    """
    import scipy.sparse as sp

    n = lat.n_neurons
    W = sp.csr_matrix((gt.W, (lat.edge_tgt, lat.edge_src)), shape=(n, n))
    tau = gt.tau_type[lat.node_type]
    v_rest = gt.v_rest_type[lat.node_type]
    input_col = lat.node_col[lat.input_nodes]
    drive = np.zeros(n)

    def dv_dt(v: np.ndarray, k: int) -> np.ndarray:
        drive[lat.input_nodes] = input_gain * stimulus[k, input_col]
        return (-v + v_rest + W @ np.maximum(v, 0.0) + drive) / tau

    def perturb(v: np.ndarray, k: int) -> np.ndarray:
        if noise > 0:
            v = v + noise * rng.standard_normal(n)
        if not np.isfinite(v).all():
            raise DataError(
                f"the flyvis simulation diverged at step {k}: spectral radius of |W| {gt.spectral_radius:.3g} "
                f"(strengths scaled by {gt.gain_scale:.3g} to meet max_gain), delta_t/tau_min = "
                f"{dt / float(tau.min()):.3g} (explicit Euler needs < 2 with the leak alone); lower "
                "simulation.max_gain below 1 or delta_t")
        return v

    v = euler(dv_dt, v_rest.copy(), n_burn_in, dt, after_frame=perturb)
    xs, ys, _ = trajectory(dv_dt, v, stimulus.shape[0] - n_burn_in, dt, derivatives=True, dtype=np.float32,
                           t0=n_burn_in, after_frame=perturb)
    return xs, ys


def simulate(sim: FlyVisSimulation) -> dict[str, np.ndarray]:
    """Ground truth, training movie and states, and a noise-free held-out test movie."""
    lat = load_lattice(int(sim.extent), sim.connectome_file or None, float(sim.n_syn_fill))
    rng = np.random.default_rng(int(sim.seed))
    gt = draw_ground_truth(lat, sim, rng)
    xy = hex_xy(lat.columns)
    dt = float(sim.delta_t)
    stim, kind = make_stimulus(xy, sim.n_burn_in + sim.n_frames, dt, list(sim.stimuli), sim.segment_frames,
                               sim.contrast, rng)
    x, y = integrate(lat, gt, stim, dt, float(sim.noise_model_level), int(sim.n_burn_in), rng, sim.input_gain)
    test_kinds = list(sim.test_stimuli) or list(sim.stimuli)
    stim_test, kind_test = make_stimulus(xy, sim.n_burn_in + sim.n_test_frames, dt, test_kinds,
                                         sim.segment_frames, sim.contrast, rng)
    x_test, _ = integrate(lat, gt, stim_test, dt, 0.0, int(sim.n_burn_in), rng, sim.input_gain)
    b = int(sim.n_burn_in)
    return {
        "x": x, "y": y,
        "stimulus": stim[b:], "stimulus_kind": kind[b:],
        "x_test": x_test, "stimulus_test": stim_test[b:], "stimulus_kind_test": kind_test[b:],
        "type_names": np.asarray(lat.type_names),
        "columns": lat.columns.astype(np.int32), "column_xy": xy.astype(np.float32),
        "node_type": lat.node_type.astype(np.int32), "node_col": lat.node_col.astype(np.int32),
        "edge_src": lat.edge_src.astype(np.int32), "edge_tgt": lat.edge_tgt.astype(np.int32),
        "edge_filter": lat.edge_filter.astype(np.int32), "edge_sign": lat.edge_sign.astype(np.int8),
        "edge_count": lat.edge_count.astype(np.float32), "input_nodes": lat.input_nodes.astype(np.int32),
        "tau_type": gt.tau_type, "V_rest_type": gt.v_rest_type, "strength": gt.strength,
        "W": gt.W.astype(np.float32), "tau": gt.tau_type[lat.node_type], "V_rest": gt.v_rest_type[lat.node_type],
        "gain_scale": np.asarray(gt.gain_scale), "spectral_radius": np.asarray(gt.spectral_radius),
    }
