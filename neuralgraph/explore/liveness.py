"""Which jobs of an interrupted sweep are still running, so that a resume does not run them twice.

A sweeper killed under joblib, submitit or SLURM leaves its jobs running. Each job therefore
announces itself: the sweeper wraps the task function in :class:`TrackedTask`, which writes
``.job_alive.json`` into the job's output directory (pid, host, job number), touches it every
``HEARTBEAT_S`` seconds while the task runs, and records how it ended (with the task's return
value, so that an app that writes no ``metrics.json`` is read back too). On resume a job counts as
still running while its marker says so, its heartbeat is fresher than ``stale_s`` and, on the
same host, its process exists; a job that died without ending its marker is launched again.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from neuralgraph.io import write_json

MARKER = ".job_alive.json"
HEARTBEAT_S = 15.0


class TrackedTask:
    """A task function that keeps a liveness marker in its job's output directory.

    Picklable (a module-level class holding the task), so it travels to joblib and submitit
    workers like the task itself. Outside a Hydra job it just calls the task.
    """

    def __init__(self, task: Callable[[Any], Any]) -> None:
        self.task = task

    def __call__(self, cfg: Any) -> Any:
        from hydra.core.hydra_config import HydraConfig

        hydra_cfg = HydraConfig.get()
        marker = _Heartbeat(Path(hydra_cfg.runtime.output_dir) / MARKER, hydra_cfg.job.get("num"))
        try:
            result = self.task(cfg)
        except BaseException as exc:
            marker.stop("failed", error=f"{type(exc).__name__}: {exc}")
            raise
        marker.stop("done", result=result)
        return result


class _Heartbeat:
    """Writes the marker, touches it from a daemon thread, and records the end."""

    def __init__(self, path: Path, job_num: Optional[int]) -> None:
        self.path = path
        self.record = {"state": "running", "pid": os.getpid(), "host": socket.gethostname(),
                       "job_num": job_num, "started": time.time(), "error": ""}
        write_json(path, self.record)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="job-heartbeat")
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:  # the directory went away: nothing left to announce
                return

    def stop(self, state: str, error: str = "", result: Any = None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        kept = result if isinstance(result, (dict, int, float)) and not isinstance(result, bool) else None
        try:
            write_json(self.path, {**self.record, "state": state, "error": error[:2000],
                                   "result": kept, "ended": time.time()})
        except (TypeError, ValueError):  # a result JSON cannot hold: the end without it
            write_json(self.path, {**self.record, "state": state, "error": error[:2000],
                                   "ended": time.time()})


def read_marker(job_dir: Path) -> Optional[dict[str, Any]]:
    """The marker of a job directory, with its heartbeat age in ``age_s`` (None if absent)."""
    path = Path(job_dir) / MARKER
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        record["age_s"] = time.time() - path.stat().st_mtime
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def is_running(record: dict[str, Any], stale_s: float) -> bool:
    """The marker says running, its heartbeat is fresh, and on this host its process exists."""
    if record.get("state") != "running" or record.get("age_s", stale_s + 1) > stale_s:
        return False
    if record.get("host") == socket.gethostname():
        return _pid_alive(int(record.get("pid", -1)))
    return True


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process holds the number: not our job
        return False
    return True


def job_markers(sweep_dir: Path) -> dict[int, Path]:
    """Job number -> job directory, for every marker under the sweep directory."""
    out = {}
    for path in Path(sweep_dir).glob(f"**/{MARKER}"):
        record = read_marker(path.parent)
        if record is not None and isinstance(record.get("job_num"), int):
            out[record["job_num"]] = path.parent
    return out
