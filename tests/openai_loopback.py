"""A loopback OpenAI-compatible server for SDK tests (a plain module, not a conftest).

Serves ``/v1/chat/completions`` (plain and streamed, as server-sent events) and
``/v1/responses``. The requested model picks the behaviour: ``rate-limited`` answers 429,
``slow`` waits two seconds (longer than the tests' client timeout), anything else answers
with the reply ``REPLY``. Requests are kept in ``server.requests`` for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY = "Your order ships tomorrow."
VERSION = "gpt-4o-mini-2024-07-18"
USAGE = {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49,
         "prompt_tokens_details": {"cached_tokens": 32},
         "completion_tokens_details": {"reasoning_tokens": 3}}
CHUNK_DELAY_S = 0.05  # between streamed chunks, so time to first token < latency


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        model = body.get("model")
        if model == "rate-limited":
            self._json(429, {"error": {"message": "Rate limit reached for requests",
                                       "type": "requests", "code": "rate_limit_exceeded"}})
        elif model == "slow":
            time.sleep(2)
            self._json(200, _completion(body))
        elif self.path.endswith("/responses"):
            self._json(200, _response(body))
        elif body.get("stream"):
            self._stream(body)
        else:
            self._json(200, _completion(body))

    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, body: dict) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for chunk in _chunks(body):
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                time.sleep(CHUNK_DELAY_S)
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: an abandoned stream
        self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


def _completion(body: dict) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1_736_932_400,
            "model": VERSION, "usage": USAGE,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": REPLY}}]}


def _chunks(body: dict) -> Iterator[dict]:
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1_736_932_400,
            "model": VERSION}
    yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    for word in REPLY.split(" "):
        yield {**base, "choices": [{"index": 0, "delta": {"content": word + " "}}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    if (body.get("stream_options") or {}).get("include_usage"):
        yield {**base, "choices": [], "usage": USAGE}


def _response(body: dict) -> dict:
    return {"id": "resp_1", "object": "response", "created_at": 1_736_932_400,
            "model": VERSION, "status": "completed", "parallel_tool_calls": True,
            "tool_choice": "auto", "tools": [],
            "output": [{"type": "message", "id": "msg_1", "role": "assistant",
                        "status": "completed",
                        "content": [{"type": "output_text", "text": REPLY, "annotations": []}]}],
            "usage": {"input_tokens": 20, "output_tokens": 6, "total_tokens": 26,
                      "input_tokens_details": {"cached_tokens": 4},
                      "output_tokens_details": {"reasoning_tokens": 2}}}


@contextmanager
def openai_server() -> Iterator[Any]:
    """A running server; its base URL is ``server.base_url``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.requests = []
    server.base_url = f"http://127.0.0.1:{server.server_port}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
