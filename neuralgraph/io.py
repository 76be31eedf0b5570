"""Writing files that readers trust: atomically, with the umask's permissions, JSON with NaN as null.

Every writer in NeuralGraph goes through :func:`atomic_path`: the bytes land in a temporary file
beside the target and are renamed onto it only when complete, so a reader (a sweeper, a notebook,
a second process) sees the old file or the new one, never half of one. ``tempfile.mkstemp``
creates files readable by their owner only; the final file gets the permissions an ordinary
``open`` would have given it under the process's umask, so lab members can read shared runs.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np


def _umask() -> int:
    # os.umask can only be read by setting it; set it straight back.
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def json_value(value: Any) -> Any:
    """A value JSON can hold: numpy scalars unwrapped, non-finite floats as null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return json_value(value.tolist())
    return value


def write_json(path: str | os.PathLike, payload: Any, indent: int | None = 2) -> None:
    """Atomically write ``payload`` as JSON; NaN and ±inf become null."""
    write_text(path, json.dumps(json_value(payload), indent=indent, allow_nan=False) + "\n")
