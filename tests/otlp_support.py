"""OTLP/JSON requests built by hand for the importer and receiver tests, and a running
receiver with its inbox imported."""

from __future__ import annotations

import socket

from goldenloop.config import resolve_paths
from goldenloop.workers.inbox import pending_files, process_file

T0 = 1_736_932_400_000_000_000  # 2025-01-15 09:13:20 UTC, in Unix nanoseconds


RESOURCE = {"service.name": "weather-bot", "service.version": "1.4.2",
            "deployment.environment.name": "production"}


COMPARED = ("kind", "provider", "model", "model_version", "input_tokens", "output_tokens",
            "finish_reason", "output", "last_user_message", "system_prompt", "tool_calls",
            "status", "app", "environment", "release", "start_time", "latency_ms")


def any_value(v: object) -> dict:
    """A Python value in the OTLP/JSON AnyValue encoding (64-bit integers as strings)."""
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list):
        return {"arrayValue": {"values": [any_value(x) for x in v]}}
    if isinstance(v, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": any_value(x)} for k, x in v.items()]}}
    return {"stringValue": v}


def otlp_span(attrs: dict, *, trace: str, span: str, start: int = T0, ms: int = 1500,
              parent: str = "", name: str = "chat gpt-4", status: dict | None = None,
              events: list | None = None) -> dict:
    return {
        "traceId": trace, "spanId": span, "parentSpanId": parent, "name": name, "kind": 3,
        "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + ms * 1_000_000),
        "attributes": [{"key": k, "value": any_value(v)} for k, v in attrs.items()],
        "events": events or [], "status": status or {},
    }


def request(*spans: dict, resource: dict = RESOURCE) -> dict:
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": k, "value": any_value(v)} for k, v in resource.items()]},
        "scopeSpans": [{"scope": {"name": "openinference.instrumentation.openai"},
                        "spans": list(spans)}],
    }]}


def spans(store, where: str = "TRUE") -> list[dict]:
    cur = store.cursor().execute(f"SELECT * FROM spans WHERE {where} ORDER BY start_time, span_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def import_inbox(store, receiver=None) -> list[str]:
    if receiver is not None:
        assert receiver.settle()
    paths = resolve_paths(store.path)
    return [process_file(store, paths, p) for p in pending_files(paths.inbox)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
