"""Known-law oracles: the unknowns fitted by least squares when the law is linear in them.

For targets y (n,) and a design matrix X (n, p) built from the data with the *true* functional
form, the oracle solves

    θ̂ = argmin_θ ‖X θ − y‖² + ρ ‖θ‖²      (ρ = ``ridge`` · mean diag(XᵀX); 0 = plain least squares)

It says what the data can determine: an unknown whose column of X is (nearly) in the span of the
others is not identifiable by any method (see :func:`weak_directions`).
"""

from __future__ import annotations

import numpy as np


def ridge_lstsq(X: np.ndarray, y: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """θ̂ of min ‖Xθ − y‖² + ρ‖θ‖², ρ = ridge · mean(diag XᵀX); ``y`` may hold several columns."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if ridge <= 0:
        return np.linalg.lstsq(X, y, rcond=None)[0]
    gram = X.T @ X
    rho = ridge * float(np.mean(np.diag(gram)))
    return np.linalg.solve(gram + rho * np.eye(gram.shape[0]), X.T @ y)


def weak_directions(X: np.ndarray, rel_tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Singular values of X (descending) and the share of each unknown in the directions whose
    singular value is below ``rel_tol`` · σ_max: (σ, weight per unknown in [0, 1])."""
    X = np.asarray(X, dtype=np.float64)
    _, sigma, vt = np.linalg.svd(X, full_matrices=True)
    sigma_full = np.zeros(vt.shape[0])
    sigma_full[: sigma.size] = sigma
    weak = sigma_full <= rel_tol * (sigma_full.max() if sigma_full.size else 0.0)
    return sigma, (vt[weak] ** 2).sum(axis=0)
