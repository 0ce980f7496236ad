"""OTLP/HTTP request bodies → span records, for the receiver.

A body is checked when it arrives (``parse``: protobuf parsed, or JSON parsed and its structure
walked), so a malformed one is refused before anything is kept; the spans are read later, off
the request path (``span_records``), through ``ingest.otlp.span_record``, the mapping the file
import uses, so a span sent here and the same span imported from an export file are stored
alike.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pyarrow as pa

from goldenloop.ingest.otlp import attribute_map, span_record
from goldenloop.ingest.source import records_chunk

PROTOBUF, JSON = "application/x-protobuf", "application/json"
GRPC_INVALID_ARGUMENT, GRPC_RESOURCE_EXHAUSTED, GRPC_UNAVAILABLE = 3, 8, 14


class BadRequest(Exception):
    """The request cannot be accepted: ``status`` is the HTTP code, the text says why."""

    def __init__(self, status: int, message: str, grpc_code: int = GRPC_INVALID_ARGUMENT):
        super().__init__(message)
        self.status, self.grpc_code = status, grpc_code


def parse(body: bytes, media_type: str) -> tuple[Any, int]:
    """The parsed request (a protobuf message or a JSON document) and its number of spans;
    raises ``BadRequest`` for a body that is not an ``ExportTraceServiceRequest``."""
    if media_type == PROTOBUF:
        req = _protobuf_request(body)
        return req, sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
    try:
        doc = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise BadRequest(400, "the body is not an ExportTraceServiceRequest JSON object")
    return doc, sum(1 for _ in _walk(doc))


def span_records(parsed: Any) -> list[dict[str, Any]]:
    """Every span of a parsed request as a span record, through the file import's mapping."""
    doc = parsed if isinstance(parsed, dict) else _protobuf_document(parsed)
    records: list[dict[str, Any]] = []
    for span, resource_attrs, scope in _walk(doc):
        rec = span_record(span, resource_attrs, scope, len(records) + 1, keep_raw=False)
        rec.setdefault("source", "otlp")
        records.append(rec)
    return records


def records_table(records: list[dict[str, Any]]) -> pa.Table:
    """Span records → the spool table; odd values stay as sent, for the import's quarantine."""
    chunk = records_chunk(records)
    table = next(iter(chunk.tables.values()))
    return table.drop_columns(["_row", "_raw"])


def _walk(doc: dict[str, Any]):
    """(span, resource attributes, scope) of each span; structural faults are ``BadRequest``."""
    resource_spans = doc.get("resourceSpans", doc.get("resource_spans")) or []
    if not isinstance(resource_spans, list):
        raise BadRequest(400, "resourceSpans is not a list")
    for rs in resource_spans:
        resource = _get(rs, "resource", dict) or {}
        resource_attrs = attribute_map(_get(resource, "attributes", (list, dict)))
        # instrumentationLibrary* are the names before OTLP 0.15; old exporters still send them.
        for ss in _get(rs, "scopeSpans", list) or _get(rs, "instrumentationLibrarySpans", list) or []:
            scope = _get(ss, "scope", dict) or _get(ss, "instrumentationLibrary", dict) or {}
            for span in _get(ss, "spans", list) or []:
                if not isinstance(span, dict):
                    raise BadRequest(400, "a span is not an object")
                yield span, resource_attrs, scope


def _get(d: Any, camel: str, kind: type | tuple[type, ...]) -> Any:
    """A field by its OTLP/JSON name or protobuf name, checked to be of ``kind``."""
    if not isinstance(d, dict):
        raise BadRequest(400, f"expected an object holding {camel!r}")
    snake = "".join("_" + c.lower() if c.isupper() else c for c in camel)
    value = d.get(camel, d.get(snake))
    if value is not None and not isinstance(value, kind):
        raise BadRequest(400, f"{camel} is not {'an object' if kind is dict else 'a list'}")
    return value


def _protobuf_request(body: bytes) -> Any:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    try:
        return ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise BadRequest(400, f"the body is not an ExportTraceServiceRequest: {exc}") from exc


def _protobuf_document(req: Any) -> dict[str, Any]:
    """A parsed protobuf request in the OTLP/JSON document shape."""
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
