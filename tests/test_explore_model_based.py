"""The model-based proposer: a Gaussian process on the whole history ranks the mutations of
UCB-chosen parents; replicates where they pay; the best node by its mean over replicates; the
same suggestions in an LLM's prompt. In process, no training."""

import json
import math

import numpy as np
import pytest
from sweeper_helpers import compose, conf, launcher

from neuralgraph.explore.advice import Advisor
from neuralgraph.explore.config import ModelBasedConf, ModelConf, UCBLLMSweeperConf
from neuralgraph.explore.loop import Explorer
from neuralgraph.explore.proposers import Context, ModelBasedProposer, Slot, make_proposer
from neuralgraph.explore.space import parse_space
from neuralgraph.explore.surrogate import GaussianProcess, encode, fold_tail
from neuralgraph.explore.tree import BlockSummary, Node, Run, TreeState
from neuralgraph.explore.validate import check_proposal

SPACE = parse_space({"training.lr_k": "tag(log, interval(1e-4, 1e-2))",
                     "training.lr_sub": "tag(log, interval(1e-4, 1e-2))",
                     "training.batch_size": "choice(4, 8, 16)"})
ROOT = {"training.lr_k": "0.001", "training.lr_sub": "0.001", "training.batch_size": "8"}


def make_state(entries):
    """entries: (id, parent, changes, [rewards of its runs])."""
    s = TreeState(regime="r", reward_key="R2", block_base=dict(ROOT), block_regime="r")
    for nid, parent, changes, rewards in entries:
        cfg = dict(s.nodes[parent].config if parent else ROOT)
        cfg.update(changes)
        n = Node(nid, parent, 1, config=cfg, changed=dict(changes))
        for k, r in enumerate(rewards):
            n.runs.append(Run(nid, nid, k, status="completed", reward=r, metrics={"R2": r}))
        s.nodes[nid] = n
    s.iteration = len(entries)
    return s


def advisor(state, max_keys=2, **model):
    return Advisor(state, SPACE, ModelConf(**model), dict(ROOT), seed=0, max_keys=max_keys)


def modelled():
    """The proposer past its initial design (the root alone), to test the model's phase."""
    return ModelBasedProposer(ModelBasedConf(design_runs=1))


# ---- the model ---------------------------------------------------------------------------
def test_the_gp_finds_the_peak_and_measures_the_noise():
    rng = np.random.default_rng(0)
    x = np.repeat(np.linspace(0, 1, 10), 3)[:, None]  # every point replicated three times
    y = 1 - 4 * (x[:, 0] - 0.7) ** 2 + rng.normal(0, 0.05, len(x))
    gp = GaussianProcess(x, y)
    grid = np.linspace(0, 1, 101)[:, None]
    post = gp.predict(grid)
    assert abs(grid[np.argmax(post.mean), 0] - 0.7) < 0.08
    assert 0.02 < gp.noise_sd < 0.1
    assert grid[np.argmax(gp.ei(grid)), 0] == pytest.approx(0.7, abs=0.1)


def test_a_diverged_run_does_not_flatten_the_rest():
    assert fold_tail([0.9, 0.8, 0.7, -40.0]).min() == pytest.approx(0.75 - (0.9 - 0.75))


def test_configs_are_encoded_on_the_unit_cube_log_aware():
    x = encode([{"training.lr_k": "0.01", "training.lr_sub": "0.0001", "training.batch_size": "16"},
                ROOT], SPACE)
    assert x[0].tolist() == [1.0, 0.0, 1.0]
    assert x[1].tolist() == pytest.approx([0.5, 0.5, 0.5])


# ---- the advice --------------------------------------------------------------------------
def test_suggestions_respect_the_validator_and_move_towards_the_better_side():
    # lr_k up helped twice, down hurt: the model should keep raising lr_k.
    s = make_state([(1, None, {}, [0.5]), (2, 1, {"training.lr_k": "0.002"}, [0.7]),
                    (3, 1, {"training.lr_k": "0.0005"}, [0.3]),
                    (4, 2, {"training.lr_k": "0.003"}, [0.8])])
    taken = [n.config for n in s.nodes.values()]
    slots = [Slot(0, 4, 1.0, "exploit"), Slot(1, 4, 0.9, "exploit")]
    advice = advisor(s).advise(slots, taken)
    assert advice.n_runs == 4 and advice.best.id == 4
    first = advice.suggestions[0][0]
    for option in advice.suggestions[0] + advice.suggestions[1]:
        check_proposal(option.changes, s.nodes[4].config, SPACE, taken, 2)
    assert float(first.changes.get("training.lr_k", 0.003)) > 0.003
    a, b = ({**s.nodes[4].config, **advice.suggestions[i][0].changes} for i in (0, 1))
    assert a != b  # the second slot saw the first one's choice as taken


def test_one_key_at_a_time_when_the_limit_says_so():
    s = make_state([(1, None, {}, [0.5]), (2, 1, {"training.lr_k": "0.002"}, [0.7])])
    advice = advisor(s, max_keys=1).advise([Slot(0, 2, 1.0, "explore")], [])
    assert advice.suggestions[0] and all(len(o.changes) == 1 for o in advice.suggestions[0])


def test_the_principle_slot_replicates_the_best_node_while_no_noise_is_measured():
    s = make_state([(1, None, {}, [0.5]), (2, 1, {"training.lr_k": "0.002"}, [0.7])])
    advice = advisor(s, replicate_after=0).advise([Slot(0, 2, 1.0, "principle")], [])
    top = advice.suggestions[0][0]
    assert top.replicate and top.parent == 2 and "no seed noise measured" in top.rationale


def test_no_replicate_before_the_regime_has_replicate_after_runs():
    # Two runs: a second seed of the leader would spend one of the first evaluations on noise.
    s = make_state([(1, None, {}, [0.5]), (2, 1, {"training.lr_k": "0.002"}, [0.7])])
    for after, replicate in ((3, False), (2, True)):
        advice = advisor(s, replicate_after=after).advise([Slot(0, 2, 1.0, "principle")], [])
        assert advice.suggestions[0][0].replicate is replicate


def test_no_replicate_when_the_lead_is_beyond_the_noise():
    # node 1's replicates measure σ ≈ 0.014; node 3 leads node 2 by 0.3: another run of it
    # would not change which node is best.
    s = make_state([(1, None, {}, [0.50, 0.52]), (2, 1, {"training.lr_k": "0.002"}, [0.6]),
                    (3, 2, {"training.lr_k": "0.004"}, [0.9])])
    advice = advisor(s, replicate_after=0).advise([Slot(0, 3, 1.0, "principle")],
                                                  [n.config for n in s.nodes.values()])
    assert not advice.suggestions[0][0].replicate


def test_replicate_when_the_lead_is_within_the_noise():
    s = make_state([(1, None, {}, [0.5, 0.7]), (2, 1, {"training.lr_k": "0.002"}, [0.80]),
                    (3, 2, {"training.lr_k": "0.004"}, [0.85])])
    advice = advisor(s, replicate_after=0).advise([Slot(0, 3, 1.0, "principle")],
                                                  [n.config for n in s.nodes.values()])
    assert advice.suggestions[0][0].replicate and advice.suggestions[0][0].parent == 3


# ---- noise-aware choice of the best node -------------------------------------------------
def test_a_lucky_single_run_does_not_outrank_replicates_that_agree():
    # σ ≈ 0.21 measured on node 1; node 3 (one run, 0.90) vs node 2 (three runs, mean 0.85).
    s = make_state([(1, None, {}, [0.3, 0.6]), (2, 1, {"training.lr_k": "0.002"}, [0.84, 0.85, 0.86]),
                    (3, 1, {"training.lr_k": "0.004"}, [0.90])])
    assert s.best_node().id == 2


def test_without_replicates_the_best_node_is_the_highest_mean():
    s = make_state([(1, None, {}, [0.3]), (2, 1, {"training.lr_k": "0.002"}, [0.84]),
                    (3, 1, {"training.lr_k": "0.004"}, [0.90])])
    assert s.best_node().id == 3


# ---- the proposer, the loop, the prompt --------------------------------------------------
def test_model_based_is_the_default_proposer():
    assert isinstance(make_proposer({}), ModelBasedProposer)
    assert UCBLLMSweeperConf().defaults == [{"proposer": "model_based"}]


def test_the_proposer_takes_the_first_valid_suggestion():
    s = make_state([(1, None, {}, [0.5]), (2, 1, {"training.lr_k": "0.002"}, [0.7]),
                    (3, 1, {"training.lr_sub": "0.005", "training.batch_size": "16"}, [0.6])])
    taken = [n.config for n in s.nodes.values()]
    slots = [Slot(0, 2, 1.0, "exploit"), Slot(1, 1, 0.8, "explore")]
    adv = advisor(s)
    ctx = Context(state=s, space=SPACE, root_config=dict(ROOT), slots=slots, seed=0,
                  prompt=lambda sl, f: "", taken=taken, advice=adv.advise)
    reply = modelled().propose(ctx, slots)
    expected = adv.advise(slots, taken)
    assert [p.changes for p in reply.proposals] == [expected.suggestions[i][0].changes for i in (0, 1)]
    assert reply.proposals[1].strategy == "explore"
    assert "best so far: node 2" in reply.observation


def test_an_explore_slot_first_moves_the_keys_no_run_has_moved():
    # lr_k moved, lr_sub and batch_size never: the model cannot rank them, so the explore slot
    # moves them far from its parent; the exploit slot still follows the model.
    s = make_state([(1, None, {}, [0.5]), (2, 1, {"training.lr_k": "0.002"}, [0.7])])
    taken = [n.config for n in s.nodes.values()]
    slots = [Slot(0, 2, 1.0, "exploit"), Slot(1, 2, 0.8, "explore")]
    ctx = Context(state=s, space=SPACE, root_config=dict(ROOT), slots=slots, seed=0,
                  prompt=lambda sl, f: "", taken=taken, advice=advisor(s).advise)
    exploit, explore = modelled().propose(ctx, slots).proposals
    assert exploit.rationale.startswith("model:")
    assert set(explore.changes) == {"training.lr_sub", "training.batch_size"} and explore.parent == 2
    assert "never moved yet" in explore.rationale
    check_proposal(explore.changes, s.nodes[2].config, SPACE, taken, 2)
    assert abs(np.log10(float(explore.changes["training.lr_sub"]) / 1e-3)) >= 0.5  # a quarter of 2 decades
    # Once every key has moved, the explore slot is the model's again.
    s2 = make_state([(1, None, {}, [0.5]), (2, 1, {"training.lr_k": "0.002"}, [0.7]),
                     (3, 1, {"training.lr_sub": "0.005", "training.batch_size": "16"}, [0.6])])
    ctx2 = Context(state=s2, space=SPACE, root_config=dict(ROOT), slots=slots, seed=0, prompt=lambda sl, f: "",
                   taken=[n.config for n in s2.nodes.values()], advice=advisor(s2).advise)
    assert modelled().propose(ctx2, slots).proposals[1].rationale.startswith("model:")


def test_a_sweep_learns_from_every_run(tmp_path):
    c = conf(n_iterations=16, n_parallel=4)
    c.proposer = {"name": "model_based"}
    state = Explorer(c, tmp_path, [], launcher([]), compose).run()
    nodes = sorted(state.nodes.values(), key=lambda n: n.id)
    assert {n.proposer for n in nodes} == {"model_based"}
    assert nodes[0].strategy == "baseline" and nodes[0].rationale.startswith("initial design")
    # Two rounds of initial design (8 runs, the root included), children of the root ...
    design = nodes[1:8]
    assert all(n.parent is None and "Latin hypercube" in n.rationale for n in design)
    # ... whose lr_k values fall one in each seventh of its (log) range.
    strata = sorted(int(7 * (math.log10(float(n.config["training.lr_k"])) + 4) / 2) for n in design)
    assert strata == list(range(7))
    modelled_nodes = [n for n in nodes[8:] if n.rationale.startswith("model:")]
    assert len(modelled_nodes) >= 6 and all(len(n.changed) <= 2 for n in nodes[8:])
    best = state.best_node()
    assert best.reward > 0.95  # the toy's peak is 1.0 at lr_k = 3e-3; the root scores 0.8
    results = (tmp_path / "optimization_results.yaml").read_text()
    assert f"best_node: {best.id}" in results and "best_value_runs" in results


def test_the_maximum_projection_criterion_matches_a_direct_computation():
    from neuralgraph.explore.proposers.model_based import _maxpro

    space = parse_space({"a": "interval(0, 1)", "b": "choice(1, 2, 3, 4)"})
    dims = list(space.dims.values())
    # The first point is the root (choice read by its level: u = 1/3 is level 1 of 0..3);
    # the others are design points (level = floor(u * 4)).
    points = [[0.2, 1 / 3], [0.5, 0.1], [0.9, 0.8]]
    x = np.array([[0.2, 1], [0.5, 0], [0.9, 3]], float)
    dist = np.abs(x[:, None, :] - x[None, :, :])
    dist[..., 0] += 1 / 2  # a continuous key read as the two design points' strata
    dist[..., 1] = (dist[..., 1] + 1) / 4
    i, j = np.triu_indices(3, 1)
    expected = np.log(np.sum(1 / np.prod(dist[i, j] ** 2, axis=1)))
    assert _maxpro(dims, points) == pytest.approx(expected, rel=1e-12)


def test_the_initial_design_spreads_every_pair_of_keys():
    """Seven design points and the root in a 4 x 4 grid of two choice keys: the kept hypercube
    puts the eight in (nearly) eight cells, where one plain hypercube fills 7.1 on average, so a
    good corner of the pair is seldom missed."""
    from neuralgraph.explore.proposers.model_based import _design

    space = parse_space({"training.batch_size": "choice(8, 16, 32, 64)",
                         "training.loop": "choice(6, 12, 25, 50)",
                         "training.lr": "tag(log, interval(1e-4, 1e-2))"})
    root = {"training.batch_size": "32", "training.loop": "12", "training.lr": "0.001"}
    state = TreeState(regime="r", reward_key="R2", block_base=dict(root), block_regime="r")
    counts = []
    for seed in range(20):
        ctx = Context(state=state, space=space, root_config=dict(root), slots=[], seed=seed,
                      prompt=lambda sl, f: "", taken=[])
        cells = {(root["training.batch_size"], root["training.loop"])}
        for changes in _design(ctx, 7):
            cells.add((str(changes.get("training.batch_size", root["training.batch_size"])),
                       str(changes.get("training.loop", root["training.loop"]))))
        counts.append(len(cells))
    assert min(counts) >= 7 and np.mean(counts) >= 7.7, counts


def test_the_initial_design_alone_may_change_every_key_and_an_llm_cannot_claim_it():
    from neuralgraph.explore.candidates import make_candidate
    from neuralgraph.explore.proposers import Proposal, parse_reply
    from neuralgraph.explore.validate import ProposalError

    s = make_state([(1, None, {}, [0.5])])
    slots = [Slot(0, 1, 1.0, "exploit")]
    ctx = Context(state=s, space=SPACE, root_config=dict(ROOT), slots=slots, seed=0,
                  prompt=lambda sl, f: "", taken=[n.config for n in s.nodes.values()], max_keys=1)

    class Catalogue:
        def check_composes(self, state, config):
            pass

    three = {"training.lr_k": 0.005, "training.lr_sub": 0.005, "training.batch_size": 16}
    cand = make_candidate(s, ctx, slots[0], Proposal(0, None, three, design=True), {}, "m", Catalogue())
    assert cand.changed == {k: SPACE.dims[k].canonical(v) for k, v in three.items()}
    for prop in (Proposal(0, None, three), Proposal(0, 1, three, design=True)):
        with pytest.raises(ProposalError, match="at most 1 key"):
            make_candidate(s, ctx, slots[0], prop, {}, "m", Catalogue())
    raw = json.dumps({"mutations": [{"slot": 0, "parent": "root", "changes": three, "design": True}]})
    assert not parse_reply(raw).proposals[0].design


def test_a_far_move_of_a_choice_never_stays_on_the_current_value():
    import random

    from neuralgraph.explore.proposers.model_based import _far

    dim = parse_space({"x": "choice(0, 1, 10)"}).dims["x"]
    values = {dim.canonical(_far(dim, "0", random.Random(i))) for i in range(200)}
    assert values == {"1", "10"}
    assert {dim.canonical(_far(dim, "1", random.Random(i))) for i in range(200)} == {"0", "10"}


def test_an_llm_is_shown_the_models_suggestions(tmp_path):
    reply = {"mutations": [{"slot": i, "parent": "root", "changes": {"training.lr_k": v}}
                           for i, v in enumerate((0.002, 0.004, 0.006, 0.008))]}
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([reply] * 4))
    c = conf(n_iterations=8, n_parallel=4)
    c.proposer = {"name": "scripted", "path": str(script)}
    Explorer(c, tmp_path / "sweep", [], launcher([]), compose).run()
    calls = sorted((tmp_path / "sweep" / "llm").glob("call_*.json"))
    prompts = [json.loads(p.read_text())["prompt"] for p in calls]
    assert "no model to ask" in prompts[0]
    assert "## Model-based suggestions" in prompts[1]
    assert "fitted on all 4 finished runs" in prompts[1]
    assert "Slot 0, suggestion 1: from" in prompts[1] and "predicted R=" in prompts[1]
    assert "Best node so far: node" in prompts[1]


def test_every_suggestion_stays_in_the_space_on_a_random_history():
    rng = np.random.default_rng(3)
    entries = [(1, None, {}, [0.1])]
    for nid in range(2, 12):
        lr = 10 ** rng.uniform(-4, -2)
        entries.append((nid, 1, {"training.lr_k": f"{lr:.3g}"}, [float(rng.normal(0.5, 0.2))]))
    s = make_state(entries)
    taken = [n.config for n in s.nodes.values()]
    slots = [Slot(i, 1 + i, 1.0, role) for i, role in enumerate(("exploit", "explore", "principle"))]
    advice = advisor(s).advise(slots, taken)
    for slot in slots:
        for o in advice.suggestions[slot.index]:
            if not o.replicate:
                check_proposal(o.changes, s.nodes[o.parent].config, SPACE, taken, 2)
                assert math.isfinite(o.mean) and o.sd > 0


def test_a_failed_run_is_observed_at_the_worst_finished_reward_and_other_regimes_not_at_all():
    from neuralgraph.explore.advice import observations

    s = make_state([(1, None, {}, [0.5]), (2, 1, {"training.lr_k": "0.002"}, [0.7])])
    s.nodes[2].runs.append(Run(3, 3, 1, status="failed", reward=-99.0))
    other = Node(4, None, 0, config=dict(ROOT))
    other.runs.append(Run(4, 4, 0, status="completed", reward=5.0))
    s.nodes[4] = other
    s.blocks.append(BlockSummary(0, "another", 0, 0, None, None, 0.0))
    configs, rewards = observations(s)
    assert rewards == [0.5, 0.7, 0.5] and len(configs) == 3


# ---- benchmarks/sweepers.py on the toy objective ------------------------------------------
def toy_benchmark(monkeypatch, trained):
    """benchmarks/sweepers.py with the toy app for a regime and ``bowl`` for a training run."""
    import importlib.util
    from pathlib import Path

    import neuralgraph.train
    from sweeper_helpers import bowl

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "sweepers.py"
    spec = importlib.util.spec_from_file_location("sweepers", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "compose_regime",
                        lambda regime, *ov: compose([o for o in ov if o.startswith("training.")]))
    monkeypatch.setattr(neuralgraph.train, "run", lambda cfg, run_dir: trained.append(1) or bowl(cfg))
    return bench


def test_the_sweeper_benchmark_pairs_methods_and_resumes_from_its_cache(tmp_path, monkeypatch):
    import csv

    trained = []
    bench = toy_benchmark(monkeypatch, trained)
    argv = ["--regimes", "toy", "--reps", "0", "1", "--budget", "8", "--budgets", "4", "8",
            "--held-out-budgets", "8", "--held-out-seeds", "7", "--out", str(tmp_path / "out"),
            "--work", str(tmp_path / "work")]
    curves = bench.main(argv)
    assert len(curves) == 3 * 2 * 8
    for method in ("ucb_llm", "tpe", "random"):
        for rep in (0, 1):
            best = [r["best_so_far"] for r in curves if (r["method"], r["rep"]) == (method, rep)]
            assert best == sorted(best)
    table = (tmp_path / "out" / "sweepers.md").read_text()
    assert "| `toy` | ucb_llm |" in table and "held out @8" in table and "wins @8" in table
    with open(tmp_path / "out" / "held_out.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 3 * 2
    assert (tmp_path / "out" / "sweepers.png").stat().st_size > 0
    first = len(trained)
    bench.main(argv)
    assert len(trained) == first  # every run read back from the cache


def test_the_sweeper_benchmark_combines_repetitions_run_apart(tmp_path, monkeypatch):
    """Two invocations of one repetition each, merged by --combine, give the table of one
    invocation over both; the paired differences are ucb_llm's best minus the other's."""
    bench = toy_benchmark(monkeypatch, [])
    common = ["--regimes", "toy", "--budget", "8", "--budgets", "4", "8", "--held-out-budgets", "8",
              "--held-out-seeds", "7", "--work", str(tmp_path / "work")]
    together = bench.main(common + ["--reps", "0", "1", "--out", str(tmp_path / "both")])
    for rep in ("0", "1"):
        bench.main(common + ["--reps", rep, "--out", str(tmp_path / f"rep{rep}")])
    merged = bench.main(["--combine", str(tmp_path / "rep0"), str(tmp_path / "rep1"), "--budgets", "4", "8",
                         "--held-out-budgets", "8", "--held-out-seeds", "7", "--out", str(tmp_path / "merged")])
    key = lambda r: (r["method"], r["rep"], r["n"])
    assert sorted((key(r), r["best_so_far"]) for r in merged) == sorted((key(r), r["best_so_far"]) for r in together)
    tables = [(tmp_path / d / "sweepers.md").read_text().split("\n", 1)[1] for d in ("both", "merged")]
    assert tables[0] == tables[1]
    best = {key(r): r["best_so_far"] for r in together}
    diffs = [best[("ucb_llm", k, 8)] - best[("random", k, 8)] for k in (0, 1)]
    paired_row = [line for line in tables[0].splitlines() if line.startswith("| `toy` | random |")][-1]
    assert paired_row.endswith(f"| {np.mean(diffs):+.4f} ± {np.std(diffs, ddof=1):.4f} "
                               f"({np.std(diffs, ddof=1) / np.sqrt(2):.4f}) |")
    with pytest.raises(SystemExit, match="no sweepers.csv"):
        bench.main(["--combine", str(tmp_path / "work"), "--out", str(tmp_path / "x")])


def test_the_sweeper_benchmark_replays_a_regime_from_its_run_cache(tmp_path, monkeypatch):
    """--replay trains nothing: every evaluation comes from a surrogate of the cached runs, the
    same config always gives the same draw, and the surrogate keeps the landscape's order."""
    trained = []
    bench = toy_benchmark(monkeypatch, trained)
    bench.main(["--regimes", "toy", "--reps", "0", "1", "2", "--budget", "8", "--budgets", "8",
                "--held-out-budgets", "8", "--held-out-seeds", "7", "--out", str(tmp_path / "real"),
                "--work", str(tmp_path / "work")])
    cache = tmp_path / "work" / "cache" / "toy.jsonl"
    before = len(trained)
    argv = ["--regimes", "toy", "--reps", "5", "6", "--budget", "8", "--budgets", "8", "--held-out-budgets", "8",
            "--held-out-seeds", "7", "--replay", str(cache), "--work", str(tmp_path / "replay")]
    first = bench.main(argv + ["--out", str(tmp_path / "a")])
    again = bench.main(argv + ["--out", str(tmp_path / "b")])
    assert len(trained) == before and len(first) == 3 * 2 * 8
    assert [r["reward"] for r in first] == [r["reward"] for r in again]
    assert "Replay: no run trained" in (tmp_path / "a" / "sweepers.md").read_text()
    calibrated = bench.main(argv + ["--out", str(tmp_path / "c"),
                                    "--replay-against", str(tmp_path / "real" / "sweepers.csv")])
    assert [r["reward"] for r in calibrated] == [r["reward"] for r in first]
    assert "Calibration against 24 real random-search runs" in (tmp_path / "c" / "sweepers.md").read_text()

    replay = bench.Replay("toy", tmp_path / "w", [], {}, [cache])
    near, far = (replay([f"training.lr_k={lr}", "training.seed=9"])["score"] for lr in (3e-3, 2e-4))
    assert near > far  # bowl: 1 − 100·|lr_k − 3e-3|, i.e. 1.0 against 0.72
    twice = bench.Replay("toy", tmp_path / "w", [], {}, [cache, cache])  # one run, one observation
    assert (twice.n_runs, twice.noise) == (replay.n_runs, pytest.approx(replay.noise))
    assert bench.nines(0.99) == pytest.approx(2.0) and bench.nines(1.0) == pytest.approx(6.0)


def write_cache(path, runs):
    """A run cache as benchmarks/sweepers.py writes it: one (overrides, score) per line."""
    path.write_text("".join(json.dumps({"key": json.dumps(overrides), "metrics": {"score": score}}) + "\n"
                            for overrides, score in runs))


def write_bad(path):
    path.parent.mkdir(parents=True)
    good = {"key": json.dumps(["training.seed=0"]), "metrics": {"score": 0.5}}
    path.write_text(json.dumps(good) + "\nnot json\n")
    return path


def test_the_replay_refuses_caches_it_cannot_model(tmp_path, monkeypatch):
    bench = toy_benchmark(monkeypatch, [])
    single = tmp_path / "toy.jsonl"  # twelve configs, each with one training seed
    write_cache(single, [([f"training.lr_k={1e-4 * (i + 1)}", "training.seed=0"], 0.5 + 0.01 * i)
                         for i in range(12)])
    common = ["--regimes", "toy", "--reps", "0", "--budget", "4", "--out", str(tmp_path / "o"),
              "--work", str(tmp_path / "w")]
    with pytest.raises(SystemExit, match="two training seeds"):
        bench.main(common + ["--replay", str(single)])
    other = tmp_path / "tiny_signal.jsonl"
    other.write_text(single.read_text())
    with pytest.raises(SystemExit, match="run cache of toy"):
        bench.main(common + ["--replay", str(other)])
    with pytest.raises(SystemExit, match="line 2: not a run-cache record"):
        bench.main(common + ["--replay", str(write_bad(tmp_path / "bad" / "toy.jsonl"))])
    with pytest.raises(SystemExit, match="give --replay"):
        bench.main(common + ["--replay-against", str(tmp_path / "o.csv")])
    with pytest.raises(SystemExit, match="no such file"):
        bench.main(common + ["--replay", str(single), "--replay-against", str(tmp_path / "none.csv")])
    with pytest.raises(SystemExit, match="needs 10 or more"):
        bench.Replay("toy", tmp_path / "w", ["training.batch_size=4"], {}, [single])
    counts = tmp_path / "counts" / "toy.jsonl"  # a reward that is not an R²: modelled as it is
    counts.parent.mkdir()
    write_cache(counts, [([f"training.lr_k={1e-4 * (i % 6 + 1)}", f"training.seed={i}"], 10.0 + i % 6)
                         for i in range(12)])
    replay = bench.Replay("toy", tmp_path / "w", [], {}, [counts])
    assert replay.scale == "raw" and replay.noise == pytest.approx(0.0)


def test_tpe_default_starts_from_the_regimes_own_config_as_ucb_llm_does(tmp_path, monkeypatch):
    bench = toy_benchmark(monkeypatch, [])
    argv = ["--regimes", "toy", "--reps", "0", "--budget", "4", "--budgets", "4",
            "--methods", "ucb_llm", "tpe_default", "--held-out-seeds", "--out", str(tmp_path / "out"),
            "--work", str(tmp_path / "work")]
    curves = bench.main(argv)
    first = {r["method"]: r["reward"] for r in curves if r["n"] == 1}
    # The toy regime's config (lr_k=1e-3, batch_size=8) with training.seed=0 scores 0.8.
    assert first["tpe_default"] == pytest.approx(0.8) and first["ucb_llm"] == pytest.approx(0.8)
