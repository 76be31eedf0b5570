"""What an LLM proposer is shown, and which instruction document a regime names."""

import re
import time

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf
from sweeper_helpers import ROOT

from neuralgraph import resources
from neuralgraph.explore.plots import named_plots, plots_to_show
from neuralgraph.explore.prompt import build_prompt, load_instructions
from neuralgraph.explore.proposers import Slot
from neuralgraph.explore.regimes import instructions_file
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


@pytest.fixture(scope="module")
def composed():
    from neuralgraph.config import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        yield lambda regime: compose("config", overrides=[f"+regime={regime}"])
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("regime, document", [
    ("oscillatory_rank50", "metabolism.md"), ("oscillatory", "metabolism.md"),  # inherited
    ("tiny_metabolism", "metabolism.md"), ("metabolism_S_learning", "metabolism_S_learning.md"),
    ("signal_chaotic", "signal.md"), ("flyvis_small", "flyvis.md")])
def test_every_regime_names_its_instruction_document(composed, regime, document):
    assert instructions_file(composed(regime)) == document
    assert len(load_instructions(document, None)) > 500


def test_instruction_document_without_a_name():
    family_only = OmegaConf.create({"instructions": "", "simulation": {"family": "signal"}})
    assert instructions_file(family_only) == "signal.md"  # RunConfig's fallback
    assert instructions_file(OmegaConf.create({"instructions": "mine.md"})) == "mine.md"  # another app
    assert instructions_file(OmegaConf.create({"regime": "toy"})) == ""
    with pytest.raises(FileNotFoundError, match="instructions: <file>.md"):
        load_instructions("", None)


def test_missing_instruction_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="hydra.sweeper.instructions"):
        load_instructions("metabolism.md", str(tmp_path / "none.md"))  # the explicit path wins


def test_the_llm_is_shown_the_plots_its_instructions_name_in_their_order(tmp_path):
    state = TreeState(regime="r", reward_key="rate_constants_R2")
    for nid, reward in ((1, 0.4), (2, 0.9)):
        plots = tmp_path / str(nid) / "plots"
        plots.mkdir(parents=True)
        # activity.png (ground truth, the same every run) is written last: newest, and not named.
        for name in ("loss.png", "rate_constants.png", "mlp_sub.png", "rollout.png", "activity.png"):
            (plots / name).write_bytes(b"png")
            time.sleep(0.01)
        node = Node(nid, None, 1, config={})
        node.runs.append(Run(nid, nid - 1, 0, status="completed", reward=reward,
                             working_dir=str(tmp_path / str(nid)), reward_key="rate_constants_R2"))
        state.nodes[nid] = node
    names = named_plots(load_instructions("metabolism.md", None))
    assert names[:4] == ["rate_constants.png", "mlp_sub.png", "homeostasis.png", "loss.png"]
    shown = plots_to_show(state, names, round_size=2, limit=4)
    assert [p.name for p in shown] == ["rate_constants.png", "mlp_sub.png", "loss.png"]
    assert all(p.path.startswith(str(tmp_path / "2")) for p in shown)  # the round's best run
    assert shown[0].label == "rate_constants.png — node 2, iteration 2, rate_constants_R2=0.9"


@pytest.mark.parametrize("document", ["metabolism.md", "metabolism_S_learning.md", "signal.md",
                                      "flyvis.md"])
def test_every_plot_a_document_names_is_one_its_family_draws(document):
    drawn = {m for path in (ROOT / "neuralgraph" / "families").glob("*/plots.py")
             for m in re.findall(r'"([\w.-]+\.png)"', path.read_text())}
    names = named_plots(resources.instruction_document(document).read_text())
    assert names and set(names) <= drawn, set(names) - drawn


@pytest.mark.parametrize("regime", resources.regime_names())
def test_every_regimes_defaults_lie_in_its_own_search_space(regime, composed):
    """A ucb_llm sweep starts from the regime's own config; a default outside the regime's space
    would stop the sweep at start (it used to be replaced by the smallest listed value)."""
    from neuralgraph.explore.config import UCBLLMSweeperConf
    from neuralgraph.explore.regimes import RegimeCatalogue

    conf = OmegaConf.structured(UCBLLMSweeperConf)
    info = RegimeCatalogue(conf, [], lambda overrides: composed(regime)).info(None)
    assert info.defaults and info.name == regime
