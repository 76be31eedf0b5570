"""Learning curves as users expect them: ``metrics.csv`` always, TensorBoard on request, and a line
in the job log every ``log_every`` steps when the progress bar is off.

One row per record (about 200 per run): ``step``, ``epoch``, ``loss`` (mean data loss since the
previous record), ``regularization`` (mean regularisation), ``reg_<term>`` (each regulariser at the
record), ``live`` (the family's live recovery metric, an estimate of the primary one),
``lr_<group>`` (each parameter group's learning rate) and ``wall_time_s`` (training seconds so
far, summed over the sessions of a resumed run). A job-log line ends with the elapsed training
time, the mean steps/s and the ETA of the last step. The CSV is rewritten whole, atomically, at every
record, so a reader never sees half a row and a stopped run keeps its curve.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from pathlib import Path
from typing import Any, Sequence

from neuralgraph.errors import ConfigError
from neuralgraph.io import write_text
from neuralgraph.rundir import METRICS_CSV, TENSORBOARD_DIR

log = logging.getLogger("neuralgraph.train")


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as CSV; columns in order of first appearance (a term that starts later is blank before)."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                     for row in rows)
    return out.getvalue()


def pace(step: int, total: int, seconds: float) -> str:
    """``elapsed H:MM:SS, R steps/s, ETA H:MM:SS``: the rate is the run's mean (over every session
    of a resumed run), and the ETA the steps left at that rate."""
    rate = step / seconds if seconds > 0 else float("nan")
    left = (total - step) / rate if rate > 0 else float("nan")
    return f"elapsed {_clock(seconds)}, {rate:.3g} steps/s, ETA {_clock(left)}"


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def summary_writer(log_dir: Path) -> Any:
    """A TensorBoard ``SummaryWriter`` for ``log_dir``, or a ConfigError saying what to install."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ConfigError(
            "tensorboard=true needs the tensorboard package: pip install tensorboard "
            f"(or pip install 'neuralgraph[tensorboard]'); {err}"
        ) from err
    return SummaryWriter(log_dir=str(log_dir))


def _tag(column: str, primary_metric: str) -> str:
    """TensorBoard's name of a CSV column: ``loss/data``, ``loss/reg_<term>``, ``lr/<group>``, …"""
    if column == "live":
        return f"metric/{primary_metric}_live"
    if column.startswith("lr_"):
        return f"lr/{column[3:]}"
    return "loss/data" if column == "loss" else f"loss/{column}"


class CurveLog:
    """Receives the trainer's rows (``Hooks.on_record``) and writes them where the run asks."""

    def __init__(self, run_dir: str | Path, primary_metric: str, tensorboard: bool = False,
                 log_every: int = 0, progress: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.primary_metric = primary_metric
        self.log_every = log_every  # 0: a tenth of the run
        self.progress = progress
        self.next_log: int | None = None
        self.writer = summary_writer(self.run_dir / TENSORBOARD_DIR) if tensorboard else None

    def __call__(self, rows: Sequence[dict[str, Any]], total: int) -> None:
        write_text(self.run_dir / METRICS_CSV, csv_text(rows))
        row = rows[-1]
        if self.writer is not None:
            for column, value in row.items():
                if column not in ("step", "epoch", "wall_time_s") and isinstance(value, float):
                    self.writer.add_scalar(_tag(column, self.primary_metric), value, row["step"])
        if not self.progress:
            self._log_line(row, total)

    def _log_line(self, row: dict[str, Any], total: int) -> None:
        every = self.log_every if self.log_every > 0 else max(1, total // 10)
        if self.next_log is None:
            self.next_log = every
        if row["step"] < self.next_log and row["step"] != total:
            return
        self.next_log = (row["step"] // every + 1) * every
        lrs = " ".join(f"{k}={v:.2e}" for k, v in row.items() if k.startswith("lr_"))
        log.info("step %d/%d (%.0f%%) loss %.4e reg %.3e %s %.4f %s %s", row["step"], total,
                 100.0 * row["step"] / total, row["loss"], row["regularization"], self.primary_metric,
                 row["live"], lrs, pace(row["step"], total, row["wall_time_s"]))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
