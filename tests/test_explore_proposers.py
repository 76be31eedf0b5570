"""Proposers: reply parsing, and the real anthropic/openai SDK clients against a local fake
server (good, malformed, slow, 429, 500), plus headless Claude Code through a stand-in script."""

import json
import sys

import pytest
from fake_llm import USAGE_IN, USAGE_OUT, fake_llm  # noqa: F401  (fixture)

from neuralgraph.explore.config import AnthropicConf, ClaudeCLIConf, OpenAIConf
from neuralgraph.explore.plots import Plot
from neuralgraph.explore.proposers import (Context, ProposerError, ProposerUnavailable, Slot,
                                           make_proposer, parse_reply)
from neuralgraph.explore.space import parse_space
from neuralgraph.explore.tree import TreeState

GOOD = json.dumps({"mutations": [{"slot": 0, "parent": "root", "strategy": "explore",
                                  "changes": {"training.lr_k": 0.002}, "rationale": "faster k"}],
                   "observation": "first look", "visual_assessment": "loss falls",
                   "memory_update": {"principles": ["lr_k matters"]}})
SECRET = "sk-test-DO-NOT-LEAK-1234"


@pytest.fixture
def ctx(tmp_path):
    png = tmp_path / "plot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    state = TreeState(regime="toy", reward_key="score")
    return Context(state=state, space=parse_space({"training.lr_k": "tag(log, interval(1e-4, 1e-2))"}),
                   root_config={"training.lr_k": "0.001"}, slots=[Slot(0, None, 0.0, "exploit")],
                   seed=0, prompt=lambda s, f: f"PROMPT {f}", instructions="INSTRUCTIONS",
                   images=[Plot(str(png), "plot.png — node 1, iteration 1, score=0.5")])


def test_parse_reply_variants():
    r = parse_reply("Here you go:\n```json\n" + GOOD + "\n```\nthanks")
    assert r.proposals[0].parent is None and r.proposals[0].changes == {"training.lr_k": 0.002}
    assert r.memory == {"principles": ["lr_k matters"]}
    assert r.raw.startswith("Here you go")
    r = parse_reply('{"mutations": [{"slot": 1, "parent": "3", "changes": {"training.lr_k": "0.003"}}]}')
    assert r.proposals[0].parent == 3 and r.proposals[0].changes == {"training.lr_k": "0.003"}
    assert not r.proposals[0].error
    for bad, match in [("no json here", "no JSON"), ('{"x": 1}', "mutations"),
                       ('{"mutations": [{"slot": "first"}]}', "'slot' must be an integer")]:
        with pytest.raises(ProposerError, match=match):
            parse_reply(bad)


@pytest.mark.parametrize("field, value, match", [
    ("replicate", "false", "'replicate' must be true or false"),  # a string is not a boolean
    ("replicate", 0, "'replicate' must be true or false"),
    ("parent", True, "'parent' must be a node id"),  # true is not node 1
    ("parent", "seven", "'parent' must be a node id"),
    ("parent", 2.5, "'parent' must be a node id"),
    ("strategy", "yolo", "'strategy' must be one of"),
    ("changes", ["training.lr_k=0.003"], "'changes' must be an object"),
])
def test_a_mutation_must_have_the_types_the_prompt_shows(field, value, match):
    mutation = {"slot": 0, "parent": 1, "changes": {"training.lr_k": 0.003}, field: value}
    other = {"slot": 1, "parent": "root", "changes": {"training.lr_k": 0.004}}
    r = parse_reply(json.dumps({"mutations": [mutation, other]}))
    assert match in r.proposals[0].error
    assert not r.proposals[1].error  # only the broken mutation's slot is rejected


def test_unknown_proposer_is_named():
    with pytest.raises(ValueError, match="hydra/sweeper/proposer"):
        make_proposer({"name": "gpt"})


def _anthropic(url, **kw):
    return make_proposer(dict(name="anthropic", base_url=url, timeout_s=0.5, max_retries=0, **kw))


def _openai(url, **kw):
    return make_proposer(dict(name="openai", base_url=url + "/v1", timeout_s=0.5, max_retries=0, **kw))


@pytest.mark.parametrize("build", [_anthropic, _openai], ids=["anthropic", "openai"])
def test_good_reply_through_the_real_sdk(build, fake_llm, ctx, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    fake_llm.reply_text = GOOD
    reply = build(fake_llm.url).propose(ctx, ctx.slots, "")
    assert reply.proposals[0].changes == {"training.lr_k": 0.002}
    assert (reply.input_tokens, reply.output_tokens) == (USAGE_IN, USAGE_OUT)
    assert reply.latency_s > 0
    req = fake_llm.requests[-1]
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert SECRET in (headers.get("x-api-key", "") + headers.get("authorization", ""))
    text = json.dumps(req["body"])
    assert "PROMPT" in text and "INSTRUCTIONS" in text
    assert "base64" in text or "data:image/png" in text  # the plot went along as an image


@pytest.mark.parametrize("build", [_anthropic, _openai], ids=["anthropic", "openai"])
@pytest.mark.parametrize("mode, match", [("malformed", "no JSON"), ("429", "RateLimit"),
                                         ("500", "InternalServer"), ("slow", "Timeout")])
def test_failures_become_proposer_errors(build, mode, match, fake_llm, ctx, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    fake_llm.modes = [mode]
    fake_llm.slow_s = 1.5
    with pytest.raises(ProposerError, match=match) as info:
        build(fake_llm.url).propose(ctx, ctx.slots, "")
    assert SECRET not in str(info.value)


def test_sdk_retries_a_429_then_succeeds(fake_llm, ctx, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    fake_llm.modes = ["429", "good"]
    fake_llm.reply_text = GOOD
    prop = make_proposer(dict(name="anthropic", base_url=fake_llm.url, timeout_s=2, max_retries=1))
    reply = prop.propose(ctx, ctx.slots, "")
    assert reply.proposals and len(fake_llm.requests) == 2


def test_missing_key_names_the_variable(ctx, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    prop = make_proposer({"name": "anthropic"})
    with pytest.raises(ProposerUnavailable, match="ANTHROPIC_API_KEY"):
        prop.check_reachable()
    with pytest.raises(ProposerUnavailable, match="ANTHROPIC_API_KEY"):
        prop.propose(ctx, ctx.slots, "")


@pytest.mark.parametrize("build", [_anthropic, _openai], ids=["anthropic", "openai"])
def test_a_refused_key_is_fatal_not_a_fallback(build, fake_llm, ctx, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    fake_llm.modes = ["401"]
    with pytest.raises(ProposerUnavailable, match="HTTP 401") as info:
        build(fake_llm.url).propose(ctx, ctx.slots, "")
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("build", [_anthropic, _openai], ids=["anthropic", "openai"])
def test_plots_are_sent_by_name_with_their_caption(build, fake_llm, ctx, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    fake_llm.reply_text = GOOD
    build(fake_llm.url).propose(ctx, ctx.slots, "")
    content = fake_llm.requests[-1]["body"]["messages"][-1]["content"]
    assert [block["type"] for block in content][:2] == ["text", "text"]
    assert content[1]["text"] == "Plot 1: plot.png — node 1, iteration 1, score=0.5"
    assert content[2]["type"] in ("image", "image_url")  # the image right after its caption


def test_openai_local_server_needs_no_key(fake_llm, ctx, monkeypatch):  # noqa: F811
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fake_llm.reply_text = GOOD
    reply = _openai(fake_llm.url, images=False).propose(ctx, ctx.slots, "")
    assert reply.proposals
    assert isinstance(fake_llm.requests[-1]["body"]["messages"][-1]["content"], str)


def test_claude_cli_reads_the_json_result(tmp_path, ctx):
    script = tmp_path / "claude"
    script.write_text(
        "import json, sys\n"
        "prompt = sys.stdin.read()\n"
        "assert 'PROMPT' in prompt and 'plot.png' in prompt\n"
        f"print(json.dumps({{'result': {GOOD!r}, 'usage': {{'input_tokens': 7, 'output_tokens': 3}}}}))\n")
    prop = make_proposer({"name": "claude_cli", "command": [sys.executable, str(script)]})
    reply = prop.propose(ctx, ctx.slots, "")
    assert reply.proposals[0].changes == {"training.lr_k": 0.002}
    assert (reply.input_tokens, reply.output_tokens) == (7, 3)


def test_claude_cli_missing_binary_is_named(ctx):
    prop = make_proposer({"name": "claude_cli", "command": ["no-such-claude-binary"]})
    with pytest.raises(ProposerUnavailable, match="not found on PATH"):
        prop.check_reachable()
    with pytest.raises(ProposerUnavailable, match="not found on PATH"):
        prop.propose(ctx, ctx.slots, "")


def test_conf_defaults_are_typed():
    assert AnthropicConf().api_key_env == "ANTHROPIC_API_KEY"
    assert OpenAIConf().base_url is None
    assert ClaudeCLIConf().command[:2] == ["claude", "-p"]
