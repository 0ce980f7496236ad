"""SQL that reads what a reviewer sees: a span with its conversation and context, a session's
turns, a comparison, an item. Each function takes a cursor (reads see committed data)."""

from __future__ import annotations

from typing import Any

import duckdb


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _first(cur: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    rows = _dicts(cur)
    return rows[0] if rows else None


def span(cur: duckdb.DuckDBPyConnection, span_key: int) -> dict[str, Any] | None:
    """What the grading screen shows of one span. Only those columns: each one read costs
    about a millisecond at 1M spans (a row is found by key quickly, but every column fetched
    decompresses its part of the row group). Retrieved context and tool results come with
    the trace's (``trace_context`` includes the span itself)."""
    cur.execute(
        """SELECT span_key, trace_id, session_id, turn_index, app, model_version, start_time,
                  end_time, status, error_message, system_prompt, messages::VARCHAR AS messages,
                  last_user_message, output
           FROM spans WHERE span_key = ?""", [span_key])
    return _first(cur)


TRACE_REACH = "INTERVAL 1 DAY"  # how long before the graded span a trace's context may start


def trace_context(cur: duckdb.DuckDBPyConnection, trace_id: str, until: Any,
                  started: Any = None) -> list[dict[str, Any]]:
    """Spans of the trace carrying retrieved context or tool results, started by ``until``.

    ``started`` (the graded span's start) bounds the search to spans that began at most a
    day before it: a trace is one request, and the time bound lets DuckDB skip the row
    groups of other days instead of comparing the trace id of every stored span (about 50 ms
    of the next item's wait at 1M spans)."""
    cur.execute(
        f"""SELECT span_key, kind, name, retrieved_context::VARCHAR AS retrieved_context,
                   tool_calls::VARCHAR AS tool_calls
            FROM spans
            WHERE trace_id = $t AND (retrieved_context IS NOT NULL OR tool_calls IS NOT NULL)
              AND ($u IS NULL OR start_time <= $u)
              AND ($s IS NULL OR start_time >= CAST($s AS TIMESTAMP) - {TRACE_REACH})
            ORDER BY start_time, span_key""", {"t": trace_id, "u": until, "s": started})
    return _dicts(cur)


def session_turns(cur: duckdb.DuckDBPyConnection, session_id: str,
                  before_turn: int | None = None) -> list[dict[str, Any]]:
    """The LLM calls of a session in order (before ``before_turn`` when given)."""
    cur.execute(
        """SELECT span_key, turn_index, app, model_version, status, start_time,
                  last_user_message, output
           FROM spans
           WHERE session_id = ? AND kind = 'llm' AND (? IS NULL OR turn_index < ?)
           ORDER BY turn_index NULLS LAST, start_time, span_key""",
        [session_id, before_turn, before_turn])
    return _dicts(cur)


def comparison(cur: duckdb.DuckDBPyConnection, comparison_id: str) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM comparisons WHERE comparison_id = ?", [comparison_id])
    return _first(cur)


def item(cur: duckdb.DuckDBPyConnection, item_id: str) -> dict[str, Any] | None:
    cur.execute("SELECT item_id, dataset, input, output, reference FROM items WHERE item_id = ?",
                [item_id])
    return _first(cur)


def target_grades(cur: duckdb.DuckDBPyConnection, target_type: str, target_id: str,
                  span_key: int | None) -> list[dict[str, Any]]:
    """Live judge and human grades of one target (a span also by its key), gold answers left
    out: what blind mode hides from a reviewer until they have submitted."""
    cur.execute(
        """SELECT g.source, g.author_id, g.criterion, g.value_number, g.value_label,
                  array_to_string(g.value_labels, ', ') AS value_labels, g.value_text,
                  g.not_applicable, g.flagged, g.created_at, g.grade_id,
                  coalesce(g.is_adjudication, false) AS is_adjudication,
                  -- a judge asked for JSON gives its reasoning in the answer, not a comment
                  coalesce(g.comment, json_extract_string(g.raw, '$.explanation'),
                           json_extract_string(g.raw, '$.reason'),
                           json_extract_string(g.raw, '$.rationale')) AS reason
           FROM live_grades g
           WHERE ((g.target_type = ? AND g.target_id = ?) OR (? IS NOT NULL AND g.span_key = ?))
             AND NOT coalesce(g.is_gold, false)
           ORDER BY g.source, g.criterion, g.created_at""",
        [target_type, target_id, span_key, span_key])
    return _dicts(cur)
