"""The ucb_llm sweeper end to end on a toy Hydra app: launchers, files, failures, resume,
rejected proposals, regime landscape, discovery and the Optuna preset."""

import json
import os
import signal
import subprocess
import time

import pytest
import yaml
from fake_llm import USAGE_IN, fake_llm  # noqa: F401  (fixture)
from sweeper_helpers import app_cmd, app_env, run_app, runs, tree

FILES = ["ucb_llm_tree.json", "ucb_scores.txt", "analysis.md", "memory.md", "tree.png",
         "optimization_results.yaml"]


def check_files(sweep_dir, n):
    for name in FILES:
        assert (sweep_dir / name).stat().st_size > 0, name
    text = (sweep_dir / "analysis.md").read_text()
    assert text.count("## Iter ") == n
    for line in ("Node: id=", "Mode/Strategy:", "Config:", "Metrics: score=", "Mutation:",
                 "Parent rule:", "Observation:", "Next: parent="):
        assert line in text
    all_runs = runs(sweep_dir)
    assert [r["iteration"] for r in all_runs] == list(range(1, n + 1))
    assert all(r["status"] == "completed" for r in all_runs)
    assert sorted(r["job_idx"] for r in all_runs) == list(range(n))  # no directory reused
    assert (sweep_dir / "ucb_scores.txt").read_text().startswith("=== UCB Scores")
    res = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert res["name"] == "ucb_llm" and res["reward_key"] == "score"
    assert set(res["best_params"]) == {"training.lr_k", "training.lr_node", "training.batch_size"}


def test_basic_launcher_12_iterations(tmp_path):
    sweep = tmp_path / "sweep"
    run_app(sweep, "hydra.sweeper.n_iterations=12", "hydra.sweeper.n_parallel=4",
            "hydra.sweeper.n_iter_block=8")
    check_files(sweep, 12)
    memory = (sweep / "memory.md").read_text()
    assert "## Current Block (Block 2)" in memory and "| 1 | toy |" in memory
    state = tree(sweep)
    strategies = {n["strategy"] for n in state["nodes"].values()}
    assert "baseline" in strategies and len(strategies) >= 2
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] > 0.8


def test_joblib_two_workers(tmp_path):
    sweep = tmp_path / "sweep"
    run_app(sweep, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
            "hydra.sweeper.n_iterations=8", "hydra.sweeper.n_parallel=4")
    check_files(sweep, 8)


def test_a_sweep_whose_jobs_all_fail_exits_non_zero_and_says_so(tmp_path):
    sweep = tmp_path / "sweep"
    proc = subprocess.run(app_cmd(sweep, "training.fail=true", "hydra.sweeper.n_iterations=4",
                                  "hydra.sweeper.n_parallel=2"),
                          env=app_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert ("ucb_llm: 4 of 4 jobs failed (first error: RuntimeError: toy failure requested"
            in proc.stderr)
    assert "Traceback" not in proc.stderr  # one line, not a stack trace
    assert all(r["status"] == "failed" and r["reward"] < 0 for r in runs(sweep))
    assert "score=FAILED (RuntimeError: toy failure requested" in (sweep / "analysis.md").read_text()
    assert "best_value" not in yaml.safe_load((sweep / "optimization_results.yaml").read_text())


def test_an_unreachable_llm_stops_the_sweep_with_one_line(tmp_path):
    env = app_env()
    env.pop("ANTHROPIC_API_KEY", None)
    proc = subprocess.run(app_cmd(tmp_path / "sweep", "hydra/sweeper/proposer=anthropic"), env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.splitlines()[0] == (
        "anthropic proposer: set the environment variable ANTHROPIC_API_KEY (the key is read "
        "from the environment only)")
    assert not (tmp_path / "sweep" / "0").exists()


def test_a_second_sweeper_on_the_same_directory_is_refused(tmp_path):
    sweep = tmp_path / "sweep"
    first = subprocess.Popen(app_cmd(sweep, "sleep_s=1", "hydra.sweeper.n_iterations=4",
                                     "hydra.sweeper.n_parallel=2"),
                             env=app_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not (sweep / "ucb_llm_tree.json").exists():
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.05)
    second = subprocess.run(app_cmd(sweep, "hydra.sweeper.n_iterations=4"), env=app_env(),
                            capture_output=True, text=True, timeout=60)
    assert first.wait(timeout=120) == 0
    assert second.returncode != 0
    assert "is in use by another sweeper (ucb_llm pid" in second.stderr.splitlines()[0]
    assert [r["job_idx"] for r in runs(sweep)] == [0, 1, 2, 3]


def test_resume_under_joblib_waits_for_the_jobs_still_running(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "pre_sleep_s=4",
            "hydra.sweeper.n_iterations=4", "hydra.sweeper.n_parallel=2"]
    proc = subprocess.Popen(app_cmd(sweep, *args), env=app_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while not all((sweep / str(i) / ".job_alive.json").exists() for i in (0, 1)):
            assert time.time() < deadline and proc.poll() is None, "the jobs never started"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # the sweeper dies; its joblib workers go on
        proc.wait()
        assert not (sweep / "0" / "metrics.json").exists()
        run_app(sweep, *args)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the orphaned workers, now idle
    after = runs(sweep)
    assert [r["status"] for r in after] == ["completed"] * 4
    assert [r["job_idx"] for r in after] == [0, 1, 2, 3]  # nothing launched twice
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1", "2", "3"]


def test_kill_and_resume(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["sleep_s=0.5", "hydra.sweeper.n_iterations=8", "hydra.sweeper.n_parallel=4"]
    proc = subprocess.Popen(app_cmd(sweep, *args), env=app_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    # Kill while the second round runs: job 5 has written its metrics, jobs 6-7 have not started.
    while not (sweep / "5" / "metrics.json").exists():
        assert time.time() < deadline and proc.poll() is None, "sweep ended before the kill"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = tree(sweep)
    assert before["iteration"] == 8
    assert [r["status"] for r in runs(sweep)][4:] == ["pending"] * 4
    finished_before = json.loads((sweep / "5" / "metrics.json").read_text())

    run_app(sweep, *args)
    after = runs(sweep)
    assert [r["status"] for r in after] == ["completed"] * 8
    assert [r["job_idx"] for r in after][:6] == [0, 1, 2, 3, 4, 5]  # read back, not re-run
    assert after[5]["metrics"]["score"] == pytest.approx(finished_before["score"])
    assert sorted(r["job_idx"] for r in after[6:]) == [8, 9]  # only the unfinished ones re-ran
    assert not (sweep / "10").exists()
    text = (sweep / "analysis.md").read_text()
    assert text.count("## Iter ") == 8 and text.count("## Iter 6:") == 1


def test_rejected_replies_fall_back_to_heuristic(tmp_path):
    replies = tmp_path / "replies.yaml"
    replies.write_text(yaml.safe_dump([
        "I would raise lr_k a little, it looked slow.",  # malformed: no JSON
        {"mutations": [
            {"slot": 0, "parent": "root", "changes": {"training.lr_k": 0.5}},
            {"slot": 1, "parent": "root", "changes": {"training.lr_k": "0.001,0.002"}},
            {"slot": 2, "parent": "root", "changes": {"simulation.shift": 1.0}},
            {"slot": 3, "parent": "root", "changes": {"training.lr_node": 0.002},
             "strategy": "explore", "rationale": "the valid one"}]},
    ]))
    sweep = tmp_path / "sweep"
    run_app(sweep, "hydra/sweeper/proposer=scripted", f"hydra.sweeper.proposer.path={replies}",
            "hydra.sweeper.n_iterations=4", "hydra.sweeper.n_parallel=4")
    state = tree(sweep)
    nodes = [state["nodes"][str(i)] for i in range(1, 5)]
    assert [n["proposer"] for n in nodes] == ["heuristic", "heuristic", "heuristic", "scripted"]
    assert "outside the allowed range" in nodes[0]["fallback"]
    assert "sweep syntax" in nodes[1]["fallback"]
    assert "simulation key" in nodes[2]["fallback"]
    assert nodes[3]["config"]["training.lr_node"] == "0.002" and not nodes[3]["fallback"]
    assert [c["ok"] for c in state["llm_calls"]] == [False, True]
    assert "no JSON" in state["llm_calls"][0]["error"]
    text = (sweep / "analysis.md").read_text()
    assert text.count("Fallback: scripted proposal rejected") == 3
    assert "heuristic used" in text
    for r in runs(sweep):
        assert not any(o.startswith("simulation.") for o in r["overrides"])


def test_regime_landscape_switches_at_block_boundaries(tmp_path):
    sweep = tmp_path / "sweep"
    run_app(sweep, "+regime=toy_a", "hydra.sweeper.n_iterations=8", "hydra.sweeper.n_parallel=4",
            "hydra.sweeper.n_iter_block=4", "hydra.sweeper.landscape.regimes=[toy_a,toy_b]")
    all_runs = runs(sweep)
    assert all("+regime=toy_a" in r["overrides"] for r in all_runs[:4])
    assert all("+regime=toy_b" in r["overrides"] for r in all_runs[4:])
    text = (sweep / "analysis.md").read_text()
    assert "# Block 2: toy_b" in text and "## Block 1 summary" in text
    memory = (sweep / "memory.md").read_text()
    assert "| 1 | toy_a |" in memory and "- Regime: toy_b" in memory


def test_anthropic_proposer_end_to_end(tmp_path, fake_llm):  # noqa: F811
    fake_llm.reply_text = json.dumps({
        "mutations": [{"slot": i, "parent": "root", "strategy": "explore",
                       "changes": {"training.lr_k": v}, "rationale": f"try lr_k={v}"}
                      for i, v in enumerate([0.0005, 0.002, 0.004])],
        "observation": "spread lr_k", "visual_assessment": "loss curve flat",
        "memory_update": {"principles": ["lr_k drives the score"], "open_questions": ["batch?"]}})
    secret = "sk-ant-test-NEVER-ON-DISK-42"
    sweep = tmp_path / "sweep"
    run_app(sweep, "hydra/sweeper/proposer=anthropic", f"hydra.sweeper.proposer.base_url={fake_llm.url}",
            "hydra.sweeper.proposer.max_retries=0", "hydra.sweeper.n_iterations=6",
            "hydra.sweeper.n_parallel=3", env={"ANTHROPIC_API_KEY": secret})
    state = tree(sweep)
    # Round 1 is accepted; round 2 repeats round 1's configs, is rejected twice, falls back.
    assert [n["proposer"] for n in state["nodes"].values()][:3] == ["anthropic"] * 3
    assert all(c["input_tokens"] == USAGE_IN and c["latency_s"] > 0 for c in state["llm_calls"])
    assert "lr_k drives the score" in (sweep / "memory.md").read_text()
    assert "Visual: loss curve flat" in (sweep / "analysis.md").read_text()
    second = fake_llm.requests[1]["body"]["messages"][0]["content"]
    assert any(block["type"] == "image" for block in second)  # plots of round 1 were sent
    assert "INSTRUCTIONS" not in json.dumps(fake_llm.requests[0]["body"])
    assert "metabolism" in fake_llm.requests[0]["body"]["system"].lower()
    for path in sweep.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_plugins_are_discovered(tmp_path):
    proc = subprocess.run(app_cmd(tmp_path / "x", "--info", "plugins")[:2] + ["--info", "plugins"],
                          env=app_env(), capture_output=True, text=True, timeout=60)
    assert "UCBLLMSweeper" in proc.stdout and "OptunaRegimeSweeper" in proc.stdout


def test_optuna_regime_preset_uses_the_search_space(tmp_path):
    sweep = tmp_path / "optuna"
    run_app(sweep, "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2", sweeper="optuna_regime")
    res = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert res["name"] == "optuna"
    assert set(res["best_params"]) == {"training.lr_k", "training.lr_node", "training.batch_size"}
    assert 0 < res["best_value"] < 1.2


def test_command_line_sweep_argument_joins_the_space(tmp_path):
    sweep = tmp_path / "sweep"
    run_app(sweep, "training.lr_k=tag(log,interval(1e-4,5e-4))", "hydra.sweeper.n_iterations=4",
            "hydra.sweeper.n_parallel=4")
    values = [float(o.split("=")[1]) for r in runs(sweep) for o in r["overrides"]
              if o.startswith("training.lr_k=")]
    assert len(values) == 4 and all(1e-4 <= v <= 5e-4 for v in values)  # the root is clipped in



def test_submitit_local_launcher(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "sweep"
    run_app(sweep, "hydra/launcher=submitit_local", "hydra.sweeper.n_iterations=4",
            "hydra.sweeper.n_parallel=2")
    assert [r["status"] for r in runs(sweep)] == ["completed"] * 4
    assert (sweep / ".submitit").is_dir()
