"""The OTLP/HTTP trace receiver (`goldenloop collect`): OpenTelemetry SDKs and Collectors send
``POST /v1/traces``; each request becomes one spool file in the inbox.

Bodies are protobuf (``application/x-protobuf``) or OTLP/JSON (``application/json``), plain or
gzip/deflate-compressed. Both are read into the OTLP/JSON shape and each span goes through
``ingest.otlp.span_record``, the mapping the file import uses, so a span sent here and the same
span imported from an export file are stored alike. The answer is 200 only once the spool file
is durable (fsynced and renamed); a body too large is refused with 413, one that is not OTLP
with 400, an unknown media type with 415, and a failed write with 503 so the exporter retries.
Errors carry a ``google.rpc.Status`` in the request's encoding. This process never opens the
database: the owner imports the spool files.
"""

from __future__ import annotations

import base64
import json
import logging
import signal
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa

from goldenloop.ingest.otlp import attribute_map, span_record
from goldenloop.ingest.source import records_chunk
from goldenloop.spool import write_spool

log = logging.getLogger("goldenloop.collect")
DEFAULT_PORT = 4318
DEFAULT_MAX_BODY = 32 << 20  # bytes of a request body, after decompression
_PROTOBUF, _JSON = "application/x-protobuf", "application/json"
_GRPC_INVALID_ARGUMENT, _GRPC_RESOURCE_EXHAUSTED, _GRPC_UNAVAILABLE = 3, 8, 14


class BadRequest(Exception):
    """The request cannot be accepted: ``status`` is the HTTP code, the text says why."""

    def __init__(self, status: int, message: str, grpc_code: int = _GRPC_INVALID_ARGUMENT):
        super().__init__(message)
        self.status, self.grpc_code = status, grpc_code


# -- bodies → span records ------------------------------------------------------------------------
def decode_request(body: bytes, media_type: str) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest`` body → the OTLP/JSON document shape."""
    if media_type == _PROTOBUF:
        return _protobuf_document(body)
    try:
        doc = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise BadRequest(400, "the body is not an ExportTraceServiceRequest JSON object")
    return doc


def span_records(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every span of the request as a span record, through the file import's mapping."""
    resource_spans = doc.get("resourceSpans", doc.get("resource_spans")) or []
    if not isinstance(resource_spans, list):
        raise BadRequest(400, "resourceSpans is not a list")
    records: list[dict[str, Any]] = []
    for rs in resource_spans:
        resource = _get(rs, "resource", dict) or {}
        resource_attrs = attribute_map(_get(resource, "attributes", (list, dict)))
        # instrumentationLibrary* are the names before OTLP 0.15; old exporters still send them.
        for ss in _get(rs, "scopeSpans", list) or _get(rs, "instrumentationLibrarySpans", list) or []:
            scope = _get(ss, "scope", dict) or _get(ss, "instrumentationLibrary", dict) or {}
            for span in _get(ss, "spans", list) or []:
                if not isinstance(span, dict):
                    raise BadRequest(400, "a span is not an object")
                rec = span_record(span, resource_attrs, scope, len(records) + 1)
                rec.setdefault("source", "otlp")
                records.append(rec)
    return records


def records_table(records: list[dict[str, Any]]) -> pa.Table:
    """Span records → the spool table; odd values stay as sent, for the import's quarantine."""
    chunk = records_chunk(records)
    table = next(iter(chunk.tables.values()))
    return table.drop_columns(["_row", "_raw"])


def _get(d: Any, camel: str, kind: type | tuple[type, ...]) -> Any:
    """A field by its OTLP/JSON name or protobuf name, checked to be of ``kind``."""
    if not isinstance(d, dict):
        raise BadRequest(400, f"expected an object holding {camel!r}")
    snake = "".join("_" + c.lower() if c.isupper() else c for c in camel)
    value = d.get(camel, d.get(snake))
    if value is not None and not isinstance(value, kind):
        raise BadRequest(400, f"{camel} is not {'an object' if kind is dict else 'a list'}")
    return value


def _protobuf_document(body: bytes) -> dict[str, Any]:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    try:
        req = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise BadRequest(400, f"the body is not an ExportTraceServiceRequest: {exc}") from exc
    return {"resourceSpans": [{
        "resource": {"attributes": _pb_attributes(rs.resource.attributes)},
        "scopeSpans": [{"scope": {"name": ss.scope.name, "version": ss.scope.version},
                        "spans": [_pb_span(s) for s in ss.spans]}
                       for ss in rs.scope_spans],
    } for rs in req.resource_spans]}


def _pb_span(s: Any) -> dict[str, Any]:
    return {
        "traceId": s.trace_id.hex(), "spanId": s.span_id.hex(),
        "parentSpanId": s.parent_span_id.hex(), "name": s.name, "kind": s.kind,
        "startTimeUnixNano": s.start_time_unix_nano, "endTimeUnixNano": s.end_time_unix_nano,
        "attributes": _pb_attributes(s.attributes),
        "events": [{"name": e.name, "timeUnixNano": e.time_unix_nano,
                    "attributes": _pb_attributes(e.attributes)} for e in s.events],
        "status": {"code": s.status.code, "message": s.status.message},
    }


def _pb_attributes(kvs: Any) -> dict[str, Any]:
    """Protobuf attributes as the plain ``{key: value}`` mapping ``otlp.attribute_map`` also
    accepts: scalars and arrays as the Python values it would decode, key-value lists in their
    OTLP/JSON form (which it decodes itself). Decoding here, in one pass, keeps a protobuf
    body cheaper to read than its JSON twin."""
    out: dict[str, Any] = {}
    for kv in kvs:
        v = kv.value
        kind = v.WhichOneof("value")
        out[kv.key] = _pb_json(v) if kind == "kvlist_value" else _pb_value(v, kind)
    return out


def _pb_value(v: Any, kind: str | None) -> Any:
    """A protobuf AnyValue as the Python value ``otlp.any_value`` makes of its JSON form."""
    if kind is None:
        return None
    if kind == "array_value":
        return [_pb_value(x, x.WhichOneof("value")) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {x.key: _pb_value(x.value, x.value.WhichOneof("value"))
                for x in v.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()  # as OTLP/JSON writes bytes
    return getattr(v, kind)


def _pb_json(v: Any) -> dict[str, Any]:
    """A protobuf AnyValue in its OTLP/JSON form (protobuf's snake_case names, which the OTLP
    reader accepts as well)."""
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return {kind: {"values": [_pb_json(x) for x in v.array_value.values]}}
    if kind == "kvlist_value":
        return {kind: {"values": [{"key": x.key, "value": _pb_json(x.value)}
                                  for x in v.kvlist_value.values]}}
    return {} if kind is None else {kind: _pb_value(v, kind)}


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

    def __init__(self, address: tuple[str, int], inbox: Path, max_body: int = DEFAULT_MAX_BODY):
        self.inbox, self.max_body = Path(inbox), max_body
        self.counters = Counters()
        self._busy = 0
        self._idle = threading.Condition()
        super().__init__(address, Handler)

    def begin(self) -> None:
        with self._idle:
            self._busy += 1

    def end(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait for requests being answered (a stop must not cut a write short)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def accept(self, body: bytes, media_type: str) -> int:
        """Decode, map and spool one request; return the number of spans written."""
        records = span_records(decode_request(body, media_type))
        if records:
            try:
                write_spool(self.inbox, records_table(records), prefix="otlp")
            except OSError as exc:
                raise BadRequest(503, f"cannot write the spool file: {exc}",
                                 _GRPC_UNAVAILABLE) from exc
            self.counters.add(files=1)
        self.counters.add(requests=1, spans=len(records))
        return len(records)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: exporters reuse their connection
    server: Receiver
    timeout = 120  # an idle keep-alive connection is closed after this many seconds

    def do_POST(self) -> None:
        self.server.begin()
        media = self._content_type()
        # Errors are answered in the request's encoding; an unknown one gets readable JSON.
        answer_as = media if media in (_PROTOBUF, _JSON) else _JSON
        self._consumed = False
        try:
            self._check(media)
            body = self._body()
            self.server.accept(body, media)
            self._reply(200, media, b"" if media == _PROTOBUF else b"{}")
        except BadRequest as exc:
            self.server.counters.add(rejected=1)
            if not self._consumed:  # an unread body would be taken for the next request
                self.close_connection = True
            log.warning("rejected %s: %s %s", self.client_address[0], exc.status, exc)
            self._error(exc, answer_as)
        except Exception as exc:  # a bug: answer 500 so the exporter keeps its spans
            log.exception("receiver failure")
            self._error(BadRequest(500, f"internal error: {exc}", _GRPC_UNAVAILABLE), answer_as)
        finally:
            self.server.end()

    def do_GET(self) -> None:
        self.close_connection = True
        self._error(BadRequest(405, "only POST /v1/traces is served"), _JSON)

    do_PUT = do_DELETE = do_PATCH = do_GET

    def _content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()

    def _check(self, media: str) -> None:
        if self.path.split("?", 1)[0].rstrip("/") != "/v1/traces":
            raise BadRequest(404, f"no such endpoint {self.path!r}: send traces to /v1/traces")
        if media not in (_PROTOBUF, _JSON):
            raise BadRequest(415, f"unsupported content type {media or '(none)'!r}: "
                                  f"use {_PROTOBUF} or {_JSON}")

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
                                  f"{self.server.max_body:,}", _GRPC_RESOURCE_EXHAUSTED)
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
        if media == _PROTOBUF:
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
                         _GRPC_RESOURCE_EXHAUSTED)
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
          max_body: int = DEFAULT_MAX_BODY, say: Any = print) -> Counters:
    """Receive until SIGINT or SIGTERM; requests being answered then are finished first."""
    server = Receiver((host, port), inbox, max_body)

    def stop(_sig: int, _frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

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
    c = server.counters
    say(f"goldenloop collect: stopped after {c.requests:,} requests, {c.spans:,} spans in "
        f"{c.files:,} spool files, {c.rejected:,} rejected")
    return c
