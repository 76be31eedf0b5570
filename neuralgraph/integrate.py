"""Explicit Euler, the one time stepper of every simulator and every model rollout.

For a state x (numpy array or torch tensor) and a derivative f(x, t), each stored frame t takes
``substeps`` steps of size h = Δt / substeps:

    x ← P(x + h · f(x, t))        (``substeps`` times; P is an optional projection, e.g. max(x, 0))
    x ← A(x, t)                   (once per frame: process noise, a divergence check, ...)

``record(i, x_t, f(x_t, t))`` sees the state at the start of frame t and its derivative (from the
first substep), before the frame is stepped: a simulator stores (x_t, dx/dt) pairs from it, a
rollout stores x_t. The step after the last recorded frame is taken too, so the random stream of
a noisy simulation (and anything drawn from it afterwards) does not depend on how it is recorded.

The same code serves numpy and torch because it only adds and scales states; callers wrap a
rollout in ``torch.no_grad()``.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import numpy as np

State = TypeVar("State")
Derivative = Callable[[State, int], State]


def euler(
    f: Derivative,
    x0: State,
    n_frames: int,
    dt: float,
    *,
    substeps: int = 1,
    t0: int = 0,
    project: Callable[[State], State] | None = None,
    after_frame: Callable[[State, int], State] | None = None,
    record: Callable[[int, State, State], None] | None = None,
) -> State:
    """Integrate ``n_frames`` frames t = t0, …, t0 + n_frames − 1 from ``x0``; return the state after the last."""
    h = dt / substeps
    x = x0
    for i in range(n_frames):
        t = t0 + i
        for s in range(substeps):
            dx = f(x, t)
            if s == 0 and record is not None:
                record(i, x, dx)
            x = x + h * dx
            if project is not None:
                x = project(x)
        if after_frame is not None:
            x = after_frame(x, t)
    return x


def trajectory(
    f: Derivative,
    x0: np.ndarray,
    n_frames: int,
    dt: float,
    *,
    derivatives: bool = False,
    dtype: np.dtype | type = np.float64,
    **kwargs,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``(states, dstates or None, x_final)`` of a numpy integration, stacked as (n_frames, *x0.shape)."""
    shape = (n_frames, *np.shape(x0))
    states = np.empty(shape, dtype=dtype)
    dstates = np.empty(shape, dtype=dtype) if derivatives else None

    def record(i: int, x: np.ndarray, dx: np.ndarray) -> None:
        states[i] = x
        if dstates is not None:
            dstates[i] = dx

    x_final = euler(f, x0, n_frames, dt, record=record, **kwargs)
    return states, dstates, x_final
