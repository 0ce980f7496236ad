"""The Traces page's conversation tab on a span store of either dialect: every turn of a
session with its signals and feedback from the span store (``conversation_in``), and its
grades from the workflow store by span key (``grade_lines``, joined by ``with_grades``), the
same frame as ``traces.conversation`` of one DuckDB file.
"""

from __future__ import annotations

import pandas as pd

from goldenloop.metrics import sql as msql
from goldenloop.metrics import sql_clickhouse as ch
from goldenloop.metrics import traces
from goldenloop.spanstore.base import DUCKDB, DialectSQL, SpanStore
from goldenloop.store import Store

_LLM = f"s.kind = '{msql.REQUEST_KIND}'"
# DuckDB's CAST(double AS VARCHAR): the shortest text that reads back, ".0" on whole numbers
_NUMBER = ("if(isFinite(f.value) AND f.value = floor(f.value) AND abs(f.value) < 1e15, "
           "concat(toString(toInt64(f.value)), '.0'), toString(f.value))")
CONVERSATION = f"""
    WITH turns AS (
        SELECT s.trace_id AS trace_id, min(s.start_time) AS start_time,
               max(ifNull(s.end_time, s.start_time)) AS end_time,
               toInt64(count()) AS spans, toInt64(countIf({_LLM})) AS requests,
               argMinIf(s.last_user_message, s.start_time, {_LLM}) AS user_message,
               argMaxIf(s.output, s.start_time, {_LLM}) AS answer,
               argMaxIf(s.status, s.start_time, {_LLM}) AS status,
               argMaxIf(s.model_version, s.start_time, {_LLM}) AS model_version,
               argMinIf(s.span_key, s.start_time, {_LLM}) AS first_key,
               argMaxIf(s.span_key, s.start_time, {_LLM}) AS last_key,
               argMaxIf(s.span_id, s.start_time, {_LLM}) AS answer_span_id,
               sumOrNullIf(s.latency_ms, {_LLM}) AS llm_ms,
               max(s.turn_index) AS turn_index, groupArray(s.span_key) AS span_keys
        FROM spans AS s FINAL WHERE s.session_id = %(sid)s
        GROUP BY s.trace_id ORDER BY start_time LIMIT %(n)s
    ), fb AS (
        SELECT trace_id, arrayStringConcat(arrayMap(x -> x.2, arraySort(x -> x.1, lines)), '; ')
                   AS feedback
        FROM (SELECT assumeNotNull(f.trace_id) AS trace_id, groupArray((f.created_at, concat(
                         if(f.kind = 'thumbs',
                            if(ifNull(f.value >= 1, 0), 'thumbs up', 'thumbs down'),
                            concat(f.kind, ' ', ifNull({_NUMBER}, ''))),
                         ifNull(concat(': ', f.comment), '')))) AS lines
              FROM feedback AS f FINAL WHERE f.trace_id IN (SELECT trace_id FROM turns)
              GROUP BY trace_id)
    ), sig AS (
        SELECT * FROM signals FINAL
        WHERE span_key IN (SELECT first_key FROM turns) OR span_key IN (SELECT last_key FROM turns)
    )
    SELECT t.trace_id AS trace_id, t.answer_span_id AS span_id, t.turn_index AS turn_index,
           t.start_time AS start_time, t.end_time AS end_time,
           t.model_version AS model_version, t.status AS status, t.spans AS spans,
           t.requests AS requests, t.llm_ms AS llm_ms, t.user_message AS user_message,
           t.answer AS answer, u.user_offensive AS user_offensive,
           u.user_sentiment AS user_sentiment, a.output_offensive AS output_offensive,
           a.output_sentiment AS output_sentiment, fb.feedback AS feedback,
           t.span_keys AS span_keys
    FROM turns AS t
    LEFT JOIN sig AS u ON u.span_key = t.first_key
    LEFT JOIN sig AS a ON a.span_key = t.last_key
    LEFT JOIN fb ON fb.trace_id = t.trace_id
    ORDER BY t.start_time, t.trace_id
    SETTINGS join_use_nulls = 1"""


def conversation_in(spans: SpanStore, session_id: str) -> pd.DataFrame:
    """``traces.conversation`` without its grades, from a span store of either dialect: each
    turn lists its trace's span keys (``span_keys``) for ``grade_lines``. Raises
    ``NotFound``."""
    params = {"sid": session_id, "n": traces.MAX_TURNS}
    if spans.dialect == DUCKDB:
        frame = spans.query(DialectSQL(duckdb=traces.conversation_sql(grades=False)), params)
    else:
        frame = ch.run(spans, CONVERSATION, params)
        if len(frame):  # a turn without an LLM call: argMaxIf over no row gives a non-NULL
            no_llm = frame["requests"] == 0  # type's default (''), DuckDB's FILTER gives NULL
            for col in ("user_message", "answer", "status", "model_version", "span_id"):
                frame[col] = frame[col].astype(object).where(~no_llm, None)
    return traces.conversation_frame(frame, session_id)


def grade_lines(store: Store, keys: tuple[int, ...]) -> pd.DataFrame:
    """Live grades of these spans as ``traces.conversation`` writes them
    ("criterion=value (source)"), with their span key and time."""
    return store.df(
        """SELECT g.span_key, g.criterion || '=' || coalesce(CAST(g.value_number AS VARCHAR),
                      g.value_label, array_to_string(g.value_labels, ','), '?')
                  || ' (' || coalesce(g.source, '?') || ')' AS line, g.created_at
           FROM live_grades g WHERE list_contains($keys, g.span_key)""",
        {"keys": [int(k) for k in keys]})


def with_grades(turns: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """The turns of ``conversation_in`` with their grades (``grades``: each trace's lines in
    time order, joined by "; "; None where it has none), as ``traces.conversation`` gives."""
    trace_of = {int(k): t for t, ks in zip(turns["trace_id"], turns["span_keys"], strict=True)
                for k in ks}
    per_trace: dict[str, str] = {}
    if len(lines):
        ordered = lines.assign(trace_id=lines["span_key"].map(trace_of)).dropna(
            subset=["trace_id"]).sort_values("created_at", kind="stable")
        per_trace = ordered.groupby("trace_id", sort=False)["line"].agg("; ".join).to_dict()
    out = turns.drop(columns="span_keys")
    grades = out["trace_id"].map(per_trace)
    out.insert(out.columns.get_loc("feedback") + 1, "grades", grades.where(grades.notna(), None))
    return out
