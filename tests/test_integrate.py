"""neuralgraph.integrate: explicit Euler against its closed form, numpy and torch alike."""

from __future__ import annotations

import numpy as np
import torch

from neuralgraph.integrate import euler, trajectory


def test_linear_decay_matches_the_closed_form_of_euler():
    # dx/dt = a x: Euler gives x_t = (1 + a h)^(t·substeps) x_0 with h = Δt / substeps.
    a, dt, substeps, n = -0.7, 0.1, 4, 30
    x0 = np.array([1.0, -2.0])
    states, derivs, x_end = trajectory(lambda x, t: a * x, x0, n, dt, derivatives=True, substeps=substeps)
    growth = (1 + a * dt / substeps) ** substeps
    expected = x0[None] * growth ** np.arange(n)[:, None]
    np.testing.assert_allclose(states, expected, rtol=1e-12)
    np.testing.assert_allclose(derivs, a * expected, rtol=1e-12)  # derivative at the recorded state
    np.testing.assert_allclose(x_end, x0 * growth**n, rtol=1e-12)  # one step past the last record


def test_torch_and_numpy_states_agree():
    W = np.random.default_rng(0).standard_normal((5, 5)) / 3

    def f_np(x, t):
        return -x + W @ np.tanh(x)

    Wt = torch.as_tensor(W)

    def f_t(x, t):
        return -x + Wt @ torch.tanh(x)

    x0 = np.linspace(-1, 1, 5)
    np_states, _, _ = trajectory(f_np, x0, 50, 0.05)
    out = []
    euler(f_t, torch.as_tensor(x0), 50, 0.05, record=lambda i, x, dx: out.append(x.clone()))
    np.testing.assert_allclose(np.stack([o.numpy() for o in out]), np_states, rtol=1e-12)


def test_projection_time_offset_and_after_frame():
    seen_t = []

    def f(x, t):
        seen_t.append(t)
        return -np.ones_like(x)

    # Each substep is projected (x >= 0); after_frame runs once per frame, after the substeps.
    frames = []
    x = euler(f, np.array([0.25]), 3, 1.0, substeps=2, t0=-3, project=lambda x: np.maximum(x, 0.0),
              after_frame=lambda x, t: frames.append(t) or x + 1.0)
    assert seen_t == [-3, -3, -2, -2, -1, -1]
    assert frames == [-3, -2, -1]
    # frame -3: 0.25 → 0 → 0 (+1); frame -2: 1 → 0.5 → 0 (+1); frame -1: the same.
    np.testing.assert_allclose(x, [1.0])
