"""``data=replay data.path=FILE.npz``: the arrays of the file, as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neuralgraph.family import Family
from neuralgraph.sources import DataSource, Dataset


class ReplaySource(DataSource):
    name = "replay"

    def load(self, cfg: Any, family: Family) -> Dataset:
        path = Path(cfg.data.path)
        with np.load(path) as npz:
            arrays = {key: npz[key] for key in npz.files}
        return Dataset(arrays=arrays, has_truth=cfg.data.has_truth, location=path, how="read")


SOURCE = ReplaySource()
