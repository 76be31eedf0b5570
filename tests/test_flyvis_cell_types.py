"""Cell types without the answer: the number of clusters chosen from the data, the adjusted Rand
index, and the graph-only baseline, each against an independent computation on known cases."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture

from neuralgraph.errors import ConfigError
from neuralgraph.families.flyvis import celltypes
from neuralgraph.families.flyvis.config import ClusterCriterion, FlyVisEvaluation
from neuralgraph.families.flyvis.evaluate import cell_types
from neuralgraph.launch import compose_regime
from neuralgraph.metrics.cluster import matched_accuracy
from neuralgraph.train import typed


# -- the number of clusters ----------------------------------------------------------------------


def _blobs(k: int, n_per: int = 40, dim: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_blobs(n_samples=[n_per] * k, n_features=dim, cluster_std=0.3, center_box=(-30, 30), random_state=seed)
    return x, y


@pytest.mark.parametrize("k", [3, 7, 12])
@pytest.mark.parametrize("criterion", [ClusterCriterion.silhouette, ClusterCriterion.bic, "silhouette", "bic"])
def test_the_number_of_blobs_is_found(k, criterion):
    x, y = _blobs(k, seed=k)
    choice = celltypes.choose_n_clusters(x, 2, 30, criterion, seed=0)
    assert choice.k == k
    labels, k_used = celltypes.read_types(x, "kmeans", 0, 2, 30, criterion, 0)
    assert k_used == k and adjusted_rand_score(y, labels) == 1.0


def test_the_coarse_to_fine_scan_finds_the_best_k_of_a_full_scan():
    """Against sklearn's silhouette of k-means at every k in the range (same starts and seed)."""
    x, _ = _blobs(9, n_per=25, seed=3)
    xs = celltypes.standardised(x)
    full = {k: silhouette_score(xs, KMeans(k, n_init=celltypes.CHOOSE_STARTS, random_state=1).fit_predict(xs))
            for k in range(2, 41)}
    choice = celltypes.choose_n_clusters(x, 2, 40, "silhouette", seed=1)
    assert choice.k == max(full, key=full.get)
    for k, s in zip(choice.ks, choice.scores):
        assert s == pytest.approx(full[k], abs=1e-12)
    assert list(choice.ks) == sorted(choice.ks) and len(choice.ks) < len(full)


def test_bic_scores_are_sklearn_gaussian_mixture_bic():
    x, _ = _blobs(4, seed=5)
    xs = celltypes.standardised(x)
    for k in (2, 4, 6):
        ref = GaussianMixture(k, covariance_type="spherical", random_state=2, reg_covar=celltypes.REG_COVAR).fit(xs)
        assert celltypes.criterion_score(xs, k, "bic", 2) == pytest.approx(-ref.bic(xs), rel=1e-12)


def test_scan_grid_spans_the_range():
    for lo, hi in [(2, 150), (2, 3), (5, 5), (10, 40), (2, 200)]:
        grid = celltypes.scan_grid(lo, hi)
        assert grid[0] == lo and grid[-1] == hi and grid == sorted(set(grid))
        assert len(grid) <= celltypes.COARSE_STEPS + 1
        assert max(np.diff(grid), default=0) <= max(1, int(np.ceil((hi - lo) / (celltypes.COARSE_STEPS - 1))))


def test_choosing_on_a_sample_and_a_small_data_set():
    x, _ = _blobs(5, n_per=200, seed=8)
    assert celltypes.choose_n_clusters(x, 2, 20, "silhouette", seed=0, sample=300).k == 5
    # k_max above the number of points is lowered; two points leave one choice
    assert celltypes.choose_n_clusters(x[:6], 2, 150, "silhouette", seed=0).k <= 5
    assert celltypes.choose_n_clusters(x[:2], 2, 150, "silhouette", seed=0).k == 1


def test_a_fixed_number_of_clusters_is_used_as_given():
    x, _ = _blobs(6, seed=1)
    labels, k = celltypes.read_types(x, "kmeans", 4, 2, 30, "silhouette", 0)
    assert k == 4 and len(np.unique(labels)) == 4


# -- the graph-only baseline ---------------------------------------------------------------------


def _tiled_graph(n_cols: int = 30, seed: int = 0):
    """Four types per column, wired by type (0 -> 1 -> 2 -> 3, 3 -> 0 of the next column, 0 -> 2),
    so that the types are told apart by their wiring alone."""
    rng = np.random.default_rng(seed)
    types = np.tile(np.arange(4), n_cols)
    node = lambda c, t: 4 * (c % n_cols) + t  # noqa: E731
    src, tgt = [], []
    for c in range(n_cols):
        for a, b, dc in [(0, 1, 0), (1, 2, 0), (2, 3, 0), (3, 0, 1), (0, 2, 0), (0, 2, 1)]:
            src.append(node(c, a))
            tgt.append(node(c + dc, b))
    order = rng.permutation(len(types))  # neuron ids shuffled: nothing in their order says the type
    inverse = np.argsort(order)
    return types[order], inverse[np.asarray(src)], inverse[np.asarray(tgt)]


def test_graph_types_recover_types_defined_by_wiring():
    types, src, tgt = _tiled_graph()
    labels = celltypes.graph_types(len(types), src, tgt, "kmeans", 4, seed=0)
    assert matched_accuracy(labels, types) == 1.0
    assert labels.min() == 0 and labels.max() == 3


def test_graph_types_read_nothing_but_the_edges():
    """Permuting the neurons permutes the labels' partition and nothing else."""
    types, src, tgt = _tiled_graph(seed=1)
    a = celltypes.graph_types(len(types), src, tgt, "kmeans", 4, seed=0, rounds=2)
    perm = np.random.default_rng(2).permutation(len(types))
    b = celltypes.graph_types(len(types), perm[src], perm[tgt], "kmeans", 4, seed=0, rounds=2)
    assert adjusted_rand_score(a, b[perm]) == 1.0


def _model_and_fit(types, src, tgt, feats):
    model = SimpleNamespace(a=torch.zeros(len(types), 2), edge_src=torch.as_tensor(src), edge_tgt=torch.as_tensor(tgt))
    fit = {"tau": np.exp(feats[:, 0]), "V_rest": feats[:, 1]}
    return model, fit


def test_cell_types_beat_the_graph_when_the_dynamics_tell_the_types_apart():
    types, src, tgt = _tiled_graph(n_cols=40)
    rng = np.random.default_rng(3)
    centres = np.array([[-3.0, 0.0], [-1.5, 1.0], [-2.5, -1.0], [-1.0, -0.5]])
    model, fit = _model_and_fit(types, src, tgt, centres[types] + 0.01 * rng.normal(size=(len(types), 2)))
    # Edges scrambled: the wiring now says nothing of the types.
    src = rng.integers(0, len(types), len(src))
    model.edge_src = torch.as_tensor(src)
    arrays = {"node_type": types, "type_names": np.array(list("abcd"))}
    metrics, results = cell_types(model, arrays, fit, np.ones(len(src)), FlyVisEvaluation(n_clusters_max=12), 0)
    assert metrics["n_clusters"] == 4
    assert metrics["cluster_accuracy"] == 1.0 and metrics["cluster_ARI"] == 1.0
    assert metrics["cluster_ARI"] == pytest.approx(adjusted_rand_score(types, results["cluster_labels"]))
    assert metrics["baseline_cluster_ARI"] == pytest.approx(adjusted_rand_score(types, results["baseline_cluster_labels"]))
    assert metrics["baseline_cluster_accuracy"] < 0.9
    assert metrics["cluster_beats_graph"] is True


def test_cell_types_do_not_beat_the_graph_when_only_the_wiring_tells_them_apart():
    types, src, tgt = _tiled_graph(n_cols=40)
    rng = np.random.default_rng(4)
    model, fit = _model_and_fit(types, src, tgt, rng.normal(size=(len(types), 2)))  # dynamics: no type in them
    arrays = {"node_type": types, "type_names": np.array(list("abcd"))}
    metrics, _ = cell_types(model, arrays, fit, np.ones(len(src)), FlyVisEvaluation(n_clusters=4), 0)
    assert metrics["n_clusters"] == 4
    assert metrics["baseline_cluster_accuracy"] == 1.0 and metrics["baseline_cluster_ARI"] == 1.0
    assert metrics["cluster_accuracy"] < 0.9
    assert metrics["cluster_beats_graph"] is False


# -- configuration: no default knows the number of types -----------------------------------------


def test_the_default_number_of_clusters_is_chosen_from_the_data():
    e = FlyVisEvaluation()
    assert e.n_clusters == 0 and e.cluster_criterion == ClusterCriterion.bic
    assert e.n_clusters_min <= 65 <= e.n_clusters_max  # the range holds the truth; nothing points at it
    for bad in (dict(n_clusters=-1), dict(n_clusters_min=1), dict(n_clusters_min=50, n_clusters_max=20)):
        with pytest.raises(ConfigError, match="n_clusters"):
            FlyVisEvaluation(**bad)


@pytest.mark.parametrize("regime", ["tiny_flyvis", "flyvis_small", "flyvis", "flyvis_known_input", "flyvis_reference"])
def test_no_flyvis_regime_fixes_the_number_of_types(regime):
    assert typed(compose_regime(regime)).evaluation.n_clusters == 0
