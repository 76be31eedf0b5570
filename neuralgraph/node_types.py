"""Node types shared by every simulator: which block of nodes shares which parameters."""

from __future__ import annotations

import numpy as np


def contiguous_types(n: int, n_types: int) -> np.ndarray:
    """Types as contiguous, near-equal blocks: node i gets type floor(i·T/n)."""
    return (np.arange(n) * n_types // n).astype(np.int64)
