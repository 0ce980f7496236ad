"""A loopback OpenAI-compatible server for SDK and judge tests (a plain module, not a conftest).

Serves ``/v1/chat/completions`` (plain and streamed, as server-sent events) and
``/v1/responses``. The requested model picks the behaviour: ``rate-limited`` answers 429,
``slow`` waits two seconds (longer than the tests' client timeout), anything else answers
with the reply ``REPLY``. Requests are kept in ``server.requests`` for assertions.

For judges, set ``server.script`` to a function of the request body returning a ``Reply``:
a scripted verdict (``content``), a refusal, malformed JSON, an HTTP error (429 with
Retry-After, 500, …) or a slow answer (``delay_s``). ``server.formats`` lists the
``response_format`` types the endpoint accepts (others get 400, as from endpoints without
structured output); ``server.delay_s`` delays every scripted answer (the benchmark's 200 ms).
``judged_text(body, "output")`` reads a delimited variable back out of a judge's prompt.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY = "Your order ships tomorrow."
VERSION = "gpt-4o-mini-2024-07-18"
USAGE = {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49,
         "prompt_tokens_details": {"cached_tokens": 32},
         "completion_tokens_details": {"reasoning_tokens": 3}}
CHUNK_DELAY_S = 0.05  # between streamed chunks, so time to first token < latency


@dataclass
class Reply:
    """What the scripted endpoint answers to one request."""
    content: str | None = None          # the message text (a verdict, malformed JSON, prose)
    refusal: str | None = None          # a structured-output refusal
    status: int = 200                   # an HTTP error when not 200
    retry_after: str | None = None      # Retry-After header of a 429
    delay_s: float = 0.0                # answer after this long
    usage: dict = field(default_factory=lambda: dict(USAGE))
    finish_reason: str = "stop"


def judged_text(body: dict, name: str) -> str | None:
    """The text between <name> tags in a judge request's user message."""
    text = "\n".join(m.get("content") or "" for m in body.get("messages", []))
    m = re.search(rf"<{name}>\n(.*?)\n</{name}>", text, re.S)
    return m.group(1) if m else None


def verdict(**fields: Any) -> Reply:
    return Reply(content=json.dumps(fields))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle's algorithm and the
    # client's delayed ACK add about 40 ms to every answer on a kept-alive connection.
    disable_nagle_algorithm = True
    server: Any

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.requests.append(body)
        model = body.get("model")
        if self.server.script is not None and self.path.endswith("/chat/completions"):
            self._scripted(body)
        elif model == "rate-limited":
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

    def _scripted(self, body: dict) -> None:
        fmt = (body.get("response_format") or {}).get("type")
        if fmt and fmt not in self.server.formats:
            self._json(400, {"error": {"message": f"response_format {fmt!r} is not supported",
                                       "type": "invalid_request_error", "param": "response_format"}})
            return
        reply: Reply = self.server.script(body)
        delay = reply.delay_s + self.server.delay_s
        if delay:
            time.sleep(delay)
        if reply.status != 200:
            headers = {"Retry-After": reply.retry_after} if reply.retry_after else {}
            self._json(reply.status, {"error": {"message": f"scripted HTTP {reply.status}",
                                                "type": "server_error"}}, headers)
            return
        message = {"role": "assistant", "content": reply.content, "refusal": reply.refusal}
        self._json(200, {"id": "chatcmpl-j", "object": "chat.completion", "created": 1_736_932_400,
                         "model": VERSION, "usage": reply.usage,
                         "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                                      "message": message}]})

    def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout): nothing to answer

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many judge calls connect at once


@contextmanager
def openai_server(script: Callable[[dict], Reply] | None = None,
                  formats: tuple[str, ...] = ("json_schema", "json_object"),
                  delay_s: float = 0.0) -> Iterator[Any]:
    """A running server; its base URL is ``server.base_url``."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.requests = []
    server.lock = threading.Lock()
    server.script, server.formats, server.delay_s = script, formats, delay_s
    server.base_url = f"http://127.0.0.1:{server.server_port}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def good_bad_script(body: dict) -> Reply:
    """Score 5 when the judged output says "good", 1 otherwise (the synthetic spans' truth)."""
    return verdict(reason="scripted", score=5 if judged_text(body, "output") == "good" else 1)


def main() -> None:
    """Serve in its own process (benchmarks, app tests): prints the base URL, then serves until
    stdin closes or the process is stopped."""
    import argparse
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=float, default=0.0)
    args = ap.parse_args()
    with openai_server(good_bad_script, delay_s=args.delay) as server:
        print(server.base_url, flush=True)
        while sys.stdin.buffer.read(1):  # until stdin closes (a byte at a time: no memory)
            pass


if __name__ == "__main__":
    main()
