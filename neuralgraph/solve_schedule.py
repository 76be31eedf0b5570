"""When a family's variable-projection solve runs: every ``every`` steps and after the last one.

A solver (:mod:`neuralgraph.families.signal.solve`, :mod:`neuralgraph.families.flyvis.solve`)
replaces the parameters a model is linear in by their least-squares solution given the learned
functions. The step count lives in the model's ``solver_step`` buffer, so it travels in the
checkpoint and a resumed run solves exactly where an uninterrupted one does.
"""

from __future__ import annotations

import torch


class ScheduledSolve:
    """Base of the solvers: :meth:`after_step` counts the steps and calls :meth:`solve`."""

    every: int
    total: int

    def schedule(self, every: int, total: int) -> None:
        self.every, self.total = int(every), int(total)

    def after_step(self, model: torch.nn.Module) -> None:
        """Count the step just taken; solve when it is a multiple of ``every`` or the last one."""
        model.solver_step += 1
        step = int(model.solver_step)
        if step % self.every == 0 or step == self.total:
            self.solve(model)

    def solve(self, model: torch.nn.Module) -> None:
        raise NotImplementedError
