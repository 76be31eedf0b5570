"""How many dimensions the observed activity explores."""

from __future__ import annotations

import numpy as np


def effective_rank(activity: np.ndarray, fraction: float) -> int:
    """Smallest r whose top-r singular values hold ``fraction`` of the energy Σσ².

    ``activity`` is (frames, nodes) and is **not** mean-centred, as in the users' tools: a constant
    offset counts as one dimension. rank = first index where cumsum(σ²)/Σσ² ≥ fraction, plus one.
    """
    x = np.asarray(activity, dtype=np.float64)
    s = np.linalg.svd(x, compute_uv=False)
    energy = np.cumsum(s**2)
    if energy[-1] == 0:
        return 0
    cum = energy / energy[-1]
    return int(np.searchsorted(cum, fraction - 1e-12) + 1)
