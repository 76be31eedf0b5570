"""Tree state: JSON round trip (NaN as null), replicate statistics."""

import json
import math

import pytest

from neuralgraph.explore.tree import LLMCall, Node, Run, TreeState, load_state, save_state


def test_round_trip(tmp_path):
    s = TreeState(regime="toy", reward_key="score", base_overrides=["+regime=toy"])
    n = Node(id=1, parent=None, block=1, config={"training.lr_k": "0.001"}, mutation="m",
             changed={"training.lr_k": "0.001"})
    n.runs.append(Run(1, 0, 0, ["a=1"], "completed", 0.5, {"score": 0.5, "x": float("nan")}))
    n.runs.append(Run(2, 1, 1, ["a=1"], "completed", 0.7, {"score": 0.7}))
    s.nodes[1] = n
    s.llm_calls.append(LLMCall("anthropic", 1, True, 120, 30, 1.5))
    path = tmp_path / "tree.json"
    save_state(s, path)
    raw = json.loads(path.read_text())  # standard JSON even with a NaN metric
    assert raw["nodes"]["1"]["runs"][0]["metrics"]["x"] is None
    back = load_state(path)
    assert back.nodes[1].reward == pytest.approx(0.6)
    assert back.nodes[1].spread == pytest.approx(math.sqrt(0.02))
    assert back.nodes[1].mean_metric("x") is None
    assert back.llm_calls[0].input_tokens == 120
    assert back.best_node().id == 1


def test_files_with_nan_as_text_still_load(tmp_path):
    """Trees written before NaN became null hold the string "nan"."""
    s = TreeState(regime="toy", reward_key="score")
    n = Node(id=1, parent=None, block=1)
    n.runs.append(Run(1, 0, 0, ["a=1"], "completed", 0.5, {"score": 0.5, "x": 1.0}))
    s.nodes[1] = n
    path = tmp_path / "tree.json"
    save_state(s, path)
    path.write_text(path.read_text().replace('"x": 1.0', '"x": "nan"'))
    back = load_state(path)
    assert back.nodes[1].runs[0].metrics == {"score": 0.5, "x": None}
    assert back.nodes[1].reward == pytest.approx(0.5)


def test_wrong_version_is_named(tmp_path):
    path = tmp_path / "tree.json"
    save_state(TreeState(regime="r", reward_key="k"), path)
    raw = json.loads(path.read_text())
    raw["version"] = 99
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="new sweep directory"):
        load_state(path)


def test_chain_and_block_queries():
    s = TreeState(regime="r", reward_key="k")
    s.nodes = {1: Node(1, None, 1), 2: Node(2, 1, 1), 3: Node(3, 2, 2)}
    assert [n.id for n in s.chain(3)] == [3, 2, 1]
    s.block = 2
    assert [n.id for n in s.block_nodes()] == [3]
