"""Drill-down from aggregates to spans: the requests behind a chart bucket (``bucket_spans``),
one span in full (``span_detail``), its trace as a tree with timings (``trace_tree``), and
its conversation with every turn's signals, feedback and grades (``conversation``).

Every statement is bounded: lists take a ``limit`` (at most ``MAX_LIMIT``), a trace at most
``MAX_TRACE_SPANS`` spans and a conversation at most ``MAX_TURNS`` turns, and texts are cut
to ``PREVIEW_CHARS`` in lists. Conditions and orders are chosen by name from the tables
below, never spliced from callers, and user values reach DuckDB as parameters.
Texts returned here are users' and models' words: pages show them as plain text.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from goldenloop.metrics import sql as msql
from goldenloop.metrics import sql_clickhouse as ch
from goldenloop.metrics.filters import FilterError, SpanFilter, check_split
from goldenloop.spanstore.base import DialectSQL, SpanStore
from goldenloop.store import Store

MAX_LIMIT = 1_000
MAX_TRACE_SPANS = 2_000
MAX_TURNS = 500
PREVIEW_CHARS = 160
# What a chart's series means for the spans behind a bucket: a condition on the span ``s``
# or its signals ``g``. Series not named here select every request of the bucket.
CONDITIONS = {
    "error": "s.status = 'error'",
    "timeout": "s.status = 'timeout'",
    "empty": "s.status = 'empty'",
    "failed": "s.status <> 'ok'",
    "user_offensive": f"g.user_offensive >= {msql.OFFENSIVE_THRESHOLD}",
    "output_offensive": f"g.output_offensive >= {msql.OFFENSIVE_THRESHOLD}",
    "user_scored": "g.user_sentiment IS NOT NULL",
    "output_scored": "g.output_sentiment IS NOT NULL",
    "feedback": "EXISTS (SELECT 1 FROM feedback fb WHERE fb.span_key = s.span_key)",
    "thumbs_down": "EXISTS (SELECT 1 FROM feedback fb WHERE fb.span_key = s.span_key "
                   "AND fb.kind = 'thumbs' AND fb.value <= 0)",
    "graded": "EXISTS (SELECT 1 FROM live_grades gr WHERE gr.span_key = s.span_key)",
}
ORDERS = {  # the spans worth reading first: a sort key and its direction
    "recent": ("s.start_time", "DESC"),
    "slowest": ("s.latency_ms", "DESC"),
    "slowest_first_token": ("s.ttft_ms", "DESC"),
    "most_input_tokens": ("s.input_tokens", "DESC"),
    "most_output_tokens": ("s.output_tokens", "DESC"),
    "costliest": ("s.cost_usd", "DESC"),
    "most_offensive_user": ("g.user_offensive", "DESC"),
    "most_offensive_output": ("g.output_offensive", "DESC"),
    "most_negative_user": ("g.user_sentiment", "ASC"),
    "most_negative_output": ("g.output_sentiment", "ASC"),
}
LIST_COLUMNS = ["trace_id", "span_id", "session_id", "start_time", "app", "model_version",
                "prompt_version", "status", "latency_ms", "ttft_ms", "input_tokens",
                "output_tokens", "cost_usd", "user_offensive", "user_sentiment",
                "output_offensive", "output_sentiment", "error", "last_user_message", "output"]


class NotFound(FilterError):
    """No span, trace or session by that id."""


@dataclass(frozen=True)
class SpanList:
    spans: pd.DataFrame  # LIST_COLUMNS, at most ``limit`` rows
    total: int  # spans matching, beyond the limit too


def bucket_spans(store: Store, f: SpanFilter, *, split: str | None = None,
                 group: str | None = None, condition: str | None = None,
                 order: str = "recent", limit: int = 100) -> SpanList:
    """Requests matching ``f`` (its time range is the bucket), of ``group`` of ``split``
    (``"(not set)"`` selects spans without a value), meeting the named ``condition``
    (``CONDITIONS``), in the named ``order`` (``ORDERS``): the first ``limit`` and how many
    match in all."""
    check_split(split)
    if condition is not None and condition not in CONDITIONS:
        raise FilterError(f"unknown condition {condition!r}: one of {', '.join(CONDITIONS)}")
    if order not in ORDERS:
        raise FilterError(f"unknown order {order!r}: one of {', '.join(ORDERS)}")
    where, params = msql.where_clause(f)
    if split is not None and group is not None:
        column = msql.SPLIT_COLUMNS[split]
        if group == msql.UNSET_GROUP:
            where += f" AND {column} IS NULL"
        else:
            where += f" AND {column} = $group"
            params["group"] = group
    if condition is not None:
        where += f" AND {CONDITIONS[condition]}"
    params["limit"] = max(1, min(int(limit), MAX_LIMIT))
    params["chars"] = PREVIEW_CHARS
    base = f"""FROM spans s LEFT JOIN signals g ON g.span_key = s.span_key
               WHERE s.kind = '{msql.REQUEST_KIND}' AND {where}"""
    key, direction = ORDERS[order]
    # The page first, then the count. The page in two steps: the keys of the first rows
    # (a top-N over narrow columns), then their texts; sorting with the texts in tow was
    # twice as slow at 1M spans.
    frame = store.df(
        f"""WITH top AS (
                SELECT s.span_key, {key} AS sort_key {base}
                ORDER BY {key} {direction} NULLS LAST, s.span_key DESC LIMIT $limit
            )
            SELECT s.trace_id, s.span_id, s.session_id, s.start_time, s.app, s.model_version,
                   s.prompt_version, s.status, s.latency_ms, s.ttft_ms, s.input_tokens,
                   s.output_tokens, s.cost_usd, g.user_offensive, g.user_sentiment,
                   g.output_offensive, g.output_sentiment,
                   -- failed requests say why; an empty cell (not NULL) for the others
                   CASE WHEN s.status <> 'ok' THEN concat_ws(': ', s.error_type,
                                                             left(s.error_message, $chars))
                        ELSE '' END AS error,
                   left(s.last_user_message, $chars) AS last_user_message,
                   left(s.output, $chars) AS output
            FROM top JOIN spans s ON s.span_key = top.span_key
            LEFT JOIN signals g ON g.span_key = s.span_key
            ORDER BY top.sort_key {direction} NULLS LAST, top.span_key DESC""",
        params,
    )
    total = len(frame)
    if total == params["limit"]:
        count_params = {k: v for k, v in params.items() if k not in ("limit", "chars")}
        total = int(store.scalar(f"SELECT count(*) {base}", count_params))
    return SpanList(frame, total)


def find(store: Store, ident: str) -> dict[str, str]:
    """What ``ident`` names: {"trace_id", "span_id"} for a span id (the most recent span of
    that id), {"trace_id"} for a trace id, {"session_id"} for a session id."""
    ident = ident.strip()
    if not ident:
        raise NotFound("give a span id, trace id or session id")
    row = store.rows(
        """SELECT kind, a, b FROM (
               (SELECT 1 AS rank, 'span' AS kind, trace_id AS a, span_id AS b FROM spans
                WHERE span_id = $id ORDER BY start_time DESC LIMIT 1)
               UNION ALL (SELECT 2, 'trace', trace_id, NULL FROM spans WHERE trace_id = $id LIMIT 1)
               UNION ALL (SELECT 3, 'session', session_id, NULL FROM spans
                          WHERE session_id = $id LIMIT 1))
           ORDER BY rank LIMIT 1""", {"id": ident})
    if not row:
        raise NotFound(f"no span, trace or session has the id {ident!r}")
    kind, first, second = row[0]
    if kind == "span":
        return {"trace_id": first, "span_id": second}
    return {"trace_id": first} if kind == "trace" else {"session_id": first}


def span_detail(store: Store, trace_id: str, span_id: str) -> dict:
    """Every column of one span, with its signals; raises ``NotFound``."""
    frame = store.df(
        """SELECT s.*, g.user_offensive, g.output_offensive, g.user_sentiment, g.output_sentiment,
                  g.output_chars, g.refusal
           FROM spans s LEFT JOIN signals g ON g.span_key = s.span_key
           WHERE s.trace_id = $t AND s.span_id = $s LIMIT 1""", {"t": trace_id, "s": span_id})
    if frame.empty:
        raise NotFound(f"no span {span_id!r} in trace {trace_id!r}")
    return frame.iloc[0].to_dict()


def trace_tree(store: Store, trace_id: str) -> pd.DataFrame:
    """The spans of one trace in tree order (a parent before its children, siblings by start)
    with ``depth`` (0 for roots; a span whose parent is missing counts as a root),
    ``offset_ms`` and ``end_ms`` from the trace's first start. Raises ``NotFound``."""
    return _trace_tree(store.df(_TRACE_TREE, {"t": trace_id, "n": MAX_TRACE_SPANS}), trace_id)


_TRACE_TREE = """SELECT s.span_key, s.span_id, s.parent_span_id, s.kind, s.name, s.model_version,
                  s.status, s.start_time, s.end_time, s.latency_ms, s.ttft_ms, s.input_tokens,
                  s.output_tokens, s.cost_usd, s.error_type
           FROM spans s WHERE s.trace_id = $t ORDER BY s.start_time, s.span_key LIMIT $n"""


def trace_tree_in(spans: SpanStore, trace_id: str) -> pd.DataFrame:
    """``trace_tree`` read from a span store of either dialect (DuckDB or ClickHouse)."""
    params = {"t": trace_id, "n": MAX_TRACE_SPANS}
    if spans.dialect == "duckdb":
        frame = spans.query(DialectSQL(duckdb=_TRACE_TREE), params)
    else:  # ClickHouse answers in UTC and pandas' nullable types: as DuckDB's frame
        frame = ch.run(spans, ch.TRACE_TREE, params)
    return _trace_tree(frame, trace_id)


def _trace_tree(frame: pd.DataFrame, trace_id: str) -> pd.DataFrame:
    if frame.empty:
        raise NotFound(f"no trace {trace_id!r}")
    return _tree_order(frame)


def _tree_order(frame: pd.DataFrame) -> pd.DataFrame:
    ids = set(frame["span_id"])
    children: dict[str | None, list[int]] = {}
    for i, parent in enumerate(frame["parent_span_id"]):
        key = parent if isinstance(parent, str) and parent in ids else None
        children.setdefault(key, []).append(i)  # rows come sorted by start: siblings too
    order, depth = [], []
    stack = [(i, 0) for i in reversed(children.get(None, []))]
    seen: set[int] = set()
    while stack:  # depth first, iterative: a deep agent loop must not hit the recursion limit
        i, d = stack.pop()
        if i in seen:  # a cycle in bad data: show each span once
            continue
        seen.add(i)
        order.append(i)
        depth.append(d)
        span_id = frame["span_id"].iat[i]
        stack.extend((c, d + 1) for c in reversed(children.get(span_id, [])))
    rest = [i for i in range(len(frame)) if i not in seen]  # spans only reachable via a cycle
    out = frame.iloc[order + rest].assign(depth=depth + [0] * len(rest)).reset_index(drop=True)
    t0 = out["start_time"].min()
    end = out["end_time"].fillna(out["start_time"] + pd.to_timedelta(out["latency_ms"].fillna(0),
                                                                     unit="ms"))
    return out.assign(offset_ms=(out["start_time"] - t0).dt.total_seconds() * 1000,
                      end_ms=(end - t0).dt.total_seconds() * 1000)


def conversation(store: Store, session_id: str) -> pd.DataFrame:
    """Every turn (trace) of one session in time order: its start, user message (read by
    its first LLM call), answer and status (its last call's), model version, latency, the
    user-message and answer signals, end-user feedback (``feedback``: e.g. "thumbs down:
    comment") and grades (``grades``: "criterion=value (source)"), and the idle gap since the
    previous turn (``idle_min``). Raises ``NotFound``."""
    frame = store.df(conversation_sql(grades=True), {"sid": session_id, "n": MAX_TURNS})
    return conversation_frame(frame, session_id)


def conversation_sql(*, grades: bool) -> str:
    """``conversation``'s DuckDB text; without ``grades`` (spans in a store apart from the
    grades) each turn lists its trace's span keys (``span_keys``) in place of its grades."""
    llm = f"WHERE kind = '{msql.REQUEST_KIND}'"
    gr = """, gr AS (
                SELECT s.trace_id, string_agg(
                    g.criterion || '=' || coalesce(CAST(g.value_number AS VARCHAR), g.value_label,
                                                   array_to_string(g.value_labels, ','), '?')
                    || ' (' || coalesce(g.source, '?') || ')', '; ' ORDER BY g.created_at) AS grades
                FROM live_grades g JOIN sp s ON s.span_key = g.span_key
                GROUP BY s.trace_id
            )""" if grades else ""
    return f"""WITH sp AS (
                SELECT * FROM spans WHERE session_id = $sid
            ), turns AS (
                SELECT trace_id, min(start_time) AS start_time,
                       max(coalesce(end_time, start_time)) AS end_time,
                       count(*) AS spans,
                       count(*) FILTER ({llm}) AS requests,
                       arg_min(last_user_message, start_time)
                           FILTER ({llm}) AS user_message,
                       arg_max(output, start_time) FILTER ({llm}) AS answer,
                       arg_max(status, start_time) FILTER ({llm}) AS status,
                       arg_max(model_version, start_time)
                           FILTER ({llm}) AS model_version,
                       arg_min(span_key, start_time) FILTER ({llm}) AS first_key,
                       arg_max(span_key, start_time) FILTER ({llm}) AS last_key,
                       arg_max(span_id, start_time) FILTER ({llm}) AS answer_span_id,
                       sum(latency_ms) FILTER ({llm}) AS llm_ms,
                       max(turn_index) AS turn_index, list(span_key) AS span_keys
                FROM sp GROUP BY trace_id
                ORDER BY start_time LIMIT $n
            ), fb AS (
                SELECT f.trace_id, string_agg(
                    CASE f.kind WHEN 'thumbs' THEN (CASE WHEN f.value >= 1 THEN 'thumbs up'
                                                         ELSE 'thumbs down' END)
                                ELSE f.kind || ' ' || coalesce(CAST(f.value AS VARCHAR), '') END
                    || coalesce(': ' || f.comment, ''), '; ' ORDER BY f.created_at) AS feedback
                FROM feedback f WHERE f.trace_id IN (SELECT trace_id FROM turns) GROUP BY f.trace_id
            ){gr}
            SELECT t.trace_id, t.answer_span_id AS span_id, t.turn_index, t.start_time,
                   t.end_time, t.model_version, t.status, t.spans, t.requests, t.llm_ms,
                   t.user_message, t.answer, u.user_offensive, u.user_sentiment,
                   a.output_offensive, a.output_sentiment, fb.feedback,
                   {"gr.grades" if grades else "t.span_keys"}
            FROM turns t
            LEFT JOIN signals u ON u.span_key = t.first_key
            LEFT JOIN signals a ON a.span_key = t.last_key
            LEFT JOIN fb ON fb.trace_id = t.trace_id
            {"LEFT JOIN gr ON gr.trace_id = t.trace_id" if grades else ""}
            ORDER BY t.start_time, t.trace_id"""


def conversation_frame(frame: pd.DataFrame, session_id: str) -> pd.DataFrame:
    """The turns numbered, with the idle gap before each; ``NotFound`` when there are none."""
    if frame.empty:
        raise NotFound(f"no session {session_id!r}")
    gap = frame["start_time"] - frame["end_time"].shift()
    return frame.assign(turn=range(1, len(frame) + 1),
                        idle_min=gap.dt.total_seconds() / 60)


def span_annotations(store: Store, trace_id: str, span_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """End-user feedback (kind, value, comment, created_at) and current grades (criterion,
    value, source, author, comment, created_at) of one span, oldest first."""
    ids = {"t": trace_id, "s": span_id}
    feedback = store.df(
        """SELECT kind, value, comment, created_at FROM feedback
           WHERE trace_id = $t AND span_id = $s ORDER BY created_at LIMIT 500""", ids)
    grades = store.df(
        """SELECT g.criterion, coalesce(CAST(g.value_number AS VARCHAR), g.value_label,
                                        array_to_string(g.value_labels, ', ')) AS value,
                  g.source, coalesce(g.author_id, g.judge_name) AS author, g.comment, g.created_at
           FROM live_grades g JOIN spans s ON s.span_key = g.span_key
           WHERE s.trace_id = $t AND s.span_id = $s
           ORDER BY g.created_at LIMIT 500""", ids)
    return feedback, grades
