"""Agreement of a clustering with the true classes that does not depend on a one-to-one matching.

``adjusted_rand_index(labels, truth)`` — the Rand index (the fraction of item pairs on which the
two partitions agree: together in both, or apart in both) corrected for chance (Hubert & Arabie,
1985). From the contingency table n_ij (items in class i and cluster j), with row sums a_i,
column sums b_j and n items:

    ARI = (Σ_ij C(n_ij, 2) − E) / (½ (Σ_i C(a_i, 2) + Σ_j C(b_j, 2)) − E),
    E   = Σ_i C(a_i, 2) · Σ_j C(b_j, 2) / C(n, 2).

1 for identical partitions (whatever the label names), about 0 for a random one, negative below
chance. Unlike :func:`neuralgraph.metrics.cluster.matched_accuracy` it does not force one cluster
per class: splitting a class in two costs less than merging two classes, and the number of
clusters may differ from the number of classes without an unmatched cluster counting as all wrong.
"""

from __future__ import annotations

import numpy as np


def _pairs(counts: np.ndarray) -> float:
    c = np.asarray(counts, dtype=np.float64)
    return float(np.sum(c * (c - 1.0)) / 2.0)


def adjusted_rand_index(labels: np.ndarray, truth: np.ndarray) -> float:
    """Adjusted Rand index of the partition ``labels`` against ``truth`` (symmetric in the two)."""
    labels, truth = np.asarray(labels).ravel(), np.asarray(truth).ravel()
    if labels.shape != truth.shape:
        raise ValueError(f"labels {labels.shape} and truth {truth.shape} differ in length")
    n = len(labels)
    _, li = np.unique(labels, return_inverse=True)
    _, ti = np.unique(truth, return_inverse=True)
    table = np.zeros((ti.max(initial=-1) + 1, li.max(initial=-1) + 1), dtype=np.int64)
    np.add.at(table, (ti, li), 1)
    together = _pairs(table)
    rows, cols = _pairs(table.sum(axis=1)), _pairs(table.sum(axis=0))
    expected = rows * cols / _pairs(np.array([n])) if n > 1 else 0.0
    top = 0.5 * (rows + cols) - expected
    if top == 0.0:  # both partitions trivial (one cluster each, or every item alone): they agree
        return 1.0
    return float((together - expected) / top)
