"""Column mapping: which source column fills which span field.

Given as ``--map field=column`` flags or a mapping file (YAML or JSON, ``{field: column}``).
Columns named like a span field, or like a common alias (``prompt_tokens``, ``timestamp``,
``response`` …), map themselves unless the mapping says otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from goldenloop.errors import MappingError
from goldenloop.store.span_columns import FIELD_NAMES

ALIASES: dict[str, tuple[str, ...]] = {
    "start_time": ("timestamp", "ts", "time", "created_at", "request_time", "started_at"),
    "end_time": ("ended_at", "finished_at", "completed_at"),
    "latency_ms": ("latency", "duration_ms", "elapsed_ms", "response_time_ms"),
    "input_tokens": ("prompt_tokens", "tokens_in", "usage_prompt_tokens"),
    "output_tokens": ("completion_tokens", "tokens_out", "usage_completion_tokens"),
    "cached_input_tokens": ("cached_tokens",),
    "cost_usd": ("cost", "total_cost"),
    "output": ("response", "completion", "answer", "output_text"),
    "last_user_message": ("prompt", "input", "question", "query", "user_message"),
    "session_id": ("conversation_id", "thread_id", "chat_id"),
    "model": ("model_name", "requested_model"),
    "user_id": ("user",),
    "app": ("application", "service", "service_name"),
}


def read_mapping_document(path: str | Path) -> object:
    """The parsed YAML or JSON of a mapping file (a span or a grade mapping)."""
    import yaml  # only when a mapping file is given: it costs every command start-up time

    p = Path(path)
    try:
        text = p.read_text()
        return json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise MappingError(f"{p}: cannot read mapping file: {exc}") from exc


def is_grade_mapping(mapping: Mapping[str, Any] | None) -> bool:
    """A mapping of existing grades (``grades:``), not of span columns. Here rather than in
    ``grade_mapping`` so that telling them apart does not load pydantic."""
    return isinstance(mapping, Mapping) and isinstance(mapping.get("grades"), Mapping)


def load_mapping_file(path: str | Path) -> dict[str, str]:
    p = Path(path)
    data = read_mapping_document(p)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise MappingError(f"{p}: a mapping file holds `span_field: source_column` pairs")
    return {str(k): v for k, v in data.items()}


def parse_map_flags(flags: list[str]) -> dict[str, str]:
    out = {}
    for flag in flags:
        field, sep, column = flag.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise MappingError(f"--map {flag!r}: write it as span_field=source_column")
        out[field.strip()] = column.strip()
    return out


def resolve(columns: list[str], explicit: dict[str, str], file: str) -> dict[str, str]:
    """Span field → source column for one file's columns."""
    unknown = sorted(set(explicit) - set(FIELD_NAMES))
    if unknown:
        raise MappingError(
            f"{file}: mapping names unknown span field(s) {', '.join(unknown)}; "
            f"span fields are: {', '.join(FIELD_NAMES)}"
        )
    missing = sorted(c for c in explicit.values() if c not in columns)
    if missing:
        raise MappingError(
            f"{file}: mapping names column(s) {', '.join(missing)} not in the file; "
            f"its columns are: {', '.join(columns)}"
        )
    lower = {c.lower(): c for c in columns}
    taken = set(explicit.values())
    out = dict(explicit)
    for field in FIELD_NAMES:
        if field in out:
            continue
        for candidate in (field, *ALIASES.get(field, ())):
            col = lower.get(candidate)
            if col is not None and col not in taken:
                out[field] = col
                taken.add(col)
                break
    return out
