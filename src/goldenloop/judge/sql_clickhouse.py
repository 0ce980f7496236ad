"""The ClickHouse text of what a judge reads from spans (``judge.sql``), for a span store in
ClickHouse: the spans of a frame it may grade, and their texts with the trace's retrieved
context. References (reviewers' corrections) stay in the workflow file and are joined there.
Reads go through ``FINAL``; ``join_use_nulls`` gives NULL for an unmatched LEFT JOIN.
"""

from __future__ import annotations

from goldenloop.store.span_columns import production_sql


def frame_span_keys(where: str) -> str:
    """``judge.sql.frame_span_keys``: answered LLM spans of a frame (``where`` on ``s``),
    never goldenloop's own calls."""
    return f"""SELECT s.span_key AS span_key FROM spans AS s FINAL
               WHERE {where} AND (s.app IS NULL OR s.app <> %(exclude_app)s)
                 AND {production_sql("s")} AND s.output IS NOT NULL
               ORDER BY s.span_key"""


# ``judge.sql.span_inputs`` without the reference: the span's texts, and the retrieval and
# tool results of its trace before it (in time order) when it has no context of its own.
SPAN_TEXTS = """
    WITH t AS (SELECT span_key, trace_id, start_time, last_user_message, messages, output,
                      retrieved_context
               FROM spans FINAL WHERE span_key IN %(keys)s),
    ctx AS (
        SELECT t.span_key AS span_key,
               arrayStringConcat(arrayMap(p -> p.3, arraySort(groupArray(
                   (x.start_time, x.span_key, coalesce(x.retrieved_context, x.tool_calls))))),
                   '\n') AS trace_context
        FROM t JOIN (SELECT span_key, trace_id, start_time, retrieved_context, tool_calls
                     FROM spans FINAL
                     WHERE trace_id IN (SELECT trace_id FROM t)
                       AND (retrieved_context IS NOT NULL OR tool_calls IS NOT NULL)) AS x
             ON x.trace_id = t.trace_id
        WHERE x.span_key <> t.span_key AND x.start_time <= t.start_time
        GROUP BY t.span_key)
    SELECT t.span_key AS span_key, t.last_user_message AS input, t.messages AS messages,
           t.output AS output, coalesce(t.retrieved_context, ctx.trace_context) AS retrieved_context
    FROM t LEFT JOIN ctx ON ctx.span_key = t.span_key
    ORDER BY t.span_key
    SETTINGS join_use_nulls = 1"""
