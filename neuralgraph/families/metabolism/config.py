"""Schemas of the metabolism family: simulation (ground truth), model and training.

Each dataclass checks its own values in ``__post_init__`` (ranges, and keys of the same block that
must agree), so a bad value is refused with its key named when the composed config becomes typed
objects. Keys of different blocks that must agree are checked by ``MetabolismFamily.check``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar, Dict, List, Optional

from neuralgraph.config.base import TrainingBase, check_nonnegative, check_positive
from neuralgraph.errors import ConfigError


class Stoichiometry(str, Enum):
    """How the ground-truth stoichiometric matrix S is built."""

    cycles = "cycles"  # autocatalytic cycles: food + catalyst -> 2 catalyst (entries ±1)
    random = "random"  # random mass-conserving reactions (1-3 substrates, coefficients 1-2)
    file = "file"  # integer matrix read from stoichiometry_file (substrates = negative entries)


class RateLaw(str, Enum):
    """Ground-truth reaction rate law."""

    mass_action = "mass_action"  # v_j = k_j prod_i c_i^{|S_ij|}
    mlp = "mlp"  # v_j = k_j * softplus(rho(sum_i sigma(c_i, |S_ij|))) with fixed random MLPs


@dataclass
class MetabolismSimulation:
    """dc_i/dt = -lambda_t(i) (c_i - c_base,t(i)) + sum_j S_ij v_j(c)."""

    _section = "simulation"

    family: str = "metabolism"  # which simulator/model/evaluator family this block belongs to
    seed: int = 42  # seeds S, k, c0 and noise: the whole ground truth
    n_metabolites: int = 100  # number of metabolites (nodes of the first kind)
    n_metabolite_types: int = 2  # homeostasis types, as contiguous blocks of metabolites
    n_reactions: int = 256  # number of reactions (nodes of the second kind)
    stoichiometry: Stoichiometry = Stoichiometry.cycles  # S constructor
    cycle_length: int = 3  # metabolites per autocatalytic cycle (cycles constructor)
    max_metabolites_per_reaction: int = 4  # random constructor: substrates + products per reaction
    rate_law: RateLaw = RateLaw.mass_action  # ground-truth rate law
    rate_mlp_hidden: int = 16  # width of the random rate-law MLPs (rate_law=mlp)
    rate_mlp_gain: float = 1.0  # rate_law=mlp: v = k softplus(gain * rho(...)); larger = rates vary more with c
    rate_mlp_input_scale: float = 5.0  # rate_law=mlp: the substrate MLP sees c / rate_mlp_input_scale
    # random constructor: no two reactions share substrates and orders (their rates would be
    # proportional, so their columns of S could not be told apart from the dynamics)
    distinct_substrates: bool = False
    stoichiometry_file: str = ""  # stoichiometry=file: .npy or .pt integer matrix (n_metabolites x n_reactions)
    log_k_min: float = -2.0  # log10 k_j ~ U[log_k_min, log_k_max]
    log_k_max: float = -1.0
    homeostatic_lambda: List[float] = field(default_factory=lambda: [0.001, 0.002])  # lambda per type
    homeostatic_baseline: List[float] = field(default_factory=lambda: [4.0, 6.0])  # c_base per type
    concentration_min: float = 1.0  # c_i(0) ~ U[concentration_min, concentration_max]
    concentration_max: float = 9.0
    n_frames: int = 2880  # frames kept per run (n_frames + 1 states are stored, frame 0 included)
    delta_t: float = 0.1  # time between stored frames
    # Euler steps per stored frame (each of delta_t/substeps), the minimum: the simulator doubles it
    # until the drawn rates integrate stably (no blow-up, no overshoot below zero) and stores the
    # number used in the dataset. The reference uses 1 (docs/metabolism.md).
    substeps: int = 1
    flux_limit: bool = False  # scale reactions so no substrate is consumed below zero in one step
    noise_model_level: float = 0.0  # std of Gaussian process noise added to c after each step
    measurement_noise_level: float = 0.0  # std of noise on the observed c; targets become finite differences
    # Independent training runs (trials), each from fresh initial concentrations and n_frames long;
    # the learner and the oracle pool their frames. Several short trials cover more of the
    # concentration space than one long run of the same total length.
    n_trials: int = 1
    n_test_runs: int = 1  # held-out runs from fresh initial conditions, used by test_R2 / test_pearson

    def __post_init__(self) -> None:
        check_positive(self, "n_metabolites", "n_reactions", "n_frames", "n_trials", "n_metabolite_types", "substeps",
                       "delta_t", "rate_mlp_hidden", "rate_mlp_gain", "rate_mlp_input_scale")
        check_nonnegative(self, "n_test_runs", "noise_model_level", "measurement_noise_level")
        if self.log_k_min > self.log_k_max:
            raise ConfigError(
                f"simulation.log_k_min={self.log_k_min} is larger than simulation.log_k_max={self.log_k_max}"
            )
        if self.concentration_min < 0 or self.concentration_min > self.concentration_max:
            raise ConfigError(
                "simulation.concentration_min/max must satisfy 0 <= min <= max, got "
                f"{self.concentration_min}, {self.concentration_max}"
            )
        self._check_types()
        self._check_constructor()

    def _check_types(self) -> None:
        n_types = self.n_metabolite_types
        for key in ("homeostatic_lambda", "homeostatic_baseline"):
            values = getattr(self, key)
            if len(values) != n_types:
                raise ConfigError(
                    f"simulation.{key} has {len(values)} values; it needs one per type "
                    f"(n_metabolite_types={n_types})"
                )
        if any(lam < 0 for lam in self.homeostatic_lambda):
            raise ConfigError(f"simulation.homeostatic_lambda={list(self.homeostatic_lambda)}: values must be >= 0")
        if n_types > self.n_metabolites:
            raise ConfigError(f"simulation.n_metabolite_types={n_types} exceeds n_metabolites={self.n_metabolites}")

    def _check_constructor(self) -> None:
        """The keys of the chosen S constructor."""
        n_met = self.n_metabolites
        if self.stoichiometry == Stoichiometry.file and not self.stoichiometry_file:
            raise ConfigError("simulation.stoichiometry=file needs simulation.stoichiometry_file (a .npy or .pt matrix)")
        if self.stoichiometry == Stoichiometry.cycles and not 2 <= self.cycle_length <= n_met:
            raise ConfigError(f"simulation.cycle_length={self.cycle_length} must be in [2, n_metabolites={n_met}]")
        if self.stoichiometry == Stoichiometry.random:
            if self.max_metabolites_per_reaction < 2:
                raise ConfigError(
                    f"simulation.max_metabolites_per_reaction={self.max_metabolites_per_reaction} must be >= 2"
                )
            if n_met < self.max_metabolites_per_reaction:
                raise ConfigError(
                    f"simulation.n_metabolites={n_met} must be >= "
                    f"max_metabolites_per_reaction={self.max_metabolites_per_reaction}"
                )


class Aggregation(str, Enum):
    """How a reaction's substrates combine into its rate v_j."""

    product = "product"  # v_j = k_j prod_i MLP_sub(c_i, |s_ij|)  (mass-action-like)
    additive = "additive"  # v_j = k_j softplus(MLP_rate(sum_i MLP_sub(c_i, |s_ij|)))  (the seed's MLP law)


class SubstrateForm(str, Enum):
    """Product mode: how MLP_sub turns (c, |s|) into the substrate term f(c, |s|) > 0."""

    softplus = "softplus"  # f = softplus(g(c / c_scale, s)): cannot reach 0 at c = 0 (the seed's form)
    log = "log"  # ln f = g(ln(c / c_scale + eps) / LOG_WIDTH, s): c^s is a line in ln c, f -> 0 as c -> 0


class SInit(str, Enum):
    """Learned S: where the coefficients start."""

    random = "random"  # N(0, S_init_scale^2) per edge
    # From the known graph alone: every substrate -S_init_scale, the other edges of the reaction
    # share the consumed mass evenly (each column sums to 0), as a chemist would first write it.
    roles = "roles"


class SubstrateOrders(str, Enum):
    """Learned S: where the substrate order |s| fed to MLP_sub comes from."""

    tied = "tied"  # |S_ij| of the same edge
    free = "free"  # its own learnable magnitude (trained with lr_S)


@dataclass
class MetabolismModel:
    """dc_i/dt = MLP_node(c_i, a_i) + sum_j S_ij v_j(c), with S given or learned.

    ``log_k_init=None`` (the default) starts every log10 k at log10 kappa, kappa the one scalar of
    the least-squares fit  y_fi ~ kappa sum_j S_ij prod_{sub(j)} c_fi^|s| + b_i + w_i c_fi  of the
    observed derivatives (per-metabolite lines b_i + w_i c_i for homeostasis, residuals weighted
    by the loss scale; S learned: the graph's guess for S), see ``start.py``; a number sets it by hand.
    """

    _section = "model"

    family: str = "metabolism"
    # Learn S: one signed coefficient per edge of the known metabolite-reaction graph (the
    # substrate magnitudes fed to MLP_sub are tied to them: |S_ij|). False: S is given, frozen.
    learn_stoichiometry: bool = False
    aggregation: Aggregation = Aggregation.product  # product | additive (see Aggregation)
    homeostasis: bool = True  # include the MLP_node(c_i, a_i) term
    msg_dim: int = 16  # additive: width of the per-substrate message MLP_sub(c, |s|)
    hidden_dim_rate: int = 32  # additive: MLP_rate width
    n_layers_rate: int = 2  # additive: MLP_rate linear layers
    # Learned S: the reaction order |s| fed to MLP_sub is |S| of the same edge (tied) or a separate
    # learnable magnitude per substrate edge, starting at 1 (free; the older reference's sto_sub)
    substrate_orders: SubstrateOrders = SubstrateOrders.tied
    S_init: SInit = SInit.random  # learned S starts random, or from the substrate/product roles
    S_init_scale: float = 0.1  # random: std of the start; roles: the substrates' start magnitude
    # Learned S: substrate edges (known from the graph) stay <= 0 and all other edges >= 0
    # (projection after every step; the initial signs follow the same rule).
    S_sign_constraint: bool = False
    # Learned S on a superset of the true edges: this many extra candidate (metabolite, reaction)
    # pairs per true edge, drawn at random among the zeros of S (seeded by training.seed); their
    # true coefficient is 0, so the sparsity pattern can be scored.
    extra_edge_fraction: float = 0.0
    embedding_dim: int = 2  # per-metabolite embedding a_i fed to MLP_node
    # Add a per-metabolite line s_i (b_i + w_i c / c_scale) to MLP_node (s_i: the metabolite's
    # target scale): each metabolite's own relaxation gets its own parameters instead of going
    # through the shared MLP and a barely trained embedding.
    node_line: bool = True
    # The shared MLP_node(c_i, a_i) term; false leaves homeostasis to the per-metabolite line
    # (when relaxation is known to be linear: the MLP, trained on the rare high concentrations of
    # bursting metabolites, adds small errors there that a chaotic rollout amplifies).
    node_mlp: bool = True
    hidden_dim_sub: int = 64  # MLP_sub width
    n_layers_sub: int = 3  # MLP_sub linear layers
    hidden_dim_node: int = 64  # MLP_node width
    n_layers_node: int = 3  # MLP_node linear layers
    # Divide MLP_sub(c, s) by MLP_sub(1, s): the rate law is then pinned to 1 at c = 1, as c^s is,
    # which removes the k <-> MLP_sub scale ambiguity by construction (docs/metabolism.md).
    sub_normalized: bool = True
    # Product mode: the substrate function's form (see SubstrateForm and docs/metabolism.md).
    substrate_form: SubstrateForm = SubstrateForm.log
    log_k_init: Optional[float] = None  # initial log10 k of every reaction; None: estimated from the data (start.py)
    log_k_init_spread: float = 0.0  # half-width of a uniform jitter around log_k_init

    def __post_init__(self) -> None:
        check_positive(self, "hidden_dim_sub", "n_layers_sub", "hidden_dim_node", "n_layers_node",
                       "msg_dim", "hidden_dim_rate", "n_layers_rate", "S_init_scale")
        check_nonnegative(self, "embedding_dim", "extra_edge_fraction")
        if not self.node_mlp and not (self.node_line and self.homeostasis):
            raise ConfigError("model.node_mlp=false leaves homeostasis to the per-metabolite line: "
                              "set model.node_line=true and model.homeostasis=true (or node_mlp=true)")
        if self.learn_stoichiometry:
            return
        # Keys that act on a learned S do nothing with S given: refuse them rather than ignore them.
        if self.S_sign_constraint:
            raise ConfigError("model.S_sign_constraint=true acts on a learned S: set model.learn_stoichiometry=true")
        if self.extra_edge_fraction > 0:
            raise ConfigError("model.extra_edge_fraction > 0 needs model.learn_stoichiometry=true")
        if self.substrate_orders != SubstrateOrders.tied:
            raise ConfigError("model.substrate_orders=free needs model.learn_stoichiometry=true")


class IntegerLoss(str, Enum):
    """Penalty pulling learned coefficients toward integers (coeff_S_integer)."""

    sin2 = "sin2"  # mean sin^2(pi S)  (the reference's form; smooth everywhere)
    round = "round"  # mean (S - round(S))^2  (the seed's "integer rounding loss")


class LossWeight(str, Enum):
    """Per-metabolite weight of the squared error in the data loss."""

    uniform = "uniform"
    inverse_participation = "inverse_participation"  # 1 / (edges of the metabolite in the known graph)


@dataclass
class MetabolismTraining(TrainingBase):
    """Training keys for the metabolism family (S given or learned)."""

    batch_size: int = 8
    data_augmentation_loop: int = 1000
    lr_k: float = 5e-3  # learning rate of log10 k (0 falls back to lr)
    lr_node: float = 1e-3  # learning rate of MLP_node (0 falls back to lr)
    lr_sub: float = 1e-3  # learning rate of MLP_sub (0 falls back to lr)
    lr_embedding: float = 1e-4  # learning rate of the embeddings a_i (0 falls back to lr_node)
    coeff_MLP_sub_diff: float = 0.0  # monotonicity of MLP_sub in c: relu(f(c) - f(c + dc))
    coeff_MLP_node_L1: float = 0.0  # mean |MLP_node| on the batch: keeps homeostasis small
    coeff_MLP_sub_norm: float = 0.0  # (MLP_sub(1, 1) - 1)^2, pins the scale when not normalised
    coeff_k_floor: float = 0.0  # sum relu(log k_start - k_floor_below_start - log k)^2
    k_floor_below_start: float = 0.5  # the floor of coeff_k_floor, in dex below the initial log10 k
    # Weight each metabolite's squared error by 1/var(dc_i/dt): slow metabolites count as much as
    # fast ones (homeostasis lives in the small residuals).
    normalize_targets: bool = True
    loss_weight: LossWeight = LossWeight.uniform  # per-metabolite weight of the squared error
    # --- learned stoichiometry (model.learn_stoichiometry=true); refused otherwise when non-zero ---
    lr_S: float = 1e-3  # learning rate of the S coefficients (0 falls back to lr)
    coeff_S_L1: float = 0.0  # coeff * sum |S_e| over the learnable edges (after n_epochs_init)
    n_epochs_init: int = 0  # epochs of phase 1, in which first_coeff_L1 replaces coeff_S_L1
    first_coeff_L1: float = 0.0  # L1 coefficient during phase 1 (two-phase schedule)
    coeff_S_L2: float = 0.0  # coeff * sum S_e^2
    coeff_S_integer: float = 0.0  # coeff * integer penalty (see S_integer_loss)
    S_integer_loss: IntegerLoss = IntegerLoss.sin2  # sin2 | round
    coeff_mass_conservation: float = 0.0  # coeff * mean_j (sum_i S_ij)^2 over reactions with edges
    # coeff * sum_e (S_e - S_e at the start)^2: a Gaussian prior on S centred on the graph's guess
    # (needs model.S_init=roles); it decides only where the data leave S free (docs/stoichiometry.md)
    coeff_S_prior: float = 0.0
    S_soft_threshold: float = 0.0  # after each step S <- sign(S) max(|S| - this, 0)  (proximal L1)
    S_grad_clip: float = 0.0  # clip the gradient of S to this L2 norm before each step (0 = off)

    #: Every group rate of 0 falls back to lr (the embeddings' to lr_node), see ``param_groups``.
    RATE_FALLBACK: ClassVar[Dict[str, str]] = {"lr_k": "lr", "lr_sub": "lr", "lr_node": "lr", "lr_embedding": "lr_node",
                                               "lr_S": "lr"}

    def group_rates(self, model: MetabolismModel) -> list[str]:
        return ["lr_k", "lr_sub", "lr_node", "lr_embedding"] + (["lr_S"] if model.learn_stoichiometry else [])

    #: Keys that act on a learned S only (refused with S given, see ``MetabolismFamily.check``).
    LEARNED_S_KEYS = ("coeff_S_L1", "first_coeff_L1", "coeff_S_L2", "coeff_S_integer", "coeff_mass_conservation",
                      "coeff_S_prior", "S_soft_threshold", "S_grad_clip")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_nonnegative(self, "n_epochs_init", "first_coeff_L1", "S_soft_threshold", "S_grad_clip", "coeff_S_prior",
                          "k_floor_below_start")


@dataclass
class MetabolismEvaluation:
    """How the metrics are computed from a trained model (frozen during sweeps: a sweep that could
    change them would change the yardstick, not the learner)."""

    _section = "evaluation"

    # test_R2/test_pearson score free rollouts of this many frames, started at evenly spaced
    # frames of the held-out run: the autocatalytic regimes are chaotic, and no model (not even the
    # truth perturbed by 1e-6) tracks a single rollout over thousands of frames.
    test_window: int = 200
    test_n_windows: int = 10  # rollout windows averaged in test_R2/test_pearson
    # A learned S: a candidate edge counts as present when its gauge-fixed coefficient is at
    # least this large in magnitude (0.5: it rounds to a non-zero integer).
    sparsity_threshold: float = 0.5

    def __post_init__(self) -> None:
        check_positive(self, "sparsity_threshold", "test_window", "test_n_windows")


SCHEMAS = {
    "simulation": MetabolismSimulation,
    "model": MetabolismModel,
    "training": MetabolismTraining,
    "evaluation": MetabolismEvaluation,
}
