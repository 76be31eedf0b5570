"""``data=recording data.path=FILE``: a file checked, smoothed and split (:mod:`neuralgraph.recording.prepare`).

Nothing is simulated or cached; the arrays carry no ground truth, so the family's truth-free
scorer (held-out prediction) scores the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neuralgraph.family import Family
from neuralgraph.recording.prepare import load_recording
from neuralgraph.sources import DataSource, Dataset


class RecordingSource(DataSource):
    """Reads ``cfg.data.path`` (and the graph, types and stimulus files beside it)."""

    name = "recording"

    def load(self, cfg: Any, family: Family) -> Dataset:
        return Dataset(arrays=load_recording(cfg.data), has_truth=False, location=Path(cfg.data.path), how="read")


SOURCE = RecordingSource()
