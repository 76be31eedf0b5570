"""UCB scores and parent selection against trees computed by hand."""

import math

import pytest

from neuralgraph.explore.tree import Node, Run
from neuralgraph.explore.ucb import select_parents, ucb_scores


def node(nid, parent, *rewards):
    n = Node(id=nid, parent=parent, block=1)
    n.runs = [Run(iteration=nid, job_idx=nid, seed=i, status="completed", reward=r)
              for i, r in enumerate(rewards)]
    return n


@pytest.fixture
def tree():
    # root -> 1 (0.5) -> 3 (0.6) -> 4 (0.9);  root -> 2 (0.8)
    return {1: node(1, None, 0.5), 2: node(2, None, 0.8), 3: node(3, 1, 0.6), 4: node(4, 3, 0.9)}


def test_puct_matches_hand_computation(tree):
    # N_total = 4, c*sqrt(N) = 1.414*2; V = 1 + descendants: V1=3, V2=1, V3=2, V4=1
    scores = {s.node: s for s in ucb_scores(tree, c=1.414)}
    b = 1.414 * 2
    assert scores[1].ucb == pytest.approx(0.5 + b / 4)
    assert scores[2].ucb == pytest.approx(0.8 + b / 2)
    assert scores[3].ucb == pytest.approx(0.6 + b / 3)
    assert scores[4].ucb == pytest.approx(0.9 + b / 2)
    assert [s.node for s in ucb_scores(tree, c=1.414)] == [4, 2, 3, 1]
    assert scores[1].visits == 3 and scores[3].visits == 2


def test_ucb1_matches_hand_computation(tree):
    # UCB1 = Rbar(subtree) + c*sqrt(ln N_parent / V); children of the root use N_total = 4
    c = 1.414
    scores = {s.node: s.ucb for s in ucb_scores(tree, c=c, formula="ucb1")}
    assert scores[1] == pytest.approx((0.5 + 0.6 + 0.9) / 3 + c * math.sqrt(math.log(4) / 3))
    assert scores[2] == pytest.approx(0.8 + c * math.sqrt(math.log(4) / 1))
    assert scores[3] == pytest.approx((0.6 + 0.9) / 2 + c * math.sqrt(math.log(3) / 2))
    assert scores[4] == pytest.approx(0.9 + c * math.sqrt(math.log(2) / 1))
    assert max(scores, key=scores.get) == 2


def test_round_counts_pending_children(tree):
    # pick 4; with a virtual child under 4 (N=5): UCB4 = 0.9 + c*sqrt5/3 < UCB2 = 0.8 + c*sqrt5/2
    # pick 2; then (N=6): UCB4 = 0.9 + c*sqrt6/3 = 2.055 > UCB2 = 0.8 + c*sqrt6/3 -> 4 again
    picks = [p for p, _ in select_parents(tree, 3, c=1.414)]
    assert picks == [4, 2, 4]
    first_ucb = select_parents(tree, 1, c=1.414)[0][1]
    assert first_ucb == pytest.approx(0.9 + 1.414 * 2 / 2)


def test_replicates_average_and_count_as_visits():
    tree = {1: node(1, None, 0.5, 0.7), 2: node(2, 1, 0.9)}
    scores = {s.node: s for s in ucb_scores(tree, c=1.0)}
    assert scores[1].reward == pytest.approx(0.6)
    assert scores[1].spread == pytest.approx(math.sqrt(0.02))
    assert scores[1].visits == 3  # two own runs + one descendant run
    assert scores[1].ucb == pytest.approx(0.6 + math.sqrt(3) / 4)


def test_empty_block_picks_the_root_for_every_slot():
    assert [p for p, _ in select_parents({}, 4)] == [None] * 4


def test_pending_nodes_are_not_scored():
    tree = {1: node(1, None, 0.5), 2: Node(id=2, parent=1, block=1, runs=[Run(2, 2, 0)])}
    assert [s.node for s in ucb_scores(tree)] == [1]


def test_unknown_formula_is_named():
    with pytest.raises(ValueError, match="ucb_formula"):
        ucb_scores({}, formula="ucb2")
