"""Which parameters the data can determine at all.

When a model is linear in its parameters θ given the truth's functional form, the data determine
θ through the design matrix A (one row per frame·node, one column per parameter): directions in
the null space of A change no prediction. A parameter whose unit vector has weight in that null
space cannot be recovered by any learner, so scoring it measures luck, not the method.
"""

from __future__ import annotations

import numpy as np


def null_space_weight(gram: np.ndarray, rel_tol: float = 1e-10) -> np.ndarray:
    """Per parameter, the squared norm of its projection on the numerical null space of A.

    ``gram`` = AᵀA (p × p, accumulated in float64). Eigenvalues below ``rel_tol``·max (i.e.
    singular values below √rel_tol·σ_max) span the null space. Returns w (p,) in [0, 1]:
    w_j = Σ_k V[j, k]² over null eigenvectors k; 0 means fully determined, 1 means free.
    """
    gram = np.asarray(gram, dtype=np.float64)
    evals, evecs = np.linalg.eigh(0.5 * (gram + gram.T))
    top = evals.max() if evals.size else 0.0
    if top <= 0:
        return np.ones(gram.shape[0])
    null = evals < rel_tol * top
    return np.sum(evecs[:, null] ** 2, axis=1)
