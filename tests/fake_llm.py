"""A small HTTP server on 127.0.0.1 that speaks the Anthropic Messages and OpenAI
chat-completions APIs, so tests run the real SDK clients against canned replies.

Each request takes the next mode from ``server.modes`` (the last one repeats):
``good`` (``server.reply_text`` as the answer), ``malformed`` (prose, no JSON), ``slow``
(sleeps ``server.slow_s`` first), ``401`` (a refused key), ``429`` and ``500``. Requests are recorded for assertions.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

USAGE_IN, USAGE_OUT = 123, 45


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        srv.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        mode = srv.modes.pop(0) if len(srv.modes) > 1 else srv.modes[0]
        if mode == "slow":
            time.sleep(srv.slow_s)
            mode = "good"
        if mode in ("401", "429", "500"):
            kind = {"401": "authentication_error", "429": "rate_limit_error", "500": "api_error"}[mode]
            self._send(int(mode), {"type": "error", "error": {"type": kind, "message": f"canned {mode}"}},
                       {"retry-after": "0"})
            return
        text = srv.reply_text if mode == "good" else "I think you should raise the learning rate."
        if self.path.endswith("/messages"):
            payload = {"id": "msg_fake", "type": "message", "role": "assistant", "model": body.get("model"),
                       "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                       "stop_sequence": None,
                       "usage": {"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT}}
        else:
            payload = {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
                       "model": body.get("model"),
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": text}}],
                       "usage": {"prompt_tokens": USAGE_IN, "completion_tokens": USAGE_OUT,
                                 "total_tokens": USAGE_IN + USAGE_OUT}}
        self._send(200, payload, {})

    def _send(self, code, payload, headers):
        data = json.dumps(payload).encode()
        try:
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass


class FakeLLMServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.modes = ["good"]
        self.reply_text = "{}"
        self.slow_s = 2.0
        self.requests = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def fake_llm():
    server = FakeLLMServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
