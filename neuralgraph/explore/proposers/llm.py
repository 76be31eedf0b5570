"""LLM proposers: Anthropic Messages API, OpenAI-compatible chat completions, headless Claude Code.

What cannot work at all stops the sweep (:class:`ProposerUnavailable`): a missing SDK, key or
``claude`` binary (checked before the first job), a key or model the server refuses (401, 403,
404). Everything else (timeouts, rate limits, server errors, an unreadable reply) is a passing
:class:`ProposerError`: counted, logged, and the round's slots fall back to the heuristic.
Plots are sent with a caption naming the file and the run it comes from.

Keys are read from the environment variable named in the config at call time and passed
straight to the SDK client; they are never stored, logged or put in an error message. The SDKs
are imported only when such a proposer is built, so the plugin stays cheap to discover.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

from ..config import AnthropicConf, ClaudeCLIConf, OpenAIConf
from ..space import SearchSpace
from ..tree import TreeState
from ..plots import Plot
from .base import Context, ProposerError, ProposerUnavailable, Reply, Slot, parse_reply
from .heuristic import HeuristicProposer

# HTTP statuses that no retry will change: a refused key, no permission, an unknown model.
_FATAL_STATUS = (401, 403, 404)


class _LLMProposer:
    """Shared flow: build the prompt, call the model, time it, parse the JSON reply."""

    name = "llm"
    sdk_module = ""  # imported on construction, so a missing SDK fails early and clearly
    reads_instructions = True

    def __init__(self, conf: Any) -> None:
        self.conf = conf
        self.retries = conf.retries
        self.fallback = HeuristicProposer()
        self._client: Any = None
        if self.sdk_module:
            try:
                self._sdk = importlib.import_module(self.sdk_module)
            except ImportError:
                raise ProposerUnavailable(f"{self.name} proposer: pip install {self.sdk_module} "
                                          "(or the project's [llm] extra)") from None

    def check_reachable(self) -> None:
        """Raise :class:`ProposerUnavailable` if the key this proposer needs is not set."""
        self._key(required=self._key_required())

    def propose(self, ctx: Context, slots: list[Slot], feedback: str = "") -> Reply:
        user = ctx.prompt(slots, feedback)
        images = ctx.images[: getattr(self.conf, "max_images", 4)] if self.conf.images else []
        reply = self._call(ctx.instructions, user, images)
        try:
            parsed = parse_reply(reply.raw)
        except ProposerError as exc:
            raise ProposerError(str(exc), prompt=user, raw=reply.raw,
                                usage=(reply.input_tokens, reply.output_tokens, reply.latency_s)) from None
        parsed.prompt, parsed.input_tokens = user, reply.input_tokens
        parsed.output_tokens, parsed.latency_s = reply.output_tokens, reply.latency_s
        return parsed

    def summarize(self, state: TreeState, instructions: str, prompt: str) -> Optional[Reply]:
        """The model's block summary, in plain text."""
        return self._call(instructions, prompt, [])

    def update_memory(self, state: TreeState, space: SearchSpace) -> None:
        """The model writes the memory itself, in its replies."""

    def _call(self, system: str, user: str, images: list[Plot]) -> Reply:
        """One completion, timed; a passing failure carries the prompt for the call log."""
        t0 = time.monotonic()
        try:
            text, tin, tout = self.complete(system, user, images)
        except ProposerError as exc:
            raise ProposerError(str(exc), prompt=user, usage=(0, 0, time.monotonic() - t0)) from None
        return Reply(prompt=user, raw=text, input_tokens=tin, output_tokens=tout,
                     latency_s=time.monotonic() - t0)

    def complete(self, system: str, user: str, images: list[Plot]) -> tuple[str, int, int]:
        raise NotImplementedError

    def _key_required(self) -> bool:
        return True

    def _key(self, required: bool) -> Optional[str]:
        key = os.environ.get(self.conf.api_key_env)
        if not key and required:
            raise ProposerUnavailable(
                f"{self.name} proposer: set the environment variable {self.conf.api_key_env} "
                "(the key is read from the environment only)"
            )
        return key

    def _api_error(self, exc: Exception) -> Exception:
        """The SDK's error as ours: fatal for a refused key or unknown model, else passing."""
        status = getattr(exc, "status_code", None)
        text = f"{self.name}: {type(exc).__name__}: {_short(exc)}"
        if status in _FATAL_STATUS:
            return ProposerUnavailable(f"{text} (HTTP {status}: check the key in "
                                       f"{self.conf.api_key_env} and the model name)")
        return ProposerError(text)


def _b64(path: str) -> str:
    return base64.standard_b64encode(Path(path).read_bytes()).decode("ascii")


class AnthropicProposer(_LLMProposer):
    name = "anthropic"
    sdk_module = "anthropic"
    conf: AnthropicConf

    def complete(self, system: str, user: str, images: list[Plot]) -> tuple[str, int, int]:
        if self._client is None:
            self._client = self._sdk.Anthropic(
                api_key=self._key(required=True),
                base_url=self.conf.base_url,
                timeout=self.conf.timeout_s,
                max_retries=self.conf.max_retries,
            )
        content: list[dict[str, Any]] = [{"type": "text", "text": user}]
        for i, img in enumerate(images, start=1):
            content.append({"type": "text", "text": f"Plot {i}: {img.label}"})
            content.append({"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                        "data": _b64(img.path)}})
        kwargs: dict[str, Any] = {}
        if self.conf.temperature is not None:
            kwargs["temperature"] = self.conf.temperature
        try:
            resp = self._client.messages.create(
                model=self.conf.model,
                max_tokens=self.conf.max_tokens,
                system=system or "You propose training-config mutations.",
                messages=[{"role": "user", "content": content}],
                **kwargs,
            )
        except self._sdk.APIError as exc:
            raise self._api_error(exc) from None
        text = "".join(getattr(b, "text", "") for b in resp.content if getattr(b, "type", "") == "text")
        usage = getattr(resp, "usage", None)
        return text, int(getattr(usage, "input_tokens", 0) or 0), int(getattr(usage, "output_tokens", 0) or 0)


class OpenAIProposer(_LLMProposer):
    name = "openai"
    sdk_module = "openai"
    conf: OpenAIConf

    def _key_required(self) -> bool:
        return self.conf.base_url is None  # a local server (vLLM, Ollama) usually needs no key

    def complete(self, system: str, user: str, images: list[Plot]) -> tuple[str, int, int]:
        if self._client is None:
            # The SDK wants a string even where the server needs no key.
            key = self._key(required=self._key_required()) or "not-needed"
            kwargs: dict[str, Any] = {"api_key": key, "timeout": self.conf.timeout_s,
                                      "max_retries": self.conf.max_retries}
            if self.conf.base_url:
                kwargs["base_url"] = self.conf.base_url
            self._client = self._sdk.OpenAI(**kwargs)
        if images:
            content: Any = [{"type": "text", "text": user}]
            for i, img in enumerate(images, start=1):
                content += [{"type": "text", "text": f"Plot {i}: {img.label}"},
                            {"type": "image_url",
                             "image_url": {"url": f"data:image/png;base64,{_b64(img.path)}"}}]
        else:
            content = user
        messages = [{"role": "user", "content": content}]
        if system:
            messages.insert(0, {"role": "system", "content": system})
        extra: dict[str, Any] = {}
        if self.conf.temperature is not None:
            extra["temperature"] = self.conf.temperature
        try:
            resp = self._client.chat.completions.create(
                model=self.conf.model, messages=messages, max_tokens=self.conf.max_tokens, **extra
            )
        except self._sdk.APIError as exc:
            raise self._api_error(exc) from None
        if not resp.choices:
            raise ProposerError("openai: the reply has no choices")
        text = resp.choices[0].message.content or ""
        usage = getattr(resp, "usage", None)
        return text, int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)


class ClaudeCLIProposer(_LLMProposer):
    """``claude -p`` with the prompt on stdin; plots are listed as paths for its Read tool."""

    name = "claude_cli"
    conf: ClaudeCLIConf

    def check_reachable(self) -> None:
        """Raise :class:`ProposerUnavailable` if the command is not on PATH."""
        if shutil.which(self.conf.command[0]) is None:
            raise ProposerUnavailable(self._not_found())

    def _not_found(self) -> str:
        return (f"claude_cli: '{self.conf.command[0]}' not found on PATH; install Claude Code or "
                "set hydra.sweeper.proposer.command")

    def complete(self, system: str, user: str, images: list[Plot]) -> tuple[str, int, int]:
        prompt = f"{system}\n\n---\n\n{user}"
        if images:
            prompt += "\n\nPlots of the latest round (open them with Read):\n" + "\n".join(
                f"- {img.label}: {img.path}" for img in images)
        cmd = list(self.conf.command)
        if self.conf.allowed_tools:
            cmd += ["--allowedTools", ",".join(self.conf.allowed_tools)]
        try:
            proc = subprocess.run(cmd, input=prompt, capture_output=True, text=True,
                                  timeout=self.conf.timeout_s, check=False)
        except FileNotFoundError:
            raise ProposerUnavailable(self._not_found()) from None
        except subprocess.TimeoutExpired:
            raise ProposerError(f"claude_cli: no answer within {self.conf.timeout_s:.0f} s") from None
        if proc.returncode != 0:
            raise ProposerError(f"claude_cli: exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
        out = proc.stdout
        try:
            obj = json.loads(out)
        except json.JSONDecodeError:
            return out, 0, 0
        if isinstance(obj, dict) and "result" in obj:
            usage = obj.get("usage") or {}
            return str(obj["result"]), int(usage.get("input_tokens", 0) or 0), int(usage.get("output_tokens", 0) or 0)
        return out, 0, 0


def _short(exc: Exception) -> str:
    return str(exc).replace("\n", " ")[:300]
