"""Finished SDK spans → a spool table, on the writer thread.

Runs off the caller's thread, so it may take its time: it reads the raw references a span kept
(an exception, a return value, an OpenAI response) and writes plain values, with JSON fields as
JSON text and times as Unix microseconds. Fields every span has are gathered column by column;
a span's renderer adds the rest to a small dict of its own.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from goldenloop.sdk.context import Span

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("goldenloop.sdk")
TEXT_LIMIT = 100_000  # characters kept of one captured value; a span is not a blob store
_JSON_FIELDS = ("messages", "tool_calls", "retrieved_context", "metadata")
_BASE = ("trace_id", "span_id", "parent_span_id", "session_id", "turn_index", "user_id", "kind",
         "name", "latency_ms", "ttft_ms")


def render_table(spans: list[Span], settings: Any) -> tuple[pa.Table, int]:
    """The spool table of ``spans``, and how many renderers failed (those spans keep their
    common fields and say why in ``metadata``)."""
    import pyarrow as pa  # here, not at the top: ``@trace`` imports this module with the SDK

    from goldenloop.spool import SPAN_SCHEMA

    n = len(spans)
    cols: dict[str, Any] = {name: [getattr(s, name) for s in spans] for name in _BASE}
    cols["start_time"] = [s.start_ns // 1000 for s in spans]
    cols["end_time"] = [None if s.end_ns is None else s.end_ns // 1000 for s in spans]
    for name, value in (("app", settings.app), ("environment", settings.environment),
                        ("release", settings.release), ("source", "sdk")):
        cols[name] = [value] * n
    extras, errors = _extras(spans)
    for name in {k for e in extras for k in e}:
        cols[name] = [e.get(name) for e in extras]
    arrays = [pa.array(cols[f.name], f.type) if f.name in cols else pa.nulls(n, f.type)
              for f in SPAN_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=SPAN_SCHEMA), errors


_warm = False


def warm_up() -> None:
    """Build one array now: pyarrow imports pandas on its first conversion of a list, and an
    import first tried at interpreter exit fails (the last spans would be lost)."""
    global _warm
    if not _warm:
        import pyarrow as pa

        pa.array([0])
        _warm = True


def _extras(spans: list[Span]) -> tuple[list[dict[str, Any]], int]:
    """Per span, the fields its error and its renderer give (output, status, messages, ...)."""
    out, errors = [], 0
    for span in spans:
        extra: dict[str, Any] = {}
        try:
            if span.error is not None:
                extra.update(error_fields(span.error))
            if span.renderer is not None:
                span.renderer(span, extra)
        except Exception as exc:  # a strange response must cost its details, not the span
            errors += 1
            log.debug("goldenloop: cannot render %r", span, exc_info=True)
            extra["metadata"] = {"render_error": repr(exc)[:500]}
        for name in _JSON_FIELDS:
            value = extra.get(name)
            if value is not None and value.__class__ is not str:
                extra[name] = to_json(value)
        out.append(extra)
    return out, errors


def error_fields(exc: BaseException) -> dict[str, Any]:
    name = type(exc).__name__
    timed_out = isinstance(exc, TimeoutError) or "timeout" in name.lower()
    return {"status": "timeout" if timed_out else "error", "error_type": name,
            "error_message": (str(exc) or name)[:TEXT_LIMIT]}


def render_function(span: Span, row: dict[str, Any]) -> None:
    """A ``@trace`` span: its arguments in metadata and its return value as the output."""
    data = span.data
    if "args" in data:  # a metadata dict set by an earlier renderer is replaced: none sets one
        args, kwargs = data["args"], data["kwargs"]
        inputs: dict[str, Any] = {}
        if args:
            inputs["args"] = list(args)
        if kwargs:
            inputs["kwargs"] = dict(kwargs)
        if inputs:  # JSON text at once: the values are the caller's objects, of any type
            row["metadata"] = '{"inputs": ' + to_json(inputs) + "}"
    if "result" in data and span.error is None:
        row["output"] = text(data["result"])
        row["status"] = "ok"  # a function that returned is ok, even when it returned nothing


def text(value: Any) -> str | None:
    """A captured value as text: strings as they are, anything else as JSON (or its repr)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[:TEXT_LIMIT]
    return to_json(value)[:TEXT_LIMIT]


def to_json(value: Any) -> str:
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError):  # circular or otherwise unserialisable: keep its repr
        return json.dumps(repr(value)[:TEXT_LIMIT])


def _default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # pydantic objects (OpenAI types) as their fields
    if callable(dump):
        return dump(mode="json", exclude_none=True)
    return repr(value)[:TEXT_LIMIT]


# One encoder for every value: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_default)
