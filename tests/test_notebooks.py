"""Every notebook in notebooks/ executes top to bottom on tiny regimes, so none can silently rot.

Each notebook is read with jupytext, executed with nbclient on the ``python3`` kernel in a temporary
working directory (nothing is written into the checkout) with ``NEURALGRAPH_NOTEBOOK_SIZE=tiny``
and a private dataset cache, under one deadline per notebook.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

from neuralgraph.families.flyvis import simulate as fs  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))
# Seconds per notebook at tiny size (a 2-core machine shared with other jobs).
DEADLINE = {"02_signal_connectivity": 240, "05_exploration": 240}
DEFAULT_DEADLINE = 180


def test_notebooks_present():
    names = {p.stem for p in NOTEBOOKS}
    for name in ("01_metabolism_rate_constants", "02_signal_connectivity", "03_stoichiometry", "04_flyvis",
                 "05_exploration", "06_recording"):
        assert name in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_states_purpose_time_and_switch(path):
    nb = jupytext.read(path)
    first_md = next(c for c in nb.cells if c.cell_type == "markdown").source
    assert "**What this shows.**" in first_md and "**How long.**" in first_md and "Full size" in first_md
    first_code = next(c for c in nb.cells if c.cell_type == "code").source
    assert 'os.environ.get("NEURALGRAPH_NOTEBOOK_SIZE", "full")' in first_code


def execute(path: Path, workdir: Path, deadline_s: float):
    """Run every cell of the notebook in ``workdir``; fail when the whole notebook exceeds the deadline.

    Returns the executed notebook."""
    nb = jupytext.read(path)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=deadline_s,
                                     resources={"metadata": {"path": str(workdir)}})
    end = time.monotonic() + deadline_s
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            left = end - time.monotonic()
            if left <= 0:
                pytest.fail(f"{path.name}: over its {deadline_s:.0f} s budget before cell {index}")
            client.timeout = max(1, int(left))
            client.execute_cell(cell, index)
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_tiny(path, tmp_path, monkeypatch):
    if path.stem == "04_flyvis" and not fs.connectome_available():
        pytest.skip(f"flyvis connectome JSON not installed; run `{fs.INSTALL_HINT}`")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("NEURALGRAPH_NOTEBOOK_SIZE", "tiny")
    monkeypatch.setenv("NEURALGRAPH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    nb = execute(path, work, DEADLINE.get(path.stem, DEFAULT_DEADLINE))
    # Everything the notebook wrote is under its working directory.
    assert list((work / "outputs" / "notebooks").iterdir())
    # The figures reached the notebook (a non-interactive matplotlib backend would drop them).
    figures = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if "image/png" in o.get("data", {})]
    assert len(figures) >= 2, f"{path.name} displayed {len(figures)} figures"
