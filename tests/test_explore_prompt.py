"""What an LLM proposer is shown."""

import pytest

from neuralgraph.explore.prompt import build_prompt, family_of, load_instructions
from neuralgraph.explore.proposers import Slot
from neuralgraph.explore.space import parse_space
from neuralgraph.explore.tree import Node, Run, TreeState


def test_prompt_carries_what_the_users_loop_shows():
    state = TreeState(regime="oscillatory_rank50", reward_key="rate_constants_R2",
                      block_regime="oscillatory_rank50", block_base={"training.lr_k": "0.005"})
    node = Node(1, None, 1, config={"training.lr_k": "0.005"}, strategy="baseline")
    node.runs.append(Run(1, 0, 42, status="failed", reward=0.0, error="Traceback...\nValueError: NaN loss"))
    state.nodes[1] = node
    state.iteration = 1
    space = parse_space({"training.lr_k": "tag(log, interval(1e-4, 3e-2))"})
    text = build_prompt(state, space, [Slot(0, 1, 1.23, "exploit")], "slot 0: outside the range",
                        ucb_text="=== UCB Scores ===", memory_text="# Working Memory",
                        n_iterations=48, n_iter_block=12, regimes=["a", "b"], block_end=True)
    for part in ("Iterations 2-2 of 48", "block 1, iteration 2/12", ">>> BLOCK END <<<",
                 "rate_constants_R2", "training.lr_k: 0.0001 .. 0.03 (log)", "# Working Memory",
                 "=== UCB Scores ===", "ERROR: ValueError: NaN loss", "Slot 0: parent=1, UCB=1.230",
                 "suggested role exploit", '"mutations"', "next_regime", "one of: a, b",
                 "previous answer was rejected", "slot 0: outside the range"):
        assert part in text, part


@pytest.mark.parametrize("regime, family", [("oscillatory_rank50", "metabolism"),
                                            ("tiny_metabolism", "metabolism"),
                                            ("metabolism_S_learning", "metabolism_S_learning"),
                                            ("signal_chaotic", "signal"), ("flyvis_small", "flyvis")])
def test_every_family_has_an_instruction_document(regime, family):
    assert family_of(regime) == family
    assert len(load_instructions(regime, None)) > 500


def test_missing_instruction_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="hydra.sweeper.instructions"):
        load_instructions("x", str(tmp_path / "none.md"))
