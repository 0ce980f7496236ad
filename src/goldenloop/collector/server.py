"""The HTTP side of the receiver: ``POST /v1/traces`` with a protobuf
(``application/x-protobuf``) or OTLP/JSON (``application/json``) body, plain or
gzip/deflate-compressed, framed by a length or chunked.

Every span of a body is mapped and checked and the accepted ones kept in the journal
(``journal.stage`` and ``commit``) before the answer: 200 only once they are durable, with a
``partial_success`` counting the spans refused; 400 when none could be accepted or the body
is not OTLP, 413 for a body over the limit (however it is framed), 415 for an unknown media
type or encoding.
The receiver stays bounded: bodies in memory have a byte budget, one body is mapped at a
time, connections past a limit are answered rather than queued, and a request that cannot
be served within those bounds gets 503 with Retry-After, as it does when the disk cannot be
written, so the exporter backs off and retries. Errors carry a ``google.rpc.Status`` in the
request's encoding. The journal's converter turns accepted spans into spool files; this
process never opens the database.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from goldenloop.collector.decode import (
    GRPC_UNAVAILABLE,
    JSON,
    PROTOBUF,
    BadRequest,
    Checked,
    parse,
    success_body,
)
from goldenloop.collector.http_body import (
    check_encoding,
    decompress,
    framing,
    linger,
    read_body,
)
from goldenloop.collector.journal import Converter, Journal, give_back_memory
from goldenloop.errors import GoldenloopError

log = logging.getLogger("goldenloop.collect")
DEFAULT_PORT = 4318
DEFAULT_MAX_BODY = 16 << 20  # bytes of a request body, after decompression
DEFAULT_MAX_CONNECTIONS = 256  # open connections served at once; more are answered 503
BUSY_WAIT = 5.0  # seconds a request waits for memory or for the mapping before its 503
RETRY_AFTER = 1  # seconds, in a 503's Retry-After


# -- the HTTP server ------------------------------------------------------------------------------
@dataclass
class Counters:
    requests: int = 0
    spans: int = 0
    files: int = 0
    rejected: int = 0  # requests answered with an error
    rejected_spans: int = 0  # spans refused by the per-span check (partial success or 400)
    busy: int = 0  # requests answered 503 because the receiver was at a bound
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        with self.lock:
            for k, v in deltas.items():
                setattr(self, k, getattr(self, k) + v)


class Budget:
    """Bytes of request bodies held in memory at once. A request waits briefly for its share
    and is answered 503 when it cannot have it: the exporter retries later, and the receiver
    does not grow. One body alone always fits, whatever its size under the body limit."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0
        self._cond = threading.Condition()

    def take(self, n: int, wait: float) -> bool:
        with self._cond:
            if self._cond.wait_for(lambda: self.used == 0 or self.used + n <= self.limit, wait):
                self.used += n
                return True
            return False

    def give(self, n: int) -> None:
        with self._cond:
            self.used -= n
            self._cond.notify_all()


class Receiver(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not hold up a stop
    allow_reuse_address = True
    # Connections the kernel holds before they are accepted (socketserver's default of 5 made
    # bursts of connections meet resets); the kernel caps it at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], inbox: Path, max_body: int = DEFAULT_MAX_BODY,
                 spool_seconds: float = 0.5, max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 busy_wait: float = BUSY_WAIT):
        self.inbox, self.max_body = Path(inbox), max_body
        self.max_connections, self.busy_wait = max_connections, busy_wait
        self.counters = Counters()
        # Bodies read and waiting, and one body being mapped at a time (here or by the
        # converter): mapping holds the GIL, so a second one at once would add memory, not speed.
        self.bodies = Budget(max(max_body, 16 << 20))
        self.mapping = threading.Semaphore(1)
        self.journal = Journal(self.inbox, mapping=self.mapping)
        self._busy = self._connections = 0
        self._idle = threading.Condition()
        self._conn_lock = threading.Lock()
        # Connections over max_connections are answered 503 by these few threads; past
        # what they can queue, a connection is closed unanswered (a flood, not exporters).
        self._refusers = ThreadPoolExecutor(4, thread_name_prefix="goldenloop-collect-busy")
        self._refusing = 0
        self.converter = Converter(self.journal, lambda n: self.counters.add(files=1),
                                   interval=spool_seconds, yield_to_requests=self.quiet)
        self.converter.start()  # first, entries a crashed run left behind
        super().__init__(address, Handler)

    def limit(self, media_type: str) -> int:
        """The largest body accepted in ``media_type``, after decompression. JSON gets half:
        read into Python objects it takes about four times its size, protobuf about twice, so
        the memory ceiling holds for either at its limit. SDKs and Collectors send protobuf
        unless told otherwise."""
        return self.max_body // 2 if media_type == JSON else self.max_body

    # Connections: one thread each up to max_connections, then 503 from the refusers.
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            over = self._connections >= self.max_connections
            if not over:
                self._connections += 1
            elif self._refusing < 4 * self.max_connections:
                self._refusing += 1
            else:
                self.shutdown_request(request)
                return
        if over:
            self._refusers.submit(self._refuse, request, client_address)
        else:
            super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._connections -= 1

    def _refuse(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(2.0)
            BusyHandler(request, client_address, self)
        except Exception:  # the client went away: nothing to answer
            pass
        finally:
            self.shutdown_request(request)
            with self._conn_lock:
                self._refusing -= 1

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

    def accept(self, raw: bytes, media_type: str, encoding: str | None = None) -> Checked:
        """Check one request span by span and keep it durably when any span passed; 400 when
        none did. The spans refused are counted in the answer (``partial_success``)."""
        if not self.mapping.acquire(timeout=self.busy_wait):
            raise busy("the receiver is busy reading other requests")
        try:
            # Inflated only now, one body at a time: waiting requests hold their compressed
            # bytes, which the body budget counts.
            body = decompress(raw, encoding, self.limit(media_type))
            parsed = parse(body, media_type)
            del body
            staged = self.journal.stage(parsed)
            del parsed
        except OSError as exc:
            raise cannot_write(exc) from exc
        finally:
            self.mapping.release()
        try:
            self.journal.commit(staged)
        except OSError as exc:
            raise cannot_write(exc) from exc
        if len(raw) >= 1 << 20:
            give_back_memory()
        checked = staged.checked
        if checked.rejected:
            self.counters.add(rejected_spans=checked.rejected)
            log.warning("refused %d spans: %s", checked.rejected, checked.message)
        if not checked.accepted and checked.rejected:
            raise BadRequest(400, f"no span could be accepted ({checked.rejected:,} refused); "
                                  f"first: {checked.message}")
        self.counters.add(requests=1, spans=checked.accepted)
        return checked

    def settle(self, timeout: float = 60.0) -> bool:
        """Wait until every accepted request is in a spool file."""
        return self.converter.wait_idle(timeout)

    def server_close(self) -> None:
        super().server_close()
        self._refusers.shutdown(wait=False, cancel_futures=True)
        self.converter.stop()  # converts what was accepted before it ends


def busy(why: str) -> BadRequest:
    return BadRequest(503, f"{why}: retry later", GRPC_UNAVAILABLE)


def cannot_write(exc: OSError) -> BadRequest:
    return BadRequest(503, f"cannot write the request to disk: {exc}", GRPC_UNAVAILABLE)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: exporters reuse their connection
    server: Receiver
    timeout = 60  # an idle keep-alive connection, or a stalled body, is closed after this
    refuse_all = False

    def do_POST(self) -> None:
        self.server.begin()
        media = self._content_type()
        # Errors are answered in the request's encoding; an unknown one gets readable JSON.
        answer_as = media if media in (PROTOBUF, JSON) else JSON
        self._unread = True  # the body is still on the socket: drop it before closing
        reserved = 0
        try:
            self._check(media)
            limit = self.server.limit(media)
            length = framing(self.headers, limit)
            reserved = limit if length is None else length
            if not self.server.bodies.take(reserved, self.server.busy_wait):
                reserved = 0
                raise busy("too many request bodies are waiting")
            raw = self._body(length, limit)
            checked = self.server.accept(raw, media, self.headers.get("Content-Encoding"))
            self._reply(200, media, success_body(checked, media))
        except BadRequest as exc:
            self.server.counters.add(rejected=1, busy=exc.status == 503)
            if self._unread:  # an unread body would be taken for the next request
                self.close_connection = True
            log.warning("rejected %s: %s %s", self.client_address[0], exc.status, exc)
            self._error(exc, answer_as)
        except Exception as exc:  # a bug: answer 500 so the exporter keeps its spans
            log.exception("receiver failure")
            self.close_connection = True
            self._error(BadRequest(500, f"internal error: {exc}", GRPC_UNAVAILABLE), answer_as)
        finally:
            if reserved:
                self.server.bodies.give(reserved)
            self.server.end()

    def do_GET(self) -> None:
        self.close_connection = True
        self._unread = bool(self.headers.get("Content-Length") or
                            self.headers.get("Transfer-Encoding"))
        self._error(BadRequest(405, "only POST /v1/traces is served"), JSON)

    do_PUT = do_DELETE = do_PATCH = do_GET

    def finish(self) -> None:
        if self.close_connection and getattr(self, "_unread", False):
            with contextlib.suppress(OSError):
                self.wfile.flush()
            linger(self.connection, self.rfile)
        super().finish()

    def _content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()

    def _check(self, media: str) -> None:
        if self.refuse_all:
            raise busy(f"more than {self.server.max_connections:,} connections are open")
        if self.path.split("?", 1)[0].rstrip("/") != "/v1/traces":
            raise BadRequest(404, f"no such endpoint {self.path!r}: send traces to /v1/traces")
        if media not in (PROTOBUF, JSON):
            raise BadRequest(415, f"unsupported content type {media or '(none)'!r}: "
                                  f"use {PROTOBUF} or {JSON}")
        check_encoding(self.headers.get("Content-Encoding"))

    def _body(self, length: int | None, limit: int) -> bytes:
        try:
            raw = read_body(self.rfile, length, limit)
        except TimeoutError as exc:
            raise BadRequest(408, "the body stalled: nothing arrived for "
                                  f"{self.timeout} s") from exc
        self._unread = False
        if length is None:
            self.close_connection = True  # chunked bodies are rare from exporters: keep it simple
        return raw

    def _error(self, exc: BadRequest, media: str) -> None:
        if media == PROTOBUF:
            body = _status_protobuf(exc.grpc_code, str(exc))
        else:
            body = json.dumps({"code": exc.grpc_code, "message": str(exc)}).encode()
        extra = {"Retry-After": str(RETRY_AFTER)} if exc.status == 503 else {}
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


class BusyHandler(Handler):
    """Answers every request on a connection over the limit with 503 and closes it."""

    refuse_all = True


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
          max_connections: int = DEFAULT_MAX_CONNECTIONS, say: Any = print) -> Counters:
    """Receive until SIGINT or SIGTERM; requests being answered then are finished, and every
    accepted request is written to a spool file, before it returns."""
    try:
        server = Receiver((host, port), inbox, max_body, spool_seconds, max_connections)
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
        f"{c.files:,} spool files; {c.rejected:,} requests refused ({c.busy:,} of them busy), "
        f"{c.rejected_spans:,} spans refused")
    return c
