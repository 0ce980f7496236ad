"""Reader of OTLP JSON trace exports: one ``ExportTraceServiceRequest`` document, or JSON Lines
of them (what the OpenTelemetry Collector's file exporter writes).

Follows the OTLP/JSON encoding (hex trace and span ids, 64-bit integers as strings, enums as
integers, attributes as ``{key, value: AnyValue}``) and also accepts the protobuf field names
in snake_case. Attribute meaning is ``otel_attributes.span_fields``' business.

Each span becomes a record whose ``_row`` is its ordinal in the file and whose ``_raw`` is the
span's JSON as read; a line that is not JSON or not an OTLP request is quarantined whole under
its line number.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from goldenloop.ingest.otel_attributes import span_fields
from goldenloop.ingest.source import BadRow, SourceChunk, records_chunk

__all__ = ["CHUNK_BYTES", "CHUNK_SPANS", "any_value", "attribute_map", "read_otlp", "span_record"]

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
        if reason is None:
            resource_spans = _g(doc, "resourceSpans")
            if resource_spans is None and doc:
                reason = "not an OTLP trace export (no resourceSpans)"
            elif resource_spans is not None and not isinstance(resource_spans, list):
                reason = "resourceSpans is not a list"
        if reason is not None:
            bad.append(BadRow(line, "<line>", reason, raw[:100_000]))
            continue
        for span, resource, scope in _spans(doc, line, bad):
            ordinal += 1
            records.append(span_record(span, resource, scope, ordinal))
            size += len(records[-1]["_raw"])
            if len(records) >= CHUNK_SPANS or size >= CHUNK_BYTES:
                yield records_chunk(records, malformed=bad)
                records, size = [], 0
                bad.clear()  # records_chunk copied it; _spans keeps appending to this list
    if records or bad:
        yield records_chunk(records, malformed=bad)


def _documents(path: Path) -> Iterator[tuple[int, Any, str, str | None]]:
    """(line, parsed document, raw text, reason it is unusable or None).

    JSON Lines when the first line is JSON by itself; otherwise the file is tried as one
    (pretty-printed) document, and only if that fails too are its lines reported one by one.
    """
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = True
        for i, text in enumerate(fh, start=1):
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            try:
                doc = json.loads(text)
            except ValueError as exc:
                if first:
                    whole = _whole_document(path)
                    if whole is not None:
                        yield i, whole, "", None
                        return
                first = False
                yield i, None, text, f"not valid JSON: {exc.msg} (column {exc.colno})"
                continue
            first = False
            reason = None if isinstance(doc, dict) else "not a JSON object"
            yield i, doc, text, reason


def _whole_document(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            doc = json.load(fh)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _spans(doc: dict[str, Any], line: int, bad: list[BadRow]
           ) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    for rs in _g(doc, "resourceSpans") or []:
        if not isinstance(rs, dict):
            bad.append(BadRow(line, "<resourceSpans>", "a resourceSpans entry is not an object",
                              json.dumps(rs)[:100_000]))
            continue
        resource = attribute_map(_g(_g(rs, "resource") or {}, "attributes"))
        # instrumentationLibrarySpans is the name before OTLP 0.15; old exporters still write it.
        for ss in (_g(rs, "scopeSpans") or _g(rs, "instrumentationLibrarySpans") or []):
            if not isinstance(ss, dict):
                continue
            scope = _g(ss, "scope") or _g(ss, "instrumentationLibrary") or {}
            for span in _g(ss, "spans") or []:
                if isinstance(span, dict):
                    yield span, resource, scope if isinstance(scope, dict) else {}
                else:
                    bad.append(BadRow(line, "<span>", "a span is not a JSON object",
                                      json.dumps(span)[:100_000]))


def span_record(span: dict[str, Any], resource: dict[str, Any], scope: dict[str, Any],
                ordinal: int, *, keep_raw: bool = True) -> dict[str, Any]:
    """One OTLP span (JSON-decoded, not yet AnyValue-decoded) → a span record for the loader.

    ``keep_raw`` keeps the span's JSON as ``_raw``, for the quarantine of a file's bad rows;
    the receiver, whose spool files hold typed columns and no raw text, passes False."""
    attrs = attribute_map(_g(span, "attributes"))
    status = _g(span, "status") or {}
    failed = isinstance(status, dict) and _g(status, "code") in _ERROR_CODES
    _merge_events(attrs, _g(span, "events"), with_exceptions=failed)
    rec = span_fields(attrs, resource)
    rec.update({
        "trace_id": _hex_id(_g(span, "traceId"), 16),
        "span_id": _hex_id(_g(span, "spanId"), 8),
        "parent_span_id": _hex_id(_g(span, "parentSpanId"), 8),
        "name": _g(span, "name") or None,
        "start_time": _time(_g(span, "startTimeUnixNano")),
        "end_time": _time(_g(span, "endTimeUnixNano")),
    })
    if failed:
        message = _g(status, "message")
        if message and not rec.get("error_message"):
            rec["error_message"] = message
        said = f"{rec.get('error_type') or ''} {rec.get('error_message') or ''}"
        rec["status"] = "timeout" if _TIMEOUT.search(said) else "error"
    scope_name = _g(scope, "name")
    if scope_name:
        rec["metadata"] = {**(rec.get("metadata") or {}), "otel_scope": scope_name}
    rec = {k: v for k, v in rec.items() if v is not None}
    rec["_row"] = ordinal
    if keep_raw:
        rec["_raw"] = json.dumps(span, ensure_ascii=False)
    return rec


def _merge_events(attrs: dict[str, Any], events: Any, *, with_exceptions: bool) -> None:
    """Content and exception details recorded as span events, where the span lacks them."""
    if not isinstance(events, list):
        return
    for ev in events:
        if not isinstance(ev, dict):
            continue
        name = _g(ev, "name")
        if name == "exception" and not with_exceptions:
            continue  # an exception the span recovered from is not the span's error
        keys = _EVENT_KEYS.get(name)
        if keys:
            ev_attrs = attribute_map(_g(ev, "attributes"))
            for k in keys:
                if k in ev_attrs and attrs.get(k) is None:
                    attrs[k] = ev_attrs[k]


# -- OTLP/JSON value decoding --------------------------------------------------------------------
def attribute_map(attributes: Any) -> dict[str, Any]:
    """``[{key, value: AnyValue}]`` → ``{key: value}`` (a plain mapping is taken as it is)."""
    if isinstance(attributes, dict):
        return {k: any_value(v) for k, v in attributes.items()}
    out: dict[str, Any] = {}
    for kv in attributes or []:
        if isinstance(kv, dict) and isinstance(kv.get("key"), str):
            out[kv["key"]] = any_value(kv.get("value"))
    return out


def any_value(v: Any) -> Any:
    """Decode an OTLP AnyValue; a value that does not parse is returned raw, for validation."""
    if not isinstance(v, dict):
        return v
    for key in v:
        kind = _ANY_KINDS.get(key)
        if kind is not None:
            return kind(v[key])
    return None


def _int(x: Any) -> Any:
    try:
        return int(x)
    except (TypeError, ValueError):
        return x


def _double(x: Any) -> Any:
    try:
        return float(x)
    except (TypeError, ValueError):
        return x


def _array(x: Any) -> list[Any]:
    values = _g(x, "values") if isinstance(x, dict) else x
    return [any_value(i) for i in values or []]


def _kvlist(x: Any) -> dict[str, Any]:
    values = _g(x, "values") if isinstance(x, dict) else x
    return attribute_map(values)


_ANY_KINDS = {
    "stringValue": lambda x: x, "string_value": lambda x: x,
    "boolValue": bool, "bool_value": bool,
    "intValue": _int, "int_value": _int,
    "doubleValue": _double, "double_value": _double,
    "arrayValue": _array, "array_value": _array,
    "kvlistValue": _kvlist, "kvlist_value": _kvlist,
    "bytesValue": lambda x: x, "bytes_value": lambda x: x,
}


def _hex_id(value: Any, n_bytes: int) -> Any:
    """OTLP/JSON ids are hex; protobuf's canonical JSON mapping writes base64, so accept both."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return value
    s = value.strip()
    if len(s) == 2 * n_bytes and all(c in "0123456789abcdefABCDEF" for c in s):
        return s.lower()
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return s
    return raw.hex() if len(raw) == n_bytes else s


def _time(value: Any) -> Any:
    """Unix nanoseconds → microseconds (exact, and read as such by validation's epoch rule).

    0 means unset in OTLP. Anything else that is not an integer goes on raw, so the loader's
    quarantine names the field and shows the value.
    """
    if value is None or value == "":
        return None
    try:
        ns = int(value)
    except (TypeError, ValueError):
        return str(value)
    return ns // 1000 if ns else None


_SNAKE: dict[str, str] = {}


def _g(d: Any, camel: str) -> Any:
    """A field by its OTLP/JSON (lowerCamelCase) name or its protobuf (snake_case) name."""
    if not isinstance(d, dict):
        return None
    if camel in d:
        return d[camel]
    snake = _SNAKE.get(camel)
    if snake is None:
        snake = _SNAKE[camel] = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
    return d.get(snake)

