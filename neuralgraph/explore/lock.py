"""One sweeper per sweep directory: an exclusive lock held for the whole sweep.

Two sweepers on one directory would each extend the same tree and reuse each other's job
directories. The lock is ``flock`` on ``.sweep.lock`` in the sweep directory: the kernel releases
it when the holder exits, however it exits (a killed sweep leaves no stale lock to clean up), and
the file's text (pid, host, start time) names the holder in the refusal. The descriptor is not
inherited by launched jobs, so a job still running after its sweeper died does not hold it.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path
from typing import IO, Optional

from .errors import SweepError

LOCK_FILE = ".sweep.lock"


class SweepLock:
    """``with SweepLock(sweep_dir, "ucb_llm"):`` — raises :class:`SweepError` if another holds it."""

    def __init__(self, sweep_dir: Path, sweeper: str) -> None:
        self.path = Path(sweep_dir) / LOCK_FILE
        self.sweeper = sweeper
        self._file: Optional[IO[str]] = None

    def __enter__(self) -> "SweepLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until __exit__)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise SweepError(
                f"{self.sweeper}: the sweep directory {self.path.parent} is in use by another "
                f"sweeper ({holder}); wait for it to finish or choose another hydra.sweep.dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{self.sweeper} pid {os.getpid()} on {socket.gethostname()} since "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
