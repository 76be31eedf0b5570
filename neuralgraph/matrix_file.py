"""Read a matrix a researcher brings (a measured connectome, a known stoichiometry) from disk.

Accepted: ``.npy`` (loaded without pickle) and ``.pt`` (a tensor or array, or a dict holding it
under ``dict_key``; loaded with ``weights_only=True``). Every failure is a
:class:`~neuralgraph.errors.DataError` naming the config key and the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuralgraph.errors import DataError


def load_matrix(path: str | Path, key: str, dict_key: str) -> np.ndarray:
    """A finite 2-D float64 array from ``path``; ``key`` is the config key named in errors."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{key}={str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".pt"):
        raise DataError(f"{key}={str(path)!r}: use a .pt or .npy file")
    try:
        if suffix == ".npy":
            M = np.load(path, allow_pickle=False)
        else:
            import torch

            obj = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(obj, dict):
                if dict_key not in obj:
                    raise DataError(f"{key}={str(path)!r}: a .pt dict must hold the matrix under key {dict_key!r} "
                                    f"(keys: {sorted(obj)})")
                obj = obj[dict_key]
            M = obj.detach().cpu().numpy() if hasattr(obj, "detach") else np.asarray(obj)
    except DataError:
        raise
    except Exception as err:  # unreadable file of the right suffix
        raise DataError(f"{key}={str(path)!r} cannot be read: {err}") from err
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 2:
        raise DataError(f"{key}={str(path)!r}: expected a 2-D matrix, got shape {M.shape}")
    if not np.isfinite(M).all():
        raise DataError(f"{key}={str(path)!r}: the matrix holds {int((~np.isfinite(M)).sum())} NaN/inf entries")
    return M
