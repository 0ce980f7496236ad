"""The span: the one row shape every producer, importer and page shares (DESIGN.md, data model).

``SPAN_FIELDS`` is the single list of span columns with their DuckDB types; the importers'
validation and the spool writers are derived from it. The table itself is built by numbered
migrations (``schema_core.SPANS_V1`` and any later ones): adding a field here needs a migration
that adds its column, and a test checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    sql_type: str
    kind: str  # text, int, float, time, json, tags: tells validation how to cast
    doc: str


SPAN_FIELDS: tuple[Field, ...] = (
    Field("trace_id", "VARCHAR", "text", "trace identity; derived from the row's content when absent"),
    Field("span_id", "VARCHAR", "text", "span identity within the trace"),
    Field("parent_span_id", "VARCHAR", "text", "parent span, empty for a root span"),
    Field("session_id", "VARCHAR", "text", "conversation the trace belongs to"),
    Field("turn_index", "INTEGER", "int", "position of the turn in its conversation, from 0"),
    Field("user_id", "VARCHAR", "text", "end user"),
    Field("app", "VARCHAR", "text", "application name"),
    Field("environment", "VARCHAR", "text", "production, staging, ..."),
    Field("release", "VARCHAR", "text", "application release"),
    Field("kind", "VARCHAR", "text", "llm, tool, retrieval, agent, chain, embedding, ..."),
    Field("name", "VARCHAR", "text", "span name"),
    Field("provider", "VARCHAR", "text", "model provider"),
    Field("model", "VARCHAR", "text", "model requested"),
    Field("model_version", "VARCHAR", "text", "model version that answered"),
    Field("prompt_name", "VARCHAR", "text", "prompt template name"),
    Field("prompt_version", "VARCHAR", "text", "prompt template version"),
    Field("start_time", "TIMESTAMP", "time", "start, UTC"),
    Field("end_time", "TIMESTAMP", "time", "end, UTC"),
    Field("latency_ms", "DOUBLE", "float", "end minus start, milliseconds"),
    Field("ttft_ms", "DOUBLE", "float", "time to first token when streamed"),
    Field("input_tokens", "INTEGER", "int", "prompt tokens"),
    Field("output_tokens", "INTEGER", "int", "completion tokens"),
    Field("cached_input_tokens", "INTEGER", "int", "prompt tokens served from cache"),
    Field("reasoning_tokens", "INTEGER", "int", "reasoning tokens (part of output tokens)"),
    Field("cost_usd", "DOUBLE", "float", "cost; computed from the price table when absent"),
    Field("status", "VARCHAR", "text", "ok, error, timeout or empty"),
    Field("finish_reason", "VARCHAR", "text", "stop, length, tool_calls, content_filter, ..."),
    Field("error_type", "VARCHAR", "text", "exception or error class"),
    Field("error_message", "VARCHAR", "text", "error text"),
    Field("system_prompt", "VARCHAR", "text", "system message"),
    Field("messages", "JSON", "json", "full input messages as JSON"),
    Field("last_user_message", "VARCHAR", "text", "last user message of the input"),
    Field("output", "VARCHAR", "text", "the answer"),
    Field("retrieved_context", "JSON", "json", "retrieved documents as JSON"),
    Field("tool_calls", "JSON", "json", "tool calls and tool results as JSON"),
    Field("tags", "VARCHAR[]", "tags", "free tags"),
    Field("metadata", "JSON", "json", "anything else, as JSON"),
    Field("source", "VARCHAR", "text", "where the row came from (file, sdk, otlp, demo)"),
)

FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in SPAN_FIELDS)
FIELDS_BY_NAME: dict[str, Field] = {f.name: f for f in SPAN_FIELDS}

# Columns the store adds on insert, never supplied by a producer.
STORE_COLUMNS = (
    ("span_key", "BIGINT"),
    ("cost_estimated", "BOOLEAN"),
    ("import_id", "BIGINT"),
    ("ingested_at", "TIMESTAMP"),
)

STATUSES = ("ok", "error", "timeout", "empty")


# Spans goldenloop makes itself (judge calls, experiment runs, canaries): their ``source``
# is set at insert by the code that makes them. They are kept out of production figures
# (Monitor, Compare versions, Conversations, Home, sampling frames, anomaly detection) unless
# a reader asks for them, and shown on the Judges page. The one definition: import it.
INTERNAL_SOURCES: tuple[str, ...] = ("judge", "experiment", "canary")
JUDGE_APP = "goldenloop-judge"  # the app of the judge's own calls


def internal_sql(alias: str = "") -> str:
    """SQL condition true for goldenloop's own spans; ``alias`` is the spans table alias."""
    col = f"{alias}.source" if alias else "source"
    listed = ", ".join(f"'{s}'" for s in INTERNAL_SOURCES)
    return f"coalesce({col}, '') IN ({listed})"


def production_sql(alias: str = "") -> str:
    """SQL condition true for spans of the monitored applications (not goldenloop's own)."""
    return f"NOT ({internal_sql(alias)})"
