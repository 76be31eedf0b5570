"""The documents' tables of measured numbers are what ``benchmarks/render_docs.py`` renders from the
committed result files: a table edited by hand, or a result file changed without re-rendering its
documents, fails here."""
import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = importlib.util.spec_from_file_location("render_docs", ROOT / "benchmarks" / "render_docs.py")
render_docs = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(render_docs)


def test_every_documented_table_matches_its_result_files():
    assert render_docs.stale() == [], "run: python benchmarks/render_docs.py"


def test_the_documents_have_marked_tables_and_each_name_renders():
    names = {m.group("name") for p in render_docs.documents() for m in render_docs.MARKER.finditer(p.read_text())}
    assert names == set(render_docs.TABLES), "every table function is used by a document, and only those"


@pytest.mark.parametrize("name", sorted(render_docs.TABLES))
def test_each_table_is_a_markdown_table_or_code_block(name):
    text = render_docs.TABLES[name](render_docs.RESULTS)
    assert text.startswith(("| ", "```")) and text.endswith("\n")


def _copy_tree(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the documents and the result files, to edit without touching the checkout."""
    root = tmp_path / "repo"
    for path in render_docs.documents():
        target = root / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    results = root / "benchmarks" / "results"
    shutil.copytree(render_docs.RESULTS, results)
    return root, results


def test_a_result_file_changed_without_its_document_fails_the_check(tmp_path):
    root, results = _copy_tree(tmp_path)
    assert render_docs.stale(root, results) == []
    csv_path = results / "robustness_signal" / "robustness.csv"
    lines = csv_path.read_text().splitlines()
    fields = lines[1].split(",")
    fields[5] = "0.5"  # the learned connectivity_R2 of one run
    csv_path.write_text("\n".join([lines[0], ",".join(fields), *lines[2:]]) + "\n")
    assert render_docs.robustness_signal(results) != render_docs.robustness_signal(render_docs.RESULTS)
    stale = render_docs.stale(root, results)
    assert "docs/signal.md: robustness_signal" in stale and "docs/robustness.md: robustness_signal" in stale
    # Rendering again brings the documents back in line with the changed file.
    for path in render_docs.documents(root):
        path.write_text(render_docs.render(path.read_text(), results))
    assert render_docs.stale(root, results) == []


def test_a_metrics_json_changed_without_its_document_fails_the_check(tmp_path):
    root, results = _copy_tree(tmp_path)
    path = results / "full_size" / "signal_fig2_seed2.metrics.json"
    path.write_text(path.read_text().replace('"connectivity_R2": 0.99', '"connectivity_R2": 0.89', 1))
    assert render_docs.stale(root, results) == ["docs/benchmarks.md: full_size_signal_fig2"]


def test_a_hand_edited_table_fails_the_check(tmp_path):
    root, results = _copy_tree(tmp_path)
    doc = root / "docs" / "metabolism.md"
    text = doc.read_text()
    start = text.index("<!-- table: robustness_metabolism -->")
    row = text.index("| default |", start)
    doc.write_text(text[:row] + "| default (typed) |" + text[row + len("| default |"):])
    assert render_docs.stale(root, results) == ["docs/metabolism.md: robustness_metabolism"]


def test_check_mode_exit_status(tmp_path, capsys):
    assert render_docs.main(["--check"]) == 0
    root, results = _copy_tree(tmp_path)
    (results / "scaling.md").write_text((results / "scaling.md").read_text().replace("| 100 | 108 |", "| 100 | 99 |"))
    assert render_docs.main(["--check", "--results", str(results)]) == 1
    assert "scaling_signal" in capsys.readouterr().err
