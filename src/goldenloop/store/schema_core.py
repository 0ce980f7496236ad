"""Migrations of the core tables the store owns: spans, signals and feedback (1), jobs, the
audit log, the import log and quarantine (3), moderation signals (4).

Migrations are history: each creates what its version created when it was written, and is
never edited afterwards. Migration 1 therefore spells out the spans table as it was then
(``SPANS_V1``), not from today's ``span_columns.SPAN_FIELDS``; later fields come in later
migrations. The ordered list of every migration is assembled above the features, in
``goldenloop.schema``.
"""

from __future__ import annotations

import duckdb

# The spans table as migration 1 created it (then spelt from SPAN_FIELDS, 38 fields). Frozen:
# a new span field is a new migration (ALTER TABLE spans ADD COLUMN ...), never an edit here.
SPANS_V1 = """CREATE TABLE spans (
  span_key BIGINT,
  trace_id VARCHAR,
  span_id VARCHAR,
  parent_span_id VARCHAR,
  session_id VARCHAR,
  turn_index INTEGER,
  user_id VARCHAR,
  app VARCHAR,
  environment VARCHAR,
  release VARCHAR,
  kind VARCHAR,
  name VARCHAR,
  provider VARCHAR,
  model VARCHAR,
  model_version VARCHAR,
  prompt_name VARCHAR,
  prompt_version VARCHAR,
  start_time TIMESTAMP,
  end_time TIMESTAMP,
  latency_ms DOUBLE,
  ttft_ms DOUBLE,
  input_tokens INTEGER,
  output_tokens INTEGER,
  cached_input_tokens INTEGER,
  reasoning_tokens INTEGER,
  cost_usd DOUBLE,
  status VARCHAR,
  finish_reason VARCHAR,
  error_type VARCHAR,
  error_message VARCHAR,
  system_prompt VARCHAR,
  messages JSON,
  last_user_message VARCHAR,
  output VARCHAR,
  retrieved_context JSON,
  tool_calls JSON,
  tags VARCHAR[],
  metadata JSON,
  source VARCHAR,
  cost_estimated BOOLEAN,
  import_id BIGINT,
  ingested_at TIMESTAMP
)"""


def m001_traces(cur: duckdb.DuckDBPyConnection) -> None:
    """Spans, their automatic signals and end-user feedback."""
    cur.execute("CREATE SEQUENCE span_key_seq START 1")
    cur.execute(SPANS_V1)
    cur.execute(
        """CREATE TABLE signals (
            span_key BIGINT,
            user_offensive DOUBLE,       -- probability the last user message is offensive
            output_offensive DOUBLE,
            user_sentiment DOUBLE,       -- compound sentiment in [-1, 1]
            output_sentiment DOUBLE,
            output_chars INTEGER,
            output_words INTEGER,
            refusal BOOLEAN,
            scorer_versions JSON,
            computed_at TIMESTAMP
        )"""
    )
    cur.execute("CREATE SEQUENCE feedback_seq START 1")
    cur.execute(
        """CREATE TABLE feedback (
            feedback_id BIGINT,
            trace_id VARCHAR,
            span_id VARCHAR,
            span_key BIGINT,             -- resolved at insert when the span is known
            session_id VARCHAR,
            user_id VARCHAR,
            kind VARCHAR,                -- thumbs, rating, comment
            value DOUBLE,                -- thumbs: 1 up, 0 down; rating: the number
            comment VARCHAR,
            created_at TIMESTAMP,
            source VARCHAR,
            ingested_at TIMESTAMP
        )"""
    )


def m003_operations(cur: duckdb.DuckDBPyConnection) -> None:
    """Jobs, audit log, import log, quarantine, and the demo's incident ground truth."""
    cur.execute("CREATE SEQUENCE job_seq START 1")
    cur.execute(
        """CREATE TABLE jobs (
            job_id BIGINT,
            kind VARCHAR,
            params JSON,
            status VARCHAR,              -- queued, running, done, failed, cancelled, interrupted
            progress DOUBLE,             -- 0..1
            message VARCHAR,
            result JSON,
            error VARCHAR,
            origin VARCHAR,              -- cli, app, inbox, worker
            cancel_requested BOOLEAN DEFAULT false,
            created_at TIMESTAMP,
            started_at TIMESTAMP,
            finished_at TIMESTAMP,
            heartbeat_at TIMESTAMP
        )"""
    )
    cur.execute("CREATE SEQUENCE audit_seq START 1")
    cur.execute(
        """CREATE TABLE audit_log (
            audit_id BIGINT,
            logged_at TIMESTAMP,
            actor VARCHAR,
            action VARCHAR,
            target VARCHAR,
            details JSON
        )"""
    )
    cur.execute("CREATE SEQUENCE import_seq START 1")
    cur.execute(
        """CREATE TABLE import_log (
            import_id BIGINT,
            file VARCHAR,
            content_hash VARCHAR,
            format VARCHAR,
            origin VARCHAR,
            status VARCHAR,              -- committed, failed
            rows_read BIGINT,
            imported BIGINT,
            duplicates BIGINT,
            quarantined BIGINT,
            unknown_price BIGINT,
            message VARCHAR,
            started_at TIMESTAMP,
            finished_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE quarantine (
            import_id BIGINT,
            file VARCHAR,
            row_number BIGINT,           -- 1-based record number in the file (CSV: line number)
            field VARCHAR,               -- first failing field
            reason VARCHAR,
            errors JSON,                 -- every failing field and reason of the row
            raw VARCHAR,                 -- the row as read, so nothing is lost
            quarantined_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE demo_incidents (
            kind VARCHAR,
            app VARCHAR,
            model_version VARCHAR,
            starts_at TIMESTAMP,
            ends_at TIMESTAMP,
            description VARCHAR
        )"""
    )


def m004_moderation_signals(cur: duckdb.DuckDBPyConnection) -> None:
    """Signals of the optional moderation endpoint, per side (last user message, output)."""
    for column, sql_type in (
        ("user_moderation_flagged", "BOOLEAN"),   # the endpoint flagged the text
        ("user_moderation_score", "DOUBLE"),      # its highest category score, in [0, 1]
        ("output_moderation_flagged", "BOOLEAN"),
        ("output_moderation_score", "DOUBLE"),
        ("moderation_categories", "JSON"),        # {"user": [flagged...], "output": [...]}
    ):
        cur.execute(f"ALTER TABLE signals ADD COLUMN {column} {sql_type}")
