"""Finished SDK spans → rows of span fields, on the writer thread.

Runs off the caller's thread, so it may take its time: it reads the raw references a span kept
(an exception, a return value, an OpenAI response) and writes plain values, with JSON fields as
JSON text and times as Unix microseconds, ready for ``spool.span_table``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from goldenloop.sdk.context import Span

log = logging.getLogger("goldenloop.sdk")
TEXT_LIMIT = 100_000  # characters kept of one captured value; a span is not a blob store
_JSON_FIELDS = ("messages", "tool_calls", "retrieved_context", "metadata")


def render_rows(spans: list[Span], settings: Any) -> tuple[list[dict[str, Any]], int]:
    """Rows for ``spans`` and how many renderers failed (those spans keep their base fields)."""
    rows, errors = [], 0
    app, env, release = settings.app, settings.environment, settings.release
    for span in spans:
        end = span.end_ns
        row = {  # one literal: this loop runs for every span the application makes
            "trace_id": span.trace_id, "span_id": span.span_id,
            "parent_span_id": span.parent_span_id, "session_id": span.session_id,
            "turn_index": span.turn_index, "user_id": span.user_id, "app": app,
            "environment": env, "release": release, "kind": span.kind, "name": span.name,
            "start_time": span.start_ns // 1000, "end_time": None if end is None else end // 1000,
            "latency_ms": span.latency_ms, "ttft_ms": span.ttft_ms, "source": "sdk",
        }
        try:
            if span.error is not None:
                row.update(error_fields(span.error))
            if span.renderer is not None:
                span.renderer(span, row)
        except Exception as exc:  # a strange response must cost its details, not the span
            errors += 1
            log.debug("goldenloop: cannot render %r", span, exc_info=True)
            row["metadata"] = {"render_error": repr(exc)[:500]}
        for name in _JSON_FIELDS:
            value = row.get(name)
            if value is not None and value.__class__ is not str:
                row[name] = to_json(value)
        rows.append(row)
    return rows, errors


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
