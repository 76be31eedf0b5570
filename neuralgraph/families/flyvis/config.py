"""Schemas of the fly visual system family (flyvis): simulation, model and training.

Connectome data: ``fib25-fib19_v2.2.json`` from the flyvis package (Lappalainen et al., Nature 2024;
TuragaLab/flyvis, MIT licence), read without importing flyvis (see ``simulate.py`` beside this file).

Each dataclass checks its own keys in ``__post_init__`` (run when a composed config becomes these
objects); the one constraint across blocks (``training.W_solve_every`` needs
``model.update_type=additive``) is checked by the family (``FlyVisFamily.check``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar, Dict, List

from neuralgraph.config.base import TrainingBase, check_nonnegative, check_positive
from neuralgraph.errors import ConfigError

#: Stimulus kinds the simulator draws movie segments from (``simulation.stimuli``).
STIMULUS_KINDS = ("flash", "edge", "bar", "grating", "noise")


class FieldType(str, Enum):
    """What the model knows about the visual input to R1–R8."""

    given = "given"  # the true stimulus is fed to f_theta
    visual = "visual"  # unknown: a SIREN field Omega(x, y, t) is learned in its place
    projected = "projected"  # unknown: one value per frame and column, solved by least squares given the model


class UpdateType(str, Enum):
    """How f_theta combines a neuron's own state with its incoming messages."""

    generic = "generic"  # f_theta(v, a, m, e): the message is one more input of the MLP (reference)
    additive = "additive"  # f_theta(v, a, e) + m: linear in W, so W can be solved by least squares


class WInit(str, Enum):
    """Initial per-edge weights."""

    zeros = "zeros"  # W = 0 (old NeuralGraph)
    randn_scaled = "randn_scaled"  # W ~ N(0, 1) * W_init_scale / sqrt(n_edges)


class EmbeddingInit(str, Enum):
    """Initial per-neuron embeddings a_i."""

    ones = "ones"  # all ones (reference)
    random = "random"  # N(1, 0.1)


class ClusterMethod(str, Enum):
    """Clustering used for cluster_accuracy (with the number of clusters fixed or chosen)."""

    kmeans = "kmeans"  # k-means on standardised features
    gmm = "gmm"  # Gaussian mixture with diagonal covariances


class ClusterCriterion(str, Enum):
    """How the number of cell-type clusters is chosen from the data (evaluation.n_clusters=0)."""

    silhouette = "silhouette"  # the k whose k-means labels have the largest mean silhouette
    bic = "bic"  # the k whose Gaussian mixture (spherical components) has the smallest BIC


@dataclass
class FlyVisSimulation:
    """tau_i dv_i/dt = -v_i + V_rest_i + sum_j W_ij ReLU(v_j) + I_i(t) on the optic-lobe connectome."""

    family: str = "flyvis"  # which simulator/model/evaluator family this block belongs to
    seed: int = 42  # seeds the ground truth, the stimuli and the noise
    connectome_file: str = ""  # path to fib25-fib19_v2.2.json; empty = the copy inside the flyvis wheel
    extent: int = 8  # hexagonal column radius: 3e(e+1)+1 columns (8 -> 217 columns, 13,741 neurons)
    n_syn_fill: float = 1.0  # synapses assumed at gaps inside a filter's convex hull (flyvis default)
    tau_min: float = 0.05  # tau per type ~ log-uniform[tau_min, tau_max] (seconds)
    tau_max: float = 0.25
    v_rest_mean: float = 0.5  # V_rest per type ~ Normal(v_rest_mean, v_rest_std)
    v_rest_std: float = 0.3
    strength_median: float = 0.01  # per type-pair strength ~ LogNormal(log median, strength_log_std)
    strength_log_std: float = 0.5
    max_gain: float = 0.9  # strengths are scaled down so that the spectral radius of |W| <= max_gain
    input_gain: float = 1.0  # I = input_gain * luminance on R1-R8 of each column
    stimuli: List[str] = field(default_factory=lambda: ["flash", "edge", "bar", "grating", "noise"])  # training kinds
    test_stimuli: List[str] = field(default_factory=list)  # kinds of the held-out movie (empty = stimuli)
    segment_frames: int = 50  # frames per stimulus segment (1 s at delta_t 0.02)
    contrast: float = 0.5  # maximal luminance deviation from grey 0.5
    n_frames: int = 64000  # stored training frames
    n_test_frames: int = 500  # held-out frames (noise-free) for test_R2 / test_pearson
    n_burn_in: int = 100  # Euler steps from v = V_rest that are discarded
    delta_t: float = 0.02  # Euler step (s)
    noise_model_level: float = 0.05  # std of Gaussian process noise added to v after each step

    _section = "simulation"

    def __post_init__(self) -> None:
        check_nonnegative(self, "extent")
        if not (0 < self.tau_min <= self.tau_max):
            raise ConfigError(f"simulation.tau_min={self.tau_min}, tau_max={self.tau_max}: need 0 < tau_min <= tau_max")
        if self.tau_min < self.delta_t:
            raise ConfigError(
                f"simulation.tau_min={self.tau_min} is below delta_t={self.delta_t}: explicit Euler would be unstable"
            )
        check_positive(self, "n_frames", "segment_frames")
        for kind in list(self.stimuli) + list(self.test_stimuli):
            if kind not in STIMULUS_KINDS:
                raise ConfigError(f"simulation.stimuli: unknown kind {kind!r}; use any of {list(STIMULUS_KINDS)}")
        if not self.stimuli:
            raise ConfigError("simulation.stimuli is empty; list at least one of " + ", ".join(STIMULUS_KINDS))


@dataclass
class FlyVisModel:
    """dv_i/dt = f_theta(v_i, a_i, sum_j W_ij g_phi(v_j, a_j)^2, e_i)."""

    family: str = "flyvis"
    embedding_dim: int = 2  # per-neuron embedding a_i
    embedding_init: EmbeddingInit = EmbeddingInit.random  # initial a_i (all-ones starts every neuron alike and learns slowly)
    hidden_dim: int = 64  # g_phi (lin_edge) width
    n_layers: int = 3  # g_phi linear layers
    hidden_dim_update: int = 64  # f_theta (lin_phi) width
    n_layers_update: int = 3  # f_theta linear layers
    update_type: UpdateType = UpdateType.generic  # generic: f_theta(v, a, m, e) | additive: f_theta(v, a, e) + m
    g_phi_embedding: bool = True  # g_phi(v, a): a transfer function per cell type; False: one g_phi(v) for all
    g_phi_zero_floor: bool = False  # subtract g_phi(v_lo): a sender at the bottom of the voltages sends exactly 0
    g_phi_positive: bool = True  # square g_phi so messages have the sign of W
    g_phi_activation: str = "relu"  # hidden activation of g_phi: relu | tanh | silu | softplus
    f_theta_activation: str = "tanh"  # hidden activation of f_theta: relu | tanh | silu | softplus
    W_init: WInit = WInit.randn_scaled  # initial per-edge W
    W_init_scale: float = 1.0  # scale of randn_scaled
    n_extra_null_edges: int = 0  # extra random edges with true W = 0 (sparsity test)
    field_type: FieldType = FieldType.given  # given stimulus | visual: a SIREN field | projected: solved per frame
    omega_f: float = 30.0  # SIREN first/hidden layer frequency
    hidden_dim_nnr_f: int = 128  # SIREN width
    n_layers_nnr_f: int = 3  # SIREN hidden layers
    nnr_f_T_period: float = 64000.0  # frames per 2*pi of the SIREN's time input
    nnr_f_xy_period: float = 1.0  # lattice extent per 2*pi of the SIREN's space input (in lattice radii)

    _section = "model"

    def __post_init__(self) -> None:
        check_positive(self, "hidden_dim", "n_layers", "hidden_dim_update", "n_layers_update", "embedding_dim")
        check_nonnegative(self, "n_extra_null_edges")
        # FieldType is a str enum: the comparison holds for the member and for its plain value.
        if self.field_type == FieldType.visual and self.n_layers_nnr_f < 2:
            raise ConfigError(f"model.n_layers_nnr_f={self.n_layers_nnr_f} must be >= 2")
        if self.field_type == FieldType.projected and self.update_type != UpdateType.additive:
            raise ConfigError("model.field_type=projected solves the input from a model in which it enters "
                              "additively: set model.update_type=additive (or field_type=visual)")


@dataclass
class FlyVisTraining(TrainingBase):
    """Training keys with the seed's names (flyvis regime); shared keys come from TrainingBase."""

    batch_size: int = 1  # frames per gradient step
    data_augmentation_loop: int = 20  # step multiplier: n_iter = n_frames * dal / batch_size * 0.2
    lr: float = 1e-3  # learning rate of f_theta and g_phi (lin_phi, lin_edge)
    lr_W: float = 6e-4  # learning rate of the per-edge W
    lr_embedding: float = 1.5e-3  # learning rate of the embeddings a_i (0 falls back to lr)
    lr_field: float = 1e-5  # learning rate of the learned input field, the SIREN (0 falls back to lr)
    coeff_W_L1: float = 3e-5  # L1 on W (sum |W|), annealed by 1 - exp(-W_L1_rate * (epoch + 1))
    W_L1_rate: float = 0.5  # annealing rate of coeff_W_L1 per epoch
    coeff_W_L2: float = 0.0  # L2 on W (sum W^2)
    W_solve_every: int = 0  # additive model: W <- least squares given f_theta, g_phi every k steps and after the last (0 = never)
    coeff_edge_diff: float = 100.0  # g_phi^2 monotone in v: mean relu(g(v) - g(v + dv)) on a grid
    coeff_edge_norm: float = 1.0  # g_phi(v)^2 ~ v at v = 1 (pins the W <-> g_phi scale)
    coeff_edge_weight_L1: float = 0.0  # L1 on g_phi's weights
    coeff_edge_weight_L2: float = 0.0  # L2 on g_phi's weights
    coeff_phi_weight_L1: float = 0.0  # L1 on f_theta's weights
    coeff_phi_weight_L2: float = 0.0  # L2 on f_theta's weights
    normalize_targets: bool = True  # weigh each neuron's squared error by 1/var(dv_i/dt)
    n_checkpoints: int = 4  # checkpoints per run (never in the hot loop)

    #: Every group rate of 0 falls back to lr (f_theta's and g_phi's own rate), see ``param_groups``.
    RATE_FALLBACK: ClassVar[Dict[str, str]] = {"lr_W": "lr", "lr_embedding": "lr", "lr_field": "lr"}

    def group_rates(self, model: FlyVisModel) -> list[str]:
        return ["lr_W", "lr", "lr_embedding"] + (["lr_field"] if model.field_type == FieldType.visual else [])

    def __post_init__(self) -> None:
        super().__post_init__()
        check_nonnegative(self, "W_solve_every")


@dataclass
class FlyVisEvaluation:
    """How the metrics are computed from a trained model (frozen during sweeps: a sweep that could
    change them would change the yardstick, not the learner)."""

    cluster_method: ClusterMethod = ClusterMethod.kmeans  # clustering behind cluster_accuracy
    n_clusters: int = 0  # 0 = chosen from the data by cluster_criterion over [n_clusters_min, n_clusters_max]; > 0 fixes it
    cluster_criterion: ClusterCriterion = ClusterCriterion.bic  # how n_clusters=0 chooses: bic | silhouette
    n_clusters_min: int = 2  # the range n_clusters=0 chooses in (a choice at either end: widen it)
    n_clusters_max: int = 150
    cluster_embedding: bool = False  # also cluster on the raw embedding a_i (besides log tau and V_rest)
    n_rollout_frames: int = 500  # frames of the free test rollout (<= simulation.n_test_frames)
    test_min_std: float = 0.01  # test_R2/test_pearson average over neurons whose test trace std >= this

    _section = "evaluation"

    def __post_init__(self) -> None:
        check_nonnegative(self, "n_clusters")
        if not 2 <= self.n_clusters_min <= self.n_clusters_max:
            raise ConfigError(f"evaluation.n_clusters_min={self.n_clusters_min}, n_clusters_max={self.n_clusters_max}: "
                              f"need 2 <= n_clusters_min <= n_clusters_max")


SCHEMAS = {
    "simulation": FlyVisSimulation,
    "model": FlyVisModel,
    "training": FlyVisTraining,
    "evaluation": FlyVisEvaluation,
}
