"""Stopping a run cleanly: SIGINT (Ctrl-C), SIGTERM (what SLURM and ``kill`` send) and, inside a
submitit job, submitit's preemption signal (SIGUSR2 unless ``SUBMITIT_PREEMPT_SIGNAL`` says
otherwise: SLURM sends it before the time limit).

While the training loop runs, a signal is only noted; the loop finishes the step it is in, saves a
checkpoint and raises :class:`Interrupted` — a checkpoint is never taken halfway through an
optimiser step. Outside the loop (simulation, evaluation) the exception is raised at once. The
entry point turns it into ``metrics.json`` with ``status: interrupted``, one log line and the
shell's exit code for that signal (128 + its number: 130 for SIGINT, 143 for SIGTERM). For
submitit's signal the handler submitit installed is called afterwards, so submitit still
requeues the job (whose run then continues from the checkpoint, see ``resume``).

A second signal while the first is pending stops at once.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any, Callable

#: Signals whose own handling (requeue) belongs to the process that installed the previous handler.
_STOPPING = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by ``signum``; ``step`` is the step the checkpoint holds (None before
    training), ``total`` the run's length (None once training is over)."""

    def __init__(self, signum: int, forward: Callable[[], Any] | None = None) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.step: int | None = None
        self.total: int | None = None
        self._forward = forward

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def describe(self) -> str:
        if self.step is None:
            where = "before training"
        elif self.total is None:
            where = f"after training ({self.step} steps)"
        else:
            where = f"at step {self.step} of {self.total}"
        return f"interrupted by {self.name} {where}"

    def forward(self) -> None:
        """Hand the signal to the handler that was there before (submitit's requeue), if any."""
        if self._forward is not None:
            self._forward()


def _preemption_signal() -> int | None:
    """submitit's preemption signal when running inside a submitit job, else None."""
    if "SUBMITIT_FOLDER" not in os.environ:
        return None
    name = "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
    return getattr(signal, name, None)


class StopSignals:
    """Context manager: the stopping signals' handlers for the duration of a run (main thread only;
    elsewhere signals keep their handlers and this object never reports a stop)."""

    def __init__(self) -> None:
        self.pending: Interrupted | None = None
        self.deferring = False
        self.trained_steps: int | None = None  # set once training is over (a stop then names it)
        self._previous: dict[int, Any] = {}

    def signals(self) -> list[int]:
        extra = _preemption_signal()
        return [*_STOPPING, *([extra] if extra is not None else [])]

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals():
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _interrupted(self, signum: int) -> Interrupted:
        previous = self._previous.get(signum)
        forward = None
        if signum not in _STOPPING and callable(previous):
            def forward() -> None:
                previous(signum, None)
        err = Interrupted(signum, forward)
        err.step = self.trained_steps
        return err

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.deferring and self.pending is None:
            self.pending = self._interrupted(signum)  # honoured at the end of the current step
            return
        raise self._interrupted(signum)
