"""The package as users get it: a wheel built from the checkout, installed (not editable) into a
fresh environment, runs a regime and a ucb_llm sweep from an unrelated directory, finding its
configs, instruction documents and connectome inside itself.

The fresh environment borrows this one's dependencies (a ``.pth`` line to its site-packages, which
does not run this environment's own ``.pth`` files, so the editable checkout stays out of reach);
``.ci/run`` does the same with a full ``pip install`` of the wheel and ``pip check``.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from neuralgraph import resources

REPO = Path(__file__).resolve().parent.parent
#: What the wheel is built from.
SOURCES = ("setup.py", "pyproject.toml", "README.md", "neuralgraph", "conf", "agents", "hydra_plugins")
FAST = ("progress=false", "plots=false", "num_threads=1")


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    (tmp / "src").mkdir()
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp / "src" / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tmp / "src" / name)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
          "--wheel-dir", str(tmp / "dist"), str(tmp / "src")])
    (found,) = (tmp / "dist").glob("neuralgraph-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """``(python of the fresh environment, its environment variables, an unrelated directory)``."""
    tmp = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")])
    python = tmp / "venv" / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip()
    (Path(purelib) / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
          str(wheel)])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(NEURALGRAPH_CACHE=str(tmp / "cache"), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    return python, env, elsewhere


def test_the_wheel_carries_every_module_config_document_and_the_connectome(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(REPO)) for p in (REPO / "neuralgraph").rglob("*.py")}
    families = REPO / "neuralgraph" / "families"
    configs = {"neuralgraph/" + str(p.relative_to(REPO)) for p in (REPO / "conf").rglob("*.yaml")}
    configs |= {str(p.relative_to(REPO)) for p in families.glob("*/conf/*/*.yaml")}
    documents = {"neuralgraph/" + str(p.relative_to(REPO)) for p in (REPO / "agents").glob("*.md")}
    documents |= {str(p.relative_to(REPO)) for p in families.glob("*/agents/*.md")}
    plugins = {str(p.relative_to(REPO)) for p in (REPO / "hydra_plugins").rglob("*.py")}
    connectome = {f"neuralgraph/data/flyvis/{n}" for n in (resources.CONNECTOME_FILE, "LICENSE", "README.md")}
    assert "neuralgraph/families/metabolism/conf/regime/tiny_metabolism.yaml" in configs
    assert "neuralgraph/conf/config.yaml" in configs and "neuralgraph/families/signal/agents/signal.md" in documents
    missing = (modules | configs | documents | plugins | connectome) - names
    assert not missing, sorted(missing)


def test_the_installed_package_finds_its_files_inside_itself(installed):
    python, env, elsewhere = installed
    code = ("import json, importlib.resources, neuralgraph, neuralgraph.resources as r; print(json.dumps({"
            "'package': neuralgraph.__file__, 'checkout': str(r.source_checkout()), 'conf': str(r.conf_dir()), "
            "'agents': str(r.agents_dir()), 'connectome': r.connectome_file().is_file(), "
            "'regimes': r.regime_names(), "
            "'config': (r.conf_dir() / 'config.yaml').is_file(), "
            "'document': str(r.instruction_document('metabolism.md'))}))")
    found = json.loads(_run([str(python), "-c", code], cwd=elsewhere, env=env).stdout)
    site_packages = str(python.parent.parent)
    assert found["package"].startswith(site_packages) and found["checkout"] == "None"
    assert found["conf"].startswith(site_packages) and found["agents"].startswith(site_packages)
    assert found["connectome"] and found["config"]
    assert found["document"].startswith(site_packages) and found["document"].endswith("metabolism/agents/metabolism.md")
    assert found["regimes"] == resources.regime_names()


def test_a_regime_runs_from_an_unrelated_directory(installed):
    python, env, elsewhere = installed
    run_dir = elsewhere / "run"
    _run([str(python), "-m", "neuralgraph.train", "+regime=tiny_metabolism", *FAST,
          "training.data_augmentation_loop=20", f"hydra.run.dir={run_dir}"], cwd=elsewhere, env=env)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] in {"converged", "partial", "failed"} and metrics["n_steps"] > 0
    assert (run_dir / "metrics.csv").exists() and (run_dir / "model.pt").exists()


def test_a_sweep_runs_from_an_unrelated_directory(installed):
    python, env, elsewhere = installed
    sweep_dir = elsewhere / "sweep"
    _run([str(python), "-m", "neuralgraph.train", "-m", "+regime=tiny_metabolism", "hydra/sweeper=ucb_llm",
          "hydra.sweeper.n_iterations=2", "hydra.sweeper.n_parallel=2", *FAST,
          "training.data_augmentation_loop=2", f"hydra.sweep.dir={sweep_dir}"], cwd=elsewhere, env=env)
    tree = json.loads((sweep_dir / "ucb_llm_tree.json").read_text())
    runs = [r for node in tree["nodes"].values() for r in node["runs"]]
    assert len(runs) == 2 and all(r["status"] == "completed" for r in runs)


def test_a_checkout_resolves_the_same_package_names_to_its_folders():
    assert resources.source_checkout() == REPO
    assert resources.conf_dir() == REPO / "conf" and resources.agents_dir() == REPO / "agents"
    families = REPO / "neuralgraph" / "families"
    assert resources.conf_dirs() == [REPO / "conf", *sorted(families.glob("*/conf"))]
    assert resources.regime_names() == sorted(p.stem for p in families.glob("*/conf/regime/*.yaml"))
