"""The sweep loop in process, with a fake launcher and a typed config: fast checks of the
paths the subprocess tests do not reach."""

import pytest
from omegaconf import OmegaConf
from sweeper_helpers import compose, conf, launcher

from neuralgraph.explore.loop import Explorer


def test_replicates_use_new_seeds_and_report_spread(tmp_path):
    log = []
    state = Explorer(conf(n_iterations=12, n_parallel=4), tmp_path, [], launcher(log), compose).run()
    reps = [n for n in state.nodes.values() if len(n.runs) > 1]
    assert reps, "the principle slot replicates the best node"
    seeds = [r.seed for r in reps[0].runs]
    assert len(set(seeds)) == len(seeds)
    assert any("training.seed=1" in o for o in log)
    assert "spread=" in (tmp_path / "ucb_scores.txt").read_text()
    assert "replicate" in (tmp_path / "analysis.md").read_text()


def test_integer_key_with_a_float_interval_stops_with_advice(tmp_path):
    c = conf(n_iterations=4, n_parallel=4, params={"training.batch_size": "interval(4, 32)"})
    with pytest.raises(ValueError, match=r"tag\(int"):
        Explorer(c, tmp_path, [], launcher([]), compose).run()


def test_minimize_direction_negates_the_reward(tmp_path):
    state = Explorer(conf(n_iterations=2, n_parallel=2, direction="minimize"), tmp_path, [],
                     launcher([]), compose).run()
    run = state.nodes[1].runs[0]
    assert run.reward == pytest.approx(-run.metrics["score"])


def test_missing_reward_key_is_named(tmp_path):
    c = conf(n_iterations=1, reward_key="")

    def no_key(overrides):
        cfg = compose(overrides)
        cfg.reward_key = ""
        return cfg

    with pytest.raises(ValueError, match="reward_key"):
        Explorer(c, tmp_path, [], launcher([]), no_key).run()


def test_ucb1_formula_runs(tmp_path):
    state = Explorer(conf(n_iterations=8, n_parallel=4, ucb_formula="ucb1"), tmp_path, [],
                     launcher([]), compose).run()
    assert state.iteration == 8
    assert "formula=ucb1" in (tmp_path / "ucb_scores.txt").read_text()


def test_fixed_entries_of_the_space_reach_every_job(tmp_path):
    log = []
    c = conf(n_iterations=2, n_parallel=2,
             params={"training.lr_k": "tag(log, interval(1e-4, 1e-2))", "training.batch_size": "16"})
    Explorer(c, tmp_path, [], launcher(log), compose).run()
    assert all("training.batch_size=16" in job for job in log)


class RecordingProposer:
    """A proposer the loop has never heard of: only the Proposer protocol's members."""

    name = "notebook"
    retries = 1
    reads_instructions = True

    def __init__(self):
        from neuralgraph.explore.proposers import HeuristicProposer

        self.fallback = HeuristicProposer()
        self.seen = []  # (iteration, first line of the instructions, feedback)
        self.memory_updates = 0

    def propose(self, ctx, slots, feedback=""):
        from neuralgraph.explore.proposers import Proposal, Reply

        self.seen.append((ctx.state.iteration, ctx.instructions.splitlines()[0], feedback))
        if not feedback:  # first answer out of range: the loop re-asks with the reason
            return Reply([Proposal(s.index, None, {"training.lr_k": 5.0}) for s in slots])
        lr = [0.0002, 0.0004, 0.0008, 0.0016, 0.0032, 0.0064]
        return Reply([Proposal(s.index, None, {"training.lr_k": lr[(ctx.state.iteration + s.index) % 6]})
                      for s in slots])

    def check_reachable(self):
        pass

    def update_memory(self, state, space):
        self.memory_updates += 1

    def summarize(self, state, instructions, prompt):
        return None


def test_any_proposer_with_the_protocol_reads_each_regimes_document(tmp_path, monkeypatch):
    import neuralgraph.explore.loop as loop

    documents = {"typed_a": "signal.md", "typed_b": "flyvis.md"}

    def landscape_compose(overrides):
        cfg = compose(overrides)
        regime = next((o.split("=", 1)[1] for o in overrides if o.startswith("+regime=")), "typed_a")
        cfg.regime = regime
        OmegaConf.set_struct(cfg, False)
        cfg.instructions = documents[regime]
        return cfg

    proposer = RecordingProposer()
    monkeypatch.setattr(loop, "make_proposer", lambda node: proposer)
    c = conf(n_iterations=4, n_parallel=2, n_iter_block=2)
    c.landscape.regimes = ["typed_a", "typed_b"]
    state = Explorer(c, tmp_path, [], launcher([]), landscape_compose).run()
    assert [s[:2] for s in proposer.seen if not s[2]] == [
        (0, "# Exploration instructions — neural signal networks, recover the connectivity"),
        (2, "# Exploration instructions — fly visual system")]
    assert all("outside the allowed range" in s[2] for s in proposer.seen if s[2])
    assert {n.proposer for n in state.nodes.values()} == {"notebook"}
    assert proposer.memory_updates == 2  # once per round
