"""The heuristic proposer follows the strategy table and never leaves the space."""

import pytest

from neuralgraph.explore.config import HeuristicConf
from neuralgraph.explore.proposers import Context, HeuristicProposer, Slot
from neuralgraph.explore.space import parse_space
from neuralgraph.explore.tree import Node, Run, TreeState
from neuralgraph.explore.validate import check_proposal

SPACE = parse_space({"training.lr_k": "tag(log, interval(1e-4, 1e-2))",
                     "training.lr_sub": "tag(log, interval(1e-4, 1e-2))",
                     "training.batch_size": "choice(4, 8, 16)"})
ROOT = {"training.lr_k": "0.001", "training.lr_sub": "0.001", "training.batch_size": "8"}


def make_state(entries):
    """entries: (id, parent, changes, reward, pearson)."""
    s = TreeState(regime="r", reward_key="R2", block_base=dict(ROOT))
    for nid, parent, changes, reward, pearson in entries:
        cfg = dict(s.nodes[parent].config if parent else ROOT)
        cfg.update(changes)
        n = Node(nid, parent, 1, config=cfg, changed=dict(changes))
        n.runs.append(Run(nid, nid, 0, status="completed", reward=reward,
                          metrics={"R2": reward, "test_pearson": pearson}))
        s.nodes[nid] = n
    s.iteration = len(entries)
    return s


def ctx(state, slots):
    taken = [n.config for n in state.nodes.values()]
    return Context(state=state, space=SPACE, root_config=dict(ROOT), slots=slots, seed=0,
                   prompt=lambda s, f: "", taken=taken)


def test_empty_block_starts_with_the_baseline_and_a_spread():
    s = make_state([])
    slots = [Slot(i, None, float("nan"), "exploit") for i in range(3)]
    reply = HeuristicProposer().propose(ctx(s, slots), slots)
    assert reply.proposals[0].strategy == "baseline" and reply.proposals[0].changes == {}
    keys = [next(iter(p.changes)) for p in reply.proposals[1:]]
    assert len(set(keys)) == 2


def test_principle_slot_replicates_the_best_single_run_node():
    s = make_state([(1, None, {}, 0.5, 0.6), (2, 1, {"training.lr_k": "0.002"}, 0.7, 0.8)])
    p = HeuristicProposer().propose_slot(ctx(s, []), Slot(3, 2, 1.0, "principle"), [])
    assert p.replicate and p.parent == 2


def test_boundary_probe_after_three_successes():
    s = make_state([(1, None, {}, 0.95, 0.97), (2, 1, {"training.lr_k": "0.002"}, 0.96, 0.97),
                    (3, 2, {"training.lr_k": "0.003"}, 0.97, 0.98)])
    p = HeuristicProposer().propose_slot(ctx(s, []), Slot(0, 3, 1.0, "exploit"),
                                         [n.config for n in s.nodes.values()])
    assert p.strategy == "boundary-probe"
    (key, value), = p.changes.items()
    assert float(value) in (SPACE.dims[key].low, SPACE.dims[key].high) or value in (4, 16)


def test_switch_dimension_after_four_same_key_mutations():
    chain = [(1, None, {}, 0.03, 0.04)]
    for i, v in enumerate(["0.0012", "0.0014", "0.0016", "0.0018"], start=2):
        chain.append((i, i - 1, {"training.lr_k": v}, 0.03 + 0.01 * i, 0.04))
    s = make_state(chain)
    p = HeuristicProposer().propose_slot(ctx(s, []), Slot(0, 5, 1.0, "exploit"),
                                         [n.config for n in s.nodes.values()])
    assert p.strategy == "switch-dimension" and "training.lr_k" not in p.changes


def test_degeneracy_break_uses_the_regime_move():
    conf = HeuristicConf(degeneracy_break={"training.lr_k": "up", "training.lr_sub": "down"})
    s = make_state([(1, None, {}, 0.4, 0.98)])
    p = HeuristicProposer(conf).propose_slot(ctx(s, []), Slot(0, 1, 1.0, "exploit"), [ROOT])
    assert p.strategy == "degeneracy-break"
    assert float(p.changes["training.lr_k"]) > 0.001 > float(p.changes["training.lr_sub"])


def test_exploit_continues_in_the_direction_that_helped():
    s = make_state([(1, None, {}, 0.5, 0.6), (2, 1, {"training.lr_k": "0.002"}, 0.6, 0.7)])
    p = HeuristicProposer().propose_slot(ctx(s, []), Slot(0, 2, 1.0, "exploit"),
                                         [n.config for n in s.nodes.values()])
    assert p.strategy == "exploit" and float(p.changes["training.lr_k"]) > 0.002


@pytest.mark.parametrize("seed", range(5))
def test_proposals_are_valid_and_distinct(seed):
    s = make_state([(1, None, {}, 0.5, 0.6), (2, 1, {"training.lr_k": "0.002"}, 0.6, 0.7)])
    slots = [Slot(i, 2, 1.0, r) for i, r in enumerate(["exploit", "exploit", "explore", "explore"])]
    c = ctx(s, slots)
    c.seed = seed
    reply = HeuristicProposer().propose(c, slots)
    taken = list(c.taken)
    for p in reply.proposals:
        checked = check_proposal(p.changes, c.config_of(p.parent), SPACE, taken)
        taken.append(checked.config)


def test_evidence_turns_consistent_moves_into_principles():
    from neuralgraph.explore.evidence import evidence

    s = make_state([(1, None, {}, 0.3, 0.4), (2, 1, {"training.lr_k": "0.002"}, 0.4, 0.5),
                    (3, 2, {"training.lr_k": "0.004"}, 0.5, 0.6),
                    (4, 1, {"training.lr_k": "0.0005"}, 0.2, 0.3)])
    mem = evidence(s, SPACE)
    assert mem["principles"] == ["raising training.lr_k improved R2 by 0.100 on average in 3/3 "
                                 "single-key mutations with an effect above 0.010 (nodes 2, 3, 4)"]
    assert "training.lr_sub" in mem["open_questions"][0]


def test_two_real_effects_are_a_principle_and_effects_within_the_seed_noise_are_not():
    from neuralgraph.explore.evidence import evidence

    s = make_state([(1, None, {}, 0.3, 0.4), (2, 1, {"training.lr_k": "0.002"}, 0.5, 0.5),
                    (3, 2, {"training.lr_k": "0.004"}, 0.7, 0.6)])
    assert evidence(s, SPACE)["principles"] == [
        "raising training.lr_k improved R2 by 0.200 on average in 2/2 single-key mutations with "
        "an effect above 0.010 (nodes 2, 3)"]
    # A replicate of node 1 that differs by 0.3: an effect of 0.2 is inside twice the seed spread.
    s.nodes[1].runs.append(Run(4, 4, 1, status="completed", reward=0.6, metrics={"R2": 0.6}))
    assert not any("improved" in p for p in evidence(s, SPACE)["principles"])


def test_evidence_flags_a_key_that_changes_nothing_whatever_the_wall_time():
    from neuralgraph.explore.evidence import evidence

    s = make_state([(1, None, {}, 0.3, 0.4), (2, 1, {"training.batch_size": "16"}, 0.3, 0.4),
                    (3, 1, {"training.lr_k": "0.002"}, 0.5, 0.6),
                    (4, 3, {"training.batch_size": "4"}, 0.5, 0.6)])
    for n in s.nodes.values():  # every run took its own time: only the results are compared
        n.runs[0].metrics["training_time_min"] = 0.1 * n.id
    principles = evidence(s, SPACE)["principles"]
    assert ("training.batch_size changed nothing at all (same reward and metrics) in 2 single-key "
            "mutations (nodes 2, 4): no measurable effect here") in principles


def test_failed_runs_are_no_evidence():
    from neuralgraph.explore.evidence import evidence

    s = make_state([(1, None, {}, 0.3, 0.4), (2, 1, {"training.lr_k": "0.002"}, -1.0, 0.0),
                    (3, 1, {"training.lr_k": "0.004"}, -1.0, 0.0),
                    (4, 1, {"training.lr_k": "0.008"}, -1.0, 0.0)])
    for nid in (2, 3, 4):
        s.nodes[nid].runs[0].status = "failed"  # -1.0 is the placeholder below every result
    assert evidence(s, SPACE)["principles"] == []
