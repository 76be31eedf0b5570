"""neuralgraph.io: atomic writes that respect the umask, JSON with NaN as null."""

from __future__ import annotations

import json
import math
import os
import stat

import numpy as np
import pytest

from neuralgraph.io import atomic_path, json_value, write_json, write_text


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_file_gets_the_umask_permissions(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_text(tmp_path / "a.txt", "x")
        plain = tmp_path / "plain.txt"
        plain.write_text("x")  # what an ordinary open() gives under the same umask
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "a.txt").stat().st_mode)
    assert mode == stat.S_IMODE(plain.stat().st_mode) == 0o666 & ~umask


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "m.json"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_json_nan_and_inf_become_null_numpy_scalars_unwrap(tmp_path):
    payload = {"a": float("nan"), "b": np.float32(1.5), "c": np.int64(3), "d": [np.inf, 2.0],
               "e": np.bool_(True), "f": {"g": -np.inf}, "h": np.arange(2)}
    write_json(tmp_path / "x.json", payload)
    back = json.loads((tmp_path / "x.json").read_text())
    assert back == {"a": None, "b": 1.5, "c": 3, "d": [None, 2.0], "e": True, "f": {"g": None}, "h": [0, 1]}
    assert json_value(1.0) == 1.0 and not math.isnan(json_value(0.0))
