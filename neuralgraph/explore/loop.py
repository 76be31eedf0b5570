"""One ``ucb_llm`` sweep: rounds of (parents -> proposals -> validation -> launch -> record).

The loop knows Hydra only through three callables the plugin hands it: ``launch(batch, idx)``
(the configured launcher), ``compose(overrides)`` (the job config a list of overrides produces)
and the sweep directory. :class:`Explorer` only coordinates; each job has its own module:

- :mod:`.regimes` — what each regime contributes (space, reward key, root config, seed,
  instruction document) and the overrides of its jobs;
- :mod:`.planning` — a round's parents, the proposer's answers, validation, re-asks, fallback;
- :mod:`.jobs` — launching a round and resuming the jobs a kill left pending;
- :mod:`.recording` — results into the tree, block summaries, the files in the sweep directory.

Before the first job the sweep checks what would otherwise fail late or silently: another sweeper
on the same directory (:mod:`.lock`), a proposer that cannot be reached (no API key, no
``claude`` binary), and a regime whose defaults lie outside its own search space.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from omegaconf import DictConfig

from .calllog import CallLog
from .config import check_settings
from .jobs import JobRunner
from .lock import SweepLock
from .planning import RoundPlanner
from .proposers import make_proposer
from .recording import Recorder
from .regimes import RegimeCatalogue
from .tree import TreeState


class Explorer:
    """Runs a sweep to ``n_iterations`` runs, ``n_parallel`` per round, in blocks of
    ``n_iter_block``; resumes from the tree JSON in ``sweep_dir`` if there is one."""

    def __init__(
        self,
        conf: DictConfig,
        sweep_dir: Path,
        arguments: Sequence[str],
        launch: Callable[[list[list[str]], int], Sequence[Any]],
        compose: Callable[[list[str]], DictConfig],
    ) -> None:
        check_settings(conf)
        self.conf = conf
        self.sweep_dir = Path(sweep_dir)
        self.proposer = make_proposer(conf.proposer)
        self.regimes = RegimeCatalogue(conf, arguments, compose)
        calls = CallLog(self.sweep_dir)
        self.planner = RoundPlanner(conf, self.proposer, self.regimes, calls)
        self.recorder = Recorder(conf, self.sweep_dir, self.proposer, self.regimes, calls)
        self.jobs = JobRunner(conf, self.regimes, self.recorder, launch)

    def run(self) -> TreeState:
        with SweepLock(self.sweep_dir, "ucb_llm"):
            self.proposer.check_reachable()
            self.regimes.check_all()
            return self._run()

    def _run(self) -> TreeState:
        state = self.recorder.load_or_start()
        self.jobs.resume(state)
        n_iter, block_len = int(self.conf.n_iterations), int(self.conf.n_iter_block)
        while state.iteration < n_iter:
            if state.iteration >= state.block * block_len:
                self.recorder.close_block(state)
            block_left = state.block * block_len - state.iteration
            k = min(int(self.conf.n_parallel), n_iter - state.iteration, block_left)
            candidates = self.planner.plan(state, k, block_end=block_left == k)
            self.jobs.run_round(state, candidates)
        self.recorder.finish(state)
        return state
