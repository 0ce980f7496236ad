"""Reader of OTLP JSON trace exports: one ``ExportTraceServiceRequest`` document, or JSON Lines
of them (what the OpenTelemetry Collector's file exporter writes).

Follows the OTLP/JSON encoding (hex trace and span ids, 64-bit integers as strings, enums as
integers, attributes as ``{key, value: AnyValue}``) and also accepts the protobuf field names
in snake_case. Attribute meaning is ``otel_attributes.span_fields``' business.

Each span becomes a record whose ``_row`` is its ordinal in the file and whose ``_raw`` is the
span's JSON as read. A span with a field of the wrong shape or a value the store cannot hold
(``span_checks``), and a part that should hold spans but does not (``spans: 5``), is
quarantined under its ordinal with the field and reason; a line that is not JSON or not an
OTLP request is quarantined whole under its line number. ``walk`` and ``checked_record`` are
shared with the receiver, so both refuse the same spans.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goldenloop.ingest.otel_attributes import span_fields
from goldenloop.ingest.otlp_values import ShapeError, any_value, attribute_map, g, json_text, shown
from goldenloop.ingest.source import BadRow, SourceChunk, records_chunk
from goldenloop.ingest.span_checks import check_record

__all__ = ["CHUNK_BYTES", "CHUNK_SPANS", "ShapeError", "Unreadable", "any_value", "attribute_map",
           "checked_record", "read_otlp", "span_record", "walk"]

CHUNK_SPANS = 50_000
CHUNK_BYTES = 64 << 20  # spans with long conversations are large: bound a chunk by size too
_TIMEOUT = re.compile(r"timeout|timed.?out|deadline", re.IGNORECASE)
_ERROR_CODES = {2, "2", "STATUS_CODE_ERROR", "ERROR"}
# Events whose attributes carry span content in older GenAI conventions, and exceptions.
_EVENT_KEYS = {
    "gen_ai.content.prompt": ("gen_ai.prompt",),
    "gen_ai.content.completion": ("gen_ai.completion",),
    "exception": ("exception.type", "exception.message"),
}


def read_otlp(path: Path) -> Iterator[SourceChunk]:
    records: list[dict[str, Any]] = []
    bad: list[BadRow] = []
    ordinal = size = 0
    for line, doc, raw, reason in _documents(Path(path)):
        if reason is None and g(doc, "resourceSpans") is None and doc:
            reason = "not an OTLP trace export (no resourceSpans)"
        if reason is not None:
            bad.append(BadRow(line, "<line>", reason, raw[:100_000]))
            continue
        for item in walk(doc):
            ordinal += 1  # every span, and every part that should have held spans, is a row
            rec = item if isinstance(item, Unreadable) else checked_record(*item, ordinal)
            if isinstance(rec, Unreadable):
                bad.append(BadRow(ordinal, rec.field, rec.reason, _raw_text(rec.raw)))
                continue
            records.append(rec)
            size += len(rec["_raw"])
            if len(records) >= CHUNK_SPANS or size >= CHUNK_BYTES:
                yield records_chunk(records, malformed=bad)
                records, size = [], 0
                bad.clear()  # records_chunk copied it
    if records or bad:
        yield records_chunk(records, malformed=bad)


def _documents(path: Path) -> Iterator[tuple[int, Any, str, str | None]]:
    """(line, parsed document, raw text, reason it is unusable or None).

    JSON Lines when the first line is JSON by itself; otherwise the file is tried as one
    (pretty-printed) document, and only if that fails too are its lines reported one by one.
    A line that is not UTF-8 is reported, never decoded with replacement characters.
    """
    with open(path, "rb") as fh:
        first = True
        for i, data in enumerate(fh, start=1):
            try:
                text = data.decode("utf-8-sig" if i == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                first = False
                shown = data.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
                yield i, None, shown, (f"not UTF-8 text: byte 0x{data[exc.start]:02x} at "
                                       f"column {exc.start + 1} (shown escaped)")
                continue
            if not text.strip():
                continue
            try:
                doc = json.loads(text)
            except (ValueError, RecursionError) as exc:
                if first:
                    whole = _whole_document(path)
                    if whole is not None:
                        yield i, whole, "", None
                        return
                first = False
                where = f" (column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
                yield i, None, text, f"not valid JSON: {getattr(exc, 'msg', exc)}{where}"
                continue
            first = False
            reason = None if isinstance(doc, dict) else "not a JSON object"
            yield i, doc, text, reason


def _whole_document(path: Path) -> Any:
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return doc if isinstance(doc, dict) else None


@dataclass(frozen=True)
class Unreadable:
    """A span, or a part of a request that should hold spans, that cannot be read: the field
    at fault, why, the part as sent, and how many spans it held (at least 1)."""

    field: str
    reason: str
    raw: Any
    spans: int = 1


def walk(doc: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
                                          | Unreadable]:
    """(span, resource attributes, scope) for each span of an ``ExportTraceServiceRequest``
    document, or an ``Unreadable`` for a span or container of the wrong shape, in order.

    It consumes ``doc``: each span is dropped from it once the caller has handled it, so a
    large request's parsed JSON shrinks while its records grow, instead of both at once."""
    resource_spans = g(doc, "resourceSpans")
    if resource_spans is None:
        return
    if not isinstance(resource_spans, list):
        yield Unreadable("resourceSpans", f"not a list: {shown(resource_spans)}", resource_spans)
        return
    for rs in resource_spans:
        try:
            resource = _resource(rs)
            # instrumentationLibrarySpans: the name before OTLP 0.15; old exporters still send it.
            scope_spans = _list(rs, "scopeSpans") or _list(rs, "instrumentationLibrarySpans") or []
        except ShapeError as exc:
            yield Unreadable(exc.field, exc.reason, rs, _count_spans(rs))
            continue
        for ss in scope_spans:
            try:
                scope, spans = _scope_spans(ss)
            except ShapeError as exc:
                yield Unreadable(exc.field, exc.reason, ss, _count_spans({"scopeSpans": [ss]}))
                continue
            for i, span in enumerate(spans):
                if isinstance(span, dict):
                    yield span, resource, scope
                else:
                    yield Unreadable("<span>", f"a span is not a JSON object: {shown(span)}", span)
                spans[i] = None  # handled: its memory is freed while the records grow


def _resource(rs: Any) -> dict[str, Any]:
    if not isinstance(rs, dict):
        raise ShapeError("resourceSpans", f"an entry is not an object: {shown(rs)}")
    resource = g(rs, "resource")
    if resource is None:
        return {}
    if not isinstance(resource, dict):
        raise ShapeError("resource", f"not an object: {shown(resource)}")
    return attribute_map(g(resource, "attributes"), "resource.attributes")


def _scope_spans(ss: Any) -> tuple[dict[str, Any], list[Any]]:
    if not isinstance(ss, dict):
        raise ShapeError("scopeSpans", f"an entry is not an object: {shown(ss)}")
    scope = g(ss, "scope") or g(ss, "instrumentationLibrary") or {}
    if not isinstance(scope, dict):
        raise ShapeError("scope", f"not an object: {shown(scope)}")
    return scope, _list(ss, "spans") or []


def _list(d: dict[str, Any], camel: str) -> list[Any] | None:
    value = g(d, camel)
    if value is not None and not isinstance(value, list):
        raise ShapeError(camel, f"not a list: {shown(value)}")
    return value


def _count_spans(node: Any) -> int:
    """Spans inside an unreadable part, as far as they can be counted (at least 1), so the
    receiver's count of rejected spans is honest."""
    n = 0
    scope_spans = g(node, "scopeSpans") or g(node, "instrumentationLibrarySpans")
    for ss in scope_spans if isinstance(scope_spans, list) else []:
        spans = g(ss, "spans")
        n += len(spans) if isinstance(spans, list) else 0
    return max(n, 1)


def _raw_text(value: Any) -> str:
    return json_text(value)[:100_000]


def checked_record(span: dict[str, Any], resource: dict[str, Any], scope: dict[str, Any],
                   ordinal: int, *, keep_raw: bool = True) -> dict[str, Any] | Unreadable:
    """``span_record``, then every value checked against the store's limits: the record, or
    an ``Unreadable`` naming the first field at fault and every reason."""
    try:
        rec = span_record(span, resource, scope, ordinal, keep_raw=keep_raw)
    except ShapeError as exc:
        return Unreadable(exc.field, exc.reason, span)
    problems = check_record(rec)
    if problems:
        # The first field is the row's field; any others are named in its reason.
        reason = "; ".join(why if i == 0 else f"{f}: {why}" for i, (f, why) in enumerate(problems))
        return Unreadable(problems[0][0], reason, span)
    return rec


def span_record(span: dict[str, Any], resource: dict[str, Any], scope: dict[str, Any],
                ordinal: int, *, keep_raw: bool = True) -> dict[str, Any]:
    """One OTLP span (JSON-decoded, not yet AnyValue-decoded) → a span record for the loader;
    raises ``ShapeError`` for a field of a shape OTLP does not allow.

    ``keep_raw`` keeps the span's JSON as ``_raw``, for the quarantine of a file's bad rows;
    the receiver, whose spool files hold typed columns and no raw text, passes False."""
    attrs = attribute_map(g(span, "attributes"))
    status = g(span, "status") or {}
    if not isinstance(status, dict):
        raise ShapeError("status", f"not an object: {shown(status)}")
    code = g(status, "code")
    if code is not None and (isinstance(code, bool) or not isinstance(code, int | str)):
        raise ShapeError("status.code", f"not a status code: {shown(code)}")
    failed = code in _ERROR_CODES
    _merge_events(attrs, g(span, "events"), with_exceptions=failed)
    rec = span_fields(attrs, resource)
    rec.update({
        "trace_id": _hex_id(g(span, "traceId"), 16, "trace_id"),
        "span_id": _hex_id(g(span, "spanId"), 8, "span_id"),
        "parent_span_id": _hex_id(g(span, "parentSpanId"), 8, "parent_span_id"),
        "name": _text(span, "name") or None,
        "start_time": _time(g(span, "startTimeUnixNano"), "start_time"),
        "end_time": _time(g(span, "endTimeUnixNano"), "end_time"),
    })
    if failed:
        message = _text(status, "message", "status.message")
        if message and not rec.get("error_message"):
            rec["error_message"] = message
        said = f"{rec.get('error_type') or ''} {rec.get('error_message') or ''}"
        rec["status"] = "timeout" if _TIMEOUT.search(said) else "error"
    scope_name = g(scope, "name")
    if scope_name:
        rec["metadata"] = {**(rec.get("metadata") or {}), "otel_scope": scope_name}
    rec = {k: v for k, v in rec.items() if v is not None}
    rec["_row"] = ordinal
    if keep_raw:
        rec["_raw"] = json_text(span)
    return rec


def _text(d: dict[str, Any], camel: str, field: str | None = None) -> str | None:
    value = g(d, camel)
    if value is not None and not isinstance(value, str):
        raise ShapeError(field or camel, f"not a string: {shown(value)}")
    return value


def _merge_events(attrs: dict[str, Any], events: Any, *, with_exceptions: bool) -> None:
    """Content and exception details recorded as span events, where the span lacks them."""
    if events is None:
        return
    if not isinstance(events, list):
        raise ShapeError("events", f"not a list: {shown(events)}")
    for i, ev in enumerate(events):
        if not isinstance(ev, dict):
            raise ShapeError(f"events[{i}]", f"not an object: {shown(ev)}")
        name = _text(ev, "name", f"events[{i}].name")
        if name == "exception" and not with_exceptions:
            continue  # an exception the span recovered from is not the span's error
        keys = _EVENT_KEYS.get(name)
        if keys:
            ev_attrs = attribute_map(g(ev, "attributes"), f"events[{i}].attributes")
            for k in keys:
                if k in ev_attrs and attrs.get(k) is None:
                    attrs[k] = ev_attrs[k]


# Checked for every id of every span the receiver answers for: a compiled pattern, not a
# character-by-character test in Python (7% of the receiver's time).
_HEX = {n: re.compile(f"[0-9a-fA-F]{{{2 * n}}}") for n in (8, 16)}


def _hex_id(value: Any, n_bytes: int, field: str) -> str | None:
    """OTLP/JSON ids are hex; protobuf's canonical JSON mapping writes base64, so accept both.
    Any other string is kept as sent (validation judges it); a non-string is a ``ShapeError``."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ShapeError(field, f"not a string: {shown(value)}")
    s = value.strip()
    if _HEX[n_bytes].fullmatch(s):
        return s.lower()
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return s
    return raw.hex() if len(raw) == n_bytes else s


def _time(value: Any, field: str) -> int | None:
    """Unix nanoseconds (a string or an integral number) → microseconds, exact, and read as
    such by validation's epoch rule; 0 means unset in OTLP. ``span_checks`` judges the range."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ShapeError(field, f"not a time in Unix nanoseconds: {shown(value)}")
    try:
        ns = int(value)
    except ValueError:
        raise ShapeError(field, f"not a time in Unix nanoseconds: {shown(value)}") from None
    return ns // 1000 if ns else None
