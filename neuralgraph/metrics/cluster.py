"""How well the learned embeddings separate the true neuron types.

``cluster_accuracy``:

1. min-max normalise the embeddings with one global min and max over all coordinates (as the
   reference does);
2. cluster them by single-linkage hierarchical clustering cut at distance ``threshold``
   (scipy ``linkage(method="single")`` + ``fcluster(criterion="distance")``; reference: 0.1);
3. match clusters to true types one-to-one so that the most neurons agree (Hungarian assignment
   on the type × cluster contingency table, ``scipy.optimize.linear_sum_assignment``);
4. accuracy = matched neurons / all neurons.

The reference instead maps each type to the rounded median of its neurons' cluster labels, which
scores 1.0 when every neuron lands in a single cluster; the one-to-one matching scores that case
1/n_types. The number of clusters is returned too.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.optimize import linear_sum_assignment


def cluster_labels(embeddings: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Single-linkage cluster label per row of the min-max normalised embeddings."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    lo, hi = x.min(), x.max()
    x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    if len(x) < 2:
        return np.zeros(len(x), dtype=np.int64)
    return fcluster(linkage(x, method="single"), t=threshold, criterion="distance").astype(np.int64)


def matched_accuracy(labels: np.ndarray, types: np.ndarray) -> float:
    """Fraction of items whose cluster is matched to their type by the best one-to-one matching."""
    labels, types = np.asarray(labels), np.asarray(types)
    _, li = np.unique(labels, return_inverse=True)
    _, ti = np.unique(types, return_inverse=True)
    table = np.zeros((ti.max() + 1, li.max() + 1), dtype=np.int64)
    np.add.at(table, (ti, li), 1)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum()) / len(types)


def cluster_accuracy(embeddings: np.ndarray, types: np.ndarray, threshold: float = 0.1) -> tuple[float, int]:
    """(accuracy, number of clusters) of the embeddings against the true ``types``."""
    labels = cluster_labels(embeddings, threshold)
    return matched_accuracy(labels, types), int(len(np.unique(labels)))
