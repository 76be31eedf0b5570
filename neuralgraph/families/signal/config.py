"""Schemas of the neural signal family: simulation (ground truth), model and training.

Names follow the users' seeds (``connectivity_type``, ``connectivity_rank``, ``Dale_law``,
``lr_W``, ``coeff_W_L1``, ``low_rank``, ``factorization``, …) so an instruction file or a memory
written for the reference code reads the same here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar, Dict, List, Sequence

from neuralgraph.config.base import TrainingBase, check_nonnegative, check_positive, check_range
from neuralgraph.errors import ConfigError


class SignalModelName(str, Enum):
    """Ground-truth equation (see :mod:`neuralgraph.families.signal.simulate`)."""

    PDE_N2 = "PDE_N2"  # du_i = -c u_i + s tanh(u_i) + g sum_j W_ij phi(u_j) + e_i; rows [g, s, c]
    PDE_N4 = "PDE_N4"  # ... + g sum_j W_ij phi((u_j - h_j)/w_j); rows [a, b, g, s, w, h]
    PDE_N11 = "PDE_N11"  # du_i = -c u_i + g sum_j W_ij A f((u_j)/S), f per receiver type; rows [g, c]


#: Columns of a per-type parameter row (``simulation.params``), per model.
PARAM_COLUMNS = {
    SignalModelName.PDE_N2: ("g", "s", "c"),
    SignalModelName.PDE_N4: ("a", "b", "g", "s", "w", "h"),
    SignalModelName.PDE_N11: ("g", "c"),
}


def per_type(values: Sequence, n_types: int, key: str) -> list:
    """One entry per neuron type: a single entry is shared by all, otherwise exactly n_types."""
    values = list(values)
    if len(values) == 1:
        return values * n_types
    if len(values) != n_types:
        raise ConfigError(f"simulation.{key} has {len(values)} entries; give 1 or n_neuron_types={n_types}")
    return values


class Connectivity(str, Enum):
    """How the ground-truth W (W[post, pre]) is built."""

    chaotic = "chaotic"  # W_ij ~ N(0, 1/N)
    low_rank = "low_rank"  # W = U V / sqrt(r N), U, V standard normal, r = connectivity_rank
    Cauchy = "Cauchy"  # truncated standard Cauchy (|s| <= 25) scaled by N^-alpha (the paper's "Lorentz")
    Lorentz = "Lorentz"  # alias of Cauchy (the reference code's name)
    file = "file"  # loaded from connectivity_file (.pt or .npy, N x N)


class Transfer(str, Enum):
    """Presynaptic transfer function phi of PDE_N2 / PDE_N4 (and activations of PDE_N11)."""

    tanh = "tanh"
    relu = "relu"
    sigmoid = "sigmoid"
    identity = "identity"


class InputType(str, Enum):
    """External input e_i(t)."""

    none = "none"  # no input
    oscillatory = "oscillatory"  # e_i = A_i cos(2 pi f t), A_i ~ U(-A, A)
    visual = "visual"  # a generated image stack (moving gratings and blobs) on the first neurons


class InputMode(str, Enum):
    """How e enters the equation."""

    additive = "additive"  # ... + e_i
    multiplicative = "multiplicative"  # g_i M_i e_i (a gain field on the summed input)


@dataclass
class SignalSimulation:
    """A neural network on a graph: du_i/dt = own dynamics + g_i sum_j W_ij psi(u_j) (+ input)."""

    _section = "simulation"

    family: str = "signal"  # which simulator/model/evaluator family this block belongs to
    seed: int = 42  # seeds W, types, the initial state, noise and inputs: the whole ground truth
    signal_model_name: SignalModelName = SignalModelName.PDE_N11  # ground-truth equation
    n_neurons: int = 100  # number of neurons N
    n_neuron_types: int = 1  # types, as contiguous blocks of neurons (see shuffle_neuron_types)
    shuffle_neuron_types: bool = False  # permute the type labels over neurons
    # Per-type parameter rows; columns depend on signal_model_name: PDE_N2 [g, s, c],
    # PDE_N4 [a, b, g, s, w, h], PDE_N11 [g, c]. One row per type.
    params: List[List[float]] = field(default_factory=lambda: [[7.0, 1.0]])
    phi: Transfer = Transfer.tanh  # transfer function of PDE_N2 / PDE_N4
    # PDE_N11 activation per receiver type (one entry per type, or one entry for all types).
    activation: List[Transfer] = field(default_factory=lambda: [Transfer.tanh])
    activation_amplitude: List[float] = field(default_factory=lambda: [1.0])  # A per type (PDE_N11)
    activation_slope: List[float] = field(default_factory=lambda: [1.0])  # S per type (PDE_N11)
    n_frames: int = 10000  # frames kept (n_frames + 1 states are stored, frame 0 included)
    delta_t: float = 0.1  # Euler step = time between stored frames
    start_frame: int = -1000  # burn-in: integration starts here; only frames >= 0 are stored
    initial_state_std: float = 5.0  # u_i at start_frame ~ N(0, initial_state_std^2)
    # Independent runs from new initial states (each with its own burn-in) sharing the n_frames + 1
    # stored states; frames of two trials are never paired (trial_bounds in the dataset).
    n_trials: int = 1
    connectivity_type: Connectivity = Connectivity.chaotic  # W constructor
    connectivity_rank: int = 20  # rank of W for connectivity_type=low_rank
    connectivity_filling_factor: float = 1.0  # fraction of off-diagonal entries kept (1 = dense)
    Dale_law: bool = False  # W <- |W| with presynaptic columns >= N*Dale_law_factor made negative
    Dale_law_factor: float = 0.5  # fraction of excitatory (positive) presynaptic neurons
    connectivity_file: str = ""  # .pt / .npy N x N matrix (W[post, pre]) for connectivity_type=file
    external_input_type: InputType = InputType.none  # none | oscillatory | visual
    external_input_mode: InputMode = InputMode.additive  # additive | multiplicative
    oscillation_max_amplitude: float = 1.0  # A of the oscillatory input
    oscillation_frequency: float = 0.05  # f of the oscillatory input, cycles per unit time
    n_input_neurons: int = 0  # visual: neurons driven by the image (0 = image_width^2, capped at N)
    image_width: int = 8  # visual: generated images are image_width x image_width
    n_images: int = 64  # visual: frames in the generated image stack, spread over n_frames
    noise_model_level: float = 0.0  # std of process noise added to u after each Euler step
    # std of noise on the observed u; the targets then become forward finite differences of the
    # noisy observations (otherwise the target is the exact du/dt at the stored state).
    measurement_noise_level: float = 0.0

    def __post_init__(self) -> None:
        n = self.n_neurons
        if n < 2:
            raise ConfigError(f"simulation.n_neurons={n} must be >= 2")
        if not 1 <= self.n_neuron_types <= n:
            raise ConfigError(f"simulation.n_neuron_types={self.n_neuron_types} must be in [1, n_neurons={n}]")
        self._check_params()
        if self.n_frames < 2:
            raise ConfigError(f"simulation.n_frames={self.n_frames} must be >= 2")
        check_positive(self, "delta_t")
        if not 1 <= self.n_trials <= (self.n_frames + 1) // 3:
            raise ConfigError(f"simulation.n_trials={self.n_trials} must be in [1, (n_frames + 1) // 3]: "
                              "every trial needs at least 3 stored frames")
        if self.start_frame > 0:
            raise ConfigError(f"simulation.start_frame={self.start_frame} must be <= 0 (a burn-in)")
        if self.connectivity_type == Connectivity.low_rank and not 1 <= self.connectivity_rank <= n:
            raise ConfigError(f"simulation.connectivity_rank={self.connectivity_rank} must be in [1, n_neurons={n}]")
        if self.connectivity_type == Connectivity.file and not self.connectivity_file:
            raise ConfigError("simulation.connectivity_type=file needs simulation.connectivity_file")
        check_range(self, "connectivity_filling_factor", 0.0, 1.0, low_open=True)
        check_range(self, "Dale_law_factor", 0.0, 1.0)
        check_nonnegative(self, "noise_model_level", "measurement_noise_level", "initial_state_std")

    def _check_params(self) -> None:
        """Parameter rows fit the model's columns; PDE_N11's per-type lists fit the types."""
        model, n_types = self.signal_model_name, self.n_neuron_types
        cols = PARAM_COLUMNS[SignalModelName(model)]
        rows = [list(r) for r in self.params]
        if len(rows) not in (1, n_types):
            raise ConfigError(f"simulation.params has {len(rows)} rows; give 1 or n_neuron_types={n_types}")
        for r in rows:
            if len(r) != len(cols):
                raise ConfigError(f"simulation.params rows of {SignalModelName(model).value} are {list(cols)}; "
                                  f"got a row of length {len(r)}: {r}")
        if model == SignalModelName.PDE_N4 and any(r[cols.index("w")] == 0 for r in rows):
            raise ConfigError("simulation.params: the width w of PDE_N4 must be non-zero")
        if model == SignalModelName.PDE_N11:
            for key in ("activation", "activation_amplitude", "activation_slope"):
                per_type(getattr(self, key), n_types, key)
            if any(float(s) == 0 for s in self.activation_slope):
                raise ConfigError("simulation.activation_slope must be non-zero")


class UpdateType(str, Enum):
    """How the GNN combines its terms."""

    linear = "linear"  # phi*(u_i, a_i) + msg_i (+ e_i, or msg_i * e_i)
    generic = "generic"  # phi*(u_i, a_i, msg_i, e_i)


class PsiInput(str, Enum):
    """Inputs of the transfer function psi*."""

    u = "u"  # psi*(u_j): the sender's activity only
    u_embedding = "u_embedding"  # psi*(u_j, a_j): activity and sender embedding


class FieldModel(str, Enum):
    """Model of an unknown external input (learned instead of read from the data)."""

    none = "none"  # the true input is given to the model (or there is none)
    siren = "siren"  # e(t) for every input neuron from a SIREN of time
    low_rank = "low_rank"  # e(t) = U[t] V, a matrix factorisation over frames


@dataclass
class SignalModel:
    """du_i/dt = phi*(u_i, a_i) + sum_j W_ij psi*(u_j[, a_j]) [+ e_i or * e_i]."""

    _section = "model"

    family: str = "signal"
    embedding_dim: int = 2  # per-neuron embedding a_i
    embedding_init: float = 1.0  # a_i start at this value (the reference's ones) ...
    embedding_init_noise: float = 0.0  # ... plus N(0, this^2) jitter (0 = symmetry broken by gradients only)
    psi_input: PsiInput = PsiInput.u_embedding  # psi*(u_j) or psi*(u_j, a_j)
    hidden_dim: int = 64  # psi* width
    n_layers: int = 3  # psi* linear layers
    psi_positive: bool = False  # square the output of psi* (the reference's lin_edge_positive)
    hidden_dim_update: int = 64  # phi* width
    n_layers_update: int = 3  # phi* linear layers
    activation: str = "relu"  # hidden activation of psi* and phi* (relu | tanh | silu | softplus)
    update_type: UpdateType = UpdateType.linear  # linear | generic
    # std of the initial W entries; 0 = 1/sqrt(N), a rule of the given graph's size alone, the same
    # for every regime and blind to the truth's gain and weight scale (tests/test_truth_blind.py)
    W_init_std: float = 0.0
    factorization: bool = False  # learn W = WL @ WR with rank low_rank (the seeds' "factorization")
    low_rank: int = 20  # rank of the factorised W
    # The per-edge path evaluates psi* once per edge (N^2 per frame) instead of once per neuron;
    # identical results, ~N times the work. For tests and benchmarks.
    per_edge: bool = False
    field_type: FieldModel = FieldModel.none  # learn the external input instead of reading it
    hidden_dim_nnr_f: int = 128  # SIREN width
    n_layers_nnr_f: int = 3  # SIREN layers
    omega_f: float = 30.0  # SIREN first-layer frequency
    rank_nnr_f: int = 16  # rank of the low-rank field model

    def __post_init__(self) -> None:
        check_positive(self, "hidden_dim", "n_layers", "hidden_dim_update", "n_layers_update", "low_rank",
                       "hidden_dim_nnr_f", "n_layers_nnr_f", "rank_nnr_f")
        check_nonnegative(self, "embedding_dim", "embedding_init_noise", "W_init_std")


@dataclass
class SignalTraining(TrainingBase):
    """Training keys for the signal family (seed names: lr_W, lr, coeff_W_L1, batch_size, ...).

    Scale note: the data loss is a mean squared error over frames and neurons (divided by the
    global target variance with ``normalize_targets``) and the W penalties are means over the N²
    entries. The reference uses an un-squared L2 norm of the residual and sums over entries, so
    its coefficients do not transfer one-to-one; the defaults here were measured on this code.
    """

    n_epochs: int = 1
    batch_size: int = 32
    data_augmentation_loop: int = 40  # steps per epoch = n_frames * dal / batch_size * 0.2
    lr_W: float = 2e-2  # learning rate of W (or WL, WR)
    lr: float = 1e-3  # learning rate of psi* (and the fallback of the other groups)
    lr_update: float = 0.0  # learning rate of phi* (0 falls back to lr)
    lr_embedding: float = 1e-3  # learning rate of the embeddings a_i (0 falls back to lr)
    lr_field: float = 1e-4  # learning rate of the field model
    coeff_W_L1: float = 1e-5  # lambda * mean|W_ij| (after n_epochs_init epochs at first_coeff_L1)
    first_coeff_L1: float = 0.0  # L1 coefficient during the first n_epochs_init epochs (two-phase start)
    n_epochs_init: int = 0  # epochs of the first phase (0 = single phase)
    coeff_W_L2: float = 0.0  # lambda * mean W_ij^2
    coeff_edge_diff: float = 0.0  # monotone psi*: mean relu(psi*(u) - psi*(u + du))^2
    # Frames of each batch on which the shape penalties (edge_diff, update_diff) evaluate the
    # functions (0 = all): the batch's frames are random, so a few give an unbiased estimate at a
    # fraction of the cost of two more passes of psi* over every frame.
    penalty_frames: int = 0
    # W by least squares given psi* and phi* every this many steps and after the last one (0 =
    # never): variable projection (neuralgraph/families/signal/solve.py). Linear update, dense W,
    # no multiplicative input.
    W_solve_every: int = 0
    coeff_edge_norm: float = 0.0  # (psi*(edge_norm_at) - 1)^2 per neuron: pins the psi* scale
    edge_norm_at: float = 2.0  # where coeff_edge_norm pins psi* to 1, in units of the activity std
    coeff_phi_zero: float = 0.0  # mean phi*(0, a_i)^2: pins phi* to 0 at rest
    coeff_update_diff: float = 0.0  # generic update monotone in msg: relu(phi*(m) - phi*(m + dm))^2
    coeff_edge_weight_L1: float = 0.0  # L1 on psi* weights
    coeff_edge_weight_L2: float = 0.0  # L2 on psi* weights
    coeff_phi_weight_L1: float = 0.0  # L1 on phi* weights
    coeff_phi_weight_L2: float = 0.0  # L2 on phi* weights
    # Dale sign consistency: mean over entries of relu(-s_j W_ij) where s_j is the (detached)
    # sign of presynaptic column j's sum; pulls minority-sign entries of each column to zero.
    coeff_W_sign: float = 0.0
    W_sign_start_epoch: float = 0.5  # training progress, in epochs (fractions allowed), where coeff_W_sign starts
    normalize_targets: bool = True  # divide the residual by the global std of du/dt

    #: Every group rate of 0 falls back to lr (psi*'s own rate), see ``param_groups``.
    RATE_FALLBACK: ClassVar[Dict[str, str]] = {"lr_W": "lr", "lr_update": "lr", "lr_embedding": "lr", "lr_field": "lr"}

    def group_rates(self, model: SignalModel) -> list[str]:
        return ["lr_W", "lr", "lr_update", "lr_embedding"] + (["lr_field"] if model.field_type != FieldModel.none else [])

    def __post_init__(self) -> None:
        super().__post_init__()
        check_nonnegative(self, "first_coeff_L1", "n_epochs_init", "penalty_frames", "W_solve_every")


@dataclass
class SignalEvaluation:
    """How the metrics are computed from a trained model (frozen during sweeps: a sweep that could
    change them would change the yardstick, not the learner)."""

    _section = "evaluation"

    n_rollout_frames: int = 1000  # free rollout length for test_R2 / test_pearson
    rollout_every: int = 10  # test_R2 compares snapshots every this many frames
    psi_norm_window: List[float] = field(default_factory=lambda: [0.8, 1.0])  # scale correction window, units of xnorm
    cluster_threshold: float = 0.1  # single-linkage distance threshold on min-max-normalised embeddings

    def __post_init__(self) -> None:
        check_nonnegative(self, "n_rollout_frames")
        check_positive(self, "rollout_every", "cluster_threshold")
        win = list(self.psi_norm_window)
        if len(win) != 2 or not 0 <= win[0] < win[1]:
            raise ConfigError(f"evaluation.psi_norm_window={win} must be [start, stop] with 0 <= start < stop "
                              "(the read-out also uses its mirror [-stop, -start])")


SCHEMAS = {
    "simulation": SignalSimulation,
    "model": SignalModel,
    "training": SignalTraining,
    "evaluation": SignalEvaluation,
}
