"""OTLP/HTTP request bodies → span records, for the receiver.

A body is parsed when it arrives (``parse``) and every span is mapped through
``ingest.otlp.checked_record``, the file import's own mapping and per-span check
(``span_records``), before the request is answered: a span the store could not hold is
refused then, and reported to the exporter as OTLP's ``partial_success`` (``success_body``),
never acknowledged and lost later. A span sent here and the same span imported from an export
file are stored alike, and refused alike.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from goldenloop.ingest.otlp import Unreadable, attribute_map, checked_record, walk
from goldenloop.ingest.source import records_chunk

PROTOBUF, JSON = "application/x-protobuf", "application/json"
GRPC_INVALID_ARGUMENT, GRPC_RESOURCE_EXHAUSTED, GRPC_UNAVAILABLE = 3, 8, 14


class BadRequest(Exception):
    """The request cannot be accepted: ``status`` is the HTTP code, the text says why."""

    def __init__(self, status: int, message: str, grpc_code: int = GRPC_INVALID_ARGUMENT):
        super().__init__(message)
        self.status, self.grpc_code = status, grpc_code


@dataclass
class Checked:
    """A request's spans after the per-span check: how many can be stored (and their records,
    from ``span_records``), how many were refused, and why the first was."""

    accepted: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    message: str = ""


def parse(body: bytes, media_type: str) -> Any:
    """The parsed request (a protobuf message or a JSON document); raises ``BadRequest`` for a
    body that is not an ``ExportTraceServiceRequest``."""
    if media_type == PROTOBUF:
        return _protobuf_request(body)
    try:
        doc = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise BadRequest(400, "the body is not an ExportTraceServiceRequest JSON object")
    return doc


def span_records(parsed: Any) -> Checked:
    """Every span of a parsed request through the file import's mapping and its per-span
    check, with the records of the spans accepted (the journal streams them instead)."""
    out = Checked()
    for n, rec in enumerate(checked_spans(parsed), start=1):
        if isinstance(rec, Unreadable):
            if not out.message:
                out.message = f"span {n}: {rec.field}: {rec.reason}"
            out.rejected += rec.spans
        else:
            out.accepted += 1
            out.records.append(rec)
    return out


def checked_spans(parsed: Any) -> Iterator[dict[str, Any] | Unreadable]:
    """Each span of a parsed request, in order, as the record to store or, for a span the
    file import would quarantine, the ``Unreadable`` saying why: the same request always
    gives the same answers."""
    items = walk(parsed) if isinstance(parsed, dict) else _protobuf_spans(parsed)
    for n, item in enumerate(items, start=1):
        rec = item if isinstance(item, Unreadable) else checked_record(*item, n, keep_raw=False)
        if not isinstance(rec, Unreadable):
            rec.setdefault("source", "otlp")
        yield rec


def success_body(checked: Checked, media_type: str) -> bytes:
    """The 200 answer: an empty ``ExportTraceServiceResponse``, or one whose
    ``partial_success`` says how many spans were refused and why (the OTLP specification's
    answer to a request accepted in part)."""
    if not checked.rejected:
        return b"" if media_type == PROTOBUF else b"{}"
    if media_type == PROTOBUF:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTracePartialSuccess,
            ExportTraceServiceResponse,
        )

        partial = ExportTracePartialSuccess(rejected_spans=checked.rejected,
                                            error_message=checked.message)
        return ExportTraceServiceResponse(partial_success=partial).SerializeToString()
    # OTLP/JSON writes 64-bit integers as decimal strings.
    return json.dumps({"partialSuccess": {"rejectedSpans": str(checked.rejected),
                                          "errorMessage": checked.message}}).encode()


def records_table(records: list[dict[str, Any]]) -> pa.Table:
    """Span records → the spool table; odd values stay as sent, for the import's quarantine."""
    chunk = records_chunk(records)
    table = next(iter(chunk.tables.values()))
    return table.drop_columns(["_row", "_raw"])


def _protobuf_request(body: bytes) -> Any:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    try:
        return ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise BadRequest(400, f"the body is not an ExportTraceServiceRequest: {exc}") from exc


def _protobuf_spans(req: Any) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """What ``otlp.walk`` yields for a JSON document, from a parsed protobuf request, one span
    at a time: the spans stay compact in the message until each is mapped (a body of many
    MiB as Python dicts all at once would cost several times its size). Protobuf's types
    leave no container of the wrong shape."""
    for rs in req.resource_spans:
        resource = attribute_map(_pb_attributes(rs.resource.attributes), "resource.attributes")
        for ss in rs.scope_spans:
            scope = {"name": ss.scope.name, "version": ss.scope.version}
            for s in ss.spans:
                yield _pb_span(s), resource, scope


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
