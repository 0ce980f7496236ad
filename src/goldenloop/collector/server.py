"""The HTTP side of the receiver: ``POST /v1/traces`` with a protobuf
(``application/x-protobuf``) or OTLP/JSON (``application/json``) body, plain or
gzip/deflate-compressed.

A body is checked (``decode.parse``) and kept in the journal before the answer: 200 only once
it is durable there. One too large is refused with 413, one that is not OTLP with 400, an
unknown media type or encoding with 415, and a failed write with 503 so the exporter retries;
errors carry a ``google.rpc.Status`` in the request's encoding. The journal's converter turns
accepted bodies into spool files; this process never opens the database.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from goldenloop.collector.decode import (
    GRPC_RESOURCE_EXHAUSTED,
    GRPC_UNAVAILABLE,
    JSON,
    PROTOBUF,
    BadRequest,
    parse,
)
from goldenloop.collector.journal import Converter, Journal
from goldenloop.errors import GoldenloopError

log = logging.getLogger("goldenloop.collect")
DEFAULT_PORT = 4318
DEFAULT_MAX_BODY = 32 << 20  # bytes of a request body, after decompression


# -- the HTTP server ------------------------------------------------------------------------------
@dataclass
class Counters:
    requests: int = 0
    spans: int = 0
    files: int = 0
    rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        with self.lock:
            for k, v in deltas.items():
                setattr(self, k, getattr(self, k) + v)


class Receiver(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not hold up a stop
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], inbox: Path, max_body: int = DEFAULT_MAX_BODY,
                 spool_seconds: float = 0.5):
        self.inbox, self.max_body = Path(inbox), max_body
        self.counters = Counters()
        self.journal = Journal(self.inbox)
        self._busy = 0
        self._idle = threading.Condition()
        self.converter = Converter(self.journal, lambda n: self.counters.add(files=1),
                                   interval=spool_seconds, yield_to_requests=self.quiet)
        self.converter.start()  # first, entries a crashed run left behind
        super().__init__(address, Handler)

    def begin(self) -> None:
        with self._idle:
            self._busy += 1

    def end(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def quiet(self, limit: float = 0.25) -> None:
        """Wait until no request is being answered, or ``limit`` seconds: the converter's work
        is already durable and can wait; an exporter waiting for its answer cannot. The limit
        keeps a steady stream of requests from starving it."""
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, limit)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait for requests being answered (a stop must not cut a write short)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def accept(self, body: bytes, media_type: str) -> int:
        """Check one request and keep it durably; return its number of spans."""
        parsed, spans = parse(body, media_type)
        if spans:
            try:
                self.journal.append(body, media_type, parsed)
            except OSError as exc:
                raise BadRequest(503, f"cannot write the request to disk: {exc}",
                                 GRPC_UNAVAILABLE) from exc
        self.counters.add(requests=1, spans=spans)
        return spans

    def settle(self, timeout: float = 60.0) -> bool:
        """Wait until every accepted request is in a spool file."""
        return self.converter.wait_idle(timeout)

    def server_close(self) -> None:
        super().server_close()
        self.converter.stop()  # converts what was accepted before it ends


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: exporters reuse their connection
    server: Receiver
    timeout = 120  # an idle keep-alive connection is closed after this many seconds

    def do_POST(self) -> None:
        self.server.begin()
        media = self._content_type()
        # Errors are answered in the request's encoding; an unknown one gets readable JSON.
        answer_as = media if media in (PROTOBUF, JSON) else JSON
        self._consumed = False
        try:
            self._check(media)
            body = self._body()
            self.server.accept(body, media)
            self._reply(200, media, b"" if media == PROTOBUF else b"{}")
        except BadRequest as exc:
            self.server.counters.add(rejected=1)
            if not self._consumed:  # an unread body would be taken for the next request
                self.close_connection = True
            log.warning("rejected %s: %s %s", self.client_address[0], exc.status, exc)
            self._error(exc, answer_as)
        except Exception as exc:  # a bug: answer 500 so the exporter keeps its spans
            log.exception("receiver failure")
            self._error(BadRequest(500, f"internal error: {exc}", GRPC_UNAVAILABLE), answer_as)
        finally:
            self.server.end()

    def do_GET(self) -> None:
        self.close_connection = True
        self._error(BadRequest(405, "only POST /v1/traces is served"), JSON)

    do_PUT = do_DELETE = do_PATCH = do_GET

    def _content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()

    def _check(self, media: str) -> None:
        if self.path.split("?", 1)[0].rstrip("/") != "/v1/traces":
            raise BadRequest(404, f"no such endpoint {self.path!r}: send traces to /v1/traces")
        if media not in (PROTOBUF, JSON):
            raise BadRequest(415, f"unsupported content type {media or '(none)'!r}: "
                                  f"use {PROTOBUF} or {JSON}")

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            raise BadRequest(411, "a Content-Length header is required")
        try:
            n = int(length)
        except ValueError as exc:
            raise BadRequest(400, f"bad Content-Length {length!r}") from exc
        self._consumed = True
        if n > self.server.max_body:
            self._discard(n)
            raise BadRequest(413, f"body of {n:,} bytes exceeds the limit of "
                                  f"{self.server.max_body:,}", GRPC_RESOURCE_EXHAUSTED)
        raw = self.rfile.read(n)
        if len(raw) < n:
            self.close_connection = True
            raise BadRequest(400, f"body ended after {len(raw):,} of {n:,} bytes")
        return _decompress(raw, self.headers.get("Content-Encoding"), self.server.max_body)

    def _discard(self, n: int) -> None:
        """Read a refused body (so the client sees our answer, not a reset), within reason."""
        if n > 4 * self.server.max_body:
            self.close_connection = True
            return
        while n > 0:
            got = self.rfile.read(min(n, 1 << 20))
            if not got:
                break
            n -= len(got)

    def _error(self, exc: BadRequest, media: str) -> None:
        if media == PROTOBUF:
            body = _status_protobuf(exc.grpc_code, str(exc))
        else:
            body = json.dumps({"code": exc.grpc_code, "message": str(exc)}).encode()
        extra = {"Retry-After": "1"} if exc.status == 503 else {}
        self._reply(exc.status, media, body, extra)

    def _reply(self, status: int, media: str, body: bytes, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)


def _decompress(raw: bytes, encoding: str | None, limit: int) -> bytes:
    enc = (encoding or "identity").strip().lower()
    if enc == "identity":
        return raw
    if enc not in ("gzip", "deflate"):
        raise BadRequest(415, f"unsupported Content-Encoding {enc!r}: use gzip or deflate")
    d = zlib.decompressobj(wbits=31 if enc == "gzip" else 15)
    try:
        out = d.decompress(raw, limit + 1)  # never inflate past the limit (zip bombs)
    except zlib.error as exc:
        raise BadRequest(400, f"the body is not valid {enc}: {exc}") from exc
    if len(out) > limit:
        raise BadRequest(413, f"decompressed body exceeds the limit of {limit:,} bytes",
                         GRPC_RESOURCE_EXHAUSTED)
    return out


def _status_protobuf(code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` (code = field 1, message = field 2), encoded by hand to need no
    extra package."""
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


# -- running it -----------------------------------------------------------------------------------
def serve(inbox: Path, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          max_body: int = DEFAULT_MAX_BODY, spool_seconds: float = 0.5,
          say: Any = print) -> Counters:
    """Receive until SIGINT or SIGTERM; requests being answered then are finished, and every
    accepted request is written to a spool file, before it returns."""
    try:
        server = Receiver((host, port), inbox, max_body, spool_seconds)
    except OSError as exc:  # the port is taken, or the inbox cannot be written
        raise GoldenloopError(f"cannot receive on {host}:{port} into {inbox}: {exc}") from exc

    def stop(_sig: int, _frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    # A thread wanting the GIL waits up to this long for the one holding it (5 ms by default):
    # a request answered while the converter works would wait that long at every step.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    say(f"goldenloop collect: OTLP/HTTP traces at http://{host}:{server.server_port}/v1/traces "
        f"-> spool files in {inbox} (Ctrl+C stops it)")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.drain()
        server.server_close()
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.setswitchinterval(switch)
    c = server.counters
    say(f"goldenloop collect: stopped after {c.requests:,} requests, {c.spans:,} spans in "
        f"{c.files:,} spool files, {c.rejected:,} rejected")
    return c
