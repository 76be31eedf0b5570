"""Shared fixtures: a private dataset cache and one CPU thread per test process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ngcache")
    os.environ["NEURALGRAPH_CACHE"] = str(path)
    return path


def cli_env(cache: Path | None = None) -> dict[str, str]:
    """The environment of a command-line run: unbuffered, one thread, the given dataset cache."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if cache is not None:
        env["NEURALGRAPH_CACHE"] = str(cache)
    return env


def run_cli(*args: str, cwd: Path | None = None, cache: Path | None = None, timeout: int = 300):
    """Run ``python -m neuralgraph.train ARGS`` in a subprocess; return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "neuralgraph.train", *args],
        cwd=cwd or REPO, env=cli_env(cache), capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def cli(cache_dir):
    def _run(*args: str, **kw):
        return run_cli(*args, cache=cache_dir, **kw)

    return _run
