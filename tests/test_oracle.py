"""metrics.oracle against numpy/scipy on hand-built cases."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from neuralgraph.metrics.oracle import ridge_lstsq, weak_directions


def test_noise_free_recovery_to_1e6_and_scipy_agreement():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 12))
    theta = rng.standard_normal((12, 3))
    y = X @ theta
    np.testing.assert_allclose(ridge_lstsq(X, y), theta, atol=1e-6)
    noisy = y + 0.01 * rng.standard_normal(y.shape)
    np.testing.assert_allclose(ridge_lstsq(X, noisy), scipy.linalg.lstsq(X, noisy)[0], rtol=1e-10, atol=1e-12)


def test_ridge_matches_the_augmented_least_squares_problem():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((50, 6)), rng.standard_normal(50)
    rho = 0.1 * np.mean(np.sum(X**2, axis=0))
    augmented = np.vstack([X, np.sqrt(rho) * np.eye(6)])
    expected = np.linalg.lstsq(augmented, np.concatenate([y, np.zeros(6)]), rcond=None)[0]
    np.testing.assert_allclose(ridge_lstsq(X, y, ridge=0.1), expected, rtol=1e-10)


def test_weak_directions_flag_the_unknowns_the_data_cannot_separate():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((100, 4))
    X[:, 3] = X[:, 2]  # unknowns 2 and 3 only enter as their sum
    sigma, weight = weak_directions(X)
    assert sigma.shape == (4,) and sigma[-1] < 1e-10 * sigma[0]
    np.testing.assert_allclose(weight, [0, 0, 0.5, 0.5], atol=1e-10)
