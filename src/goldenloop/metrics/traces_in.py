"""The Traces page's readers on a span store of either dialect (DuckDB or ClickHouse): the
requests behind a chart bucket or a list (``bucket_spans_in``), one span in full
(``span_detail_in``), what an id names (``find_in``) and a span's end-user feedback
(``span_feedback_in``). On DuckDB each is ``traces``' reader; the ClickHouse text is here.

Grades live in the workflow store, not the span store: the list's "graded" condition takes the
graded span keys as a parameter (``graded_keys``, read from the workflow store), and a span's
grades are read by its key (``span_grades``). Texts returned are users' and models' words:
pages show them as plain text.
"""

from __future__ import annotations

import pandas as pd

from goldenloop.metrics import sql as msql
from goldenloop.metrics import sql_clickhouse as ch
from goldenloop.metrics import traces
from goldenloop.metrics.filters import FilterError, SpanFilter, check_split
from goldenloop.metrics.traces import NotFound, SpanList
from goldenloop.spanstore.base import DUCKDB, SpanStore
from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where
from goldenloop.store import Store

# ``traces.CONDITIONS`` in ClickHouse's words: the same tests, with the correlated EXISTS
# (which ClickHouse does not run) as IN over a key set.
CONDITIONS = {
    **{k: v for k, v in traces.CONDITIONS.items() if k not in ("feedback", "thumbs_down", "graded")},
    "feedback": "s.span_key IN (SELECT span_key FROM feedback FINAL WHERE span_key IS NOT NULL)",
    "thumbs_down": "s.span_key IN (SELECT span_key FROM feedback FINAL WHERE span_key IS NOT NULL "
                   "AND kind = 'thumbs' AND value <= 0)",
    "graded": "s.span_key IN %(graded)s",
}
_SIGNALS = "LEFT JOIN signals AS g FINAL ON g.span_key = s.span_key"
# ``traces.bucket_spans``'s error cell: failed requests say why (type: message, either part
# missing left out, as DuckDB's concat_ws does); an empty cell for the others.
_ERROR = """if(ifNull(s.status <> 'ok', 0),
               concat(ifNull(s.error_type, ''),
                      if(s.error_type IS NOT NULL AND s.error_message IS NOT NULL, ': ', ''),
                      ifNull(leftUTF8(s.error_message, %(chars)s), '')), '')"""


def graded_keys(store: Store) -> tuple[int, ...]:
    """The keys of spans with a live grade (the workflow side of the "graded" condition)."""
    rows = store.rows("SELECT DISTINCT span_key FROM live_grades WHERE span_key IS NOT NULL "
                      "ORDER BY span_key")
    return tuple(int(r[0]) for r in rows)


def bucket_spans_in(spans: SpanStore, f: SpanFilter, *, split: str | None = None,
                    group: str | None = None, condition: str | None = None,
                    order: str = "recent", limit: int = 100,
                    graded: tuple[int, ...] | None = None) -> SpanList:
    """``traces.bucket_spans`` read from a span store of either dialect. The "graded"
    condition needs ``graded`` (``graded_keys`` of the workflow store) on ClickHouse."""
    if spans.dialect == DUCKDB:
        return traces.bucket_spans(spans.store, f, split=split, group=group,
                                   condition=condition, order=order, limit=limit)
    check_split(split)
    if condition is not None and condition not in CONDITIONS:
        raise FilterError(f"unknown condition {condition!r}: one of {', '.join(CONDITIONS)}")
    if order not in traces.ORDERS:
        raise FilterError(f"unknown order {order!r}: one of {', '.join(traces.ORDERS)}")
    where, params = clickhouse_where(f)
    if split is not None and group is not None:
        column = msql.SPLIT_COLUMNS[split]
        if group == msql.UNSET_GROUP:
            where += f" AND {column} IS NULL"
        else:
            where += f" AND {column} = %(group)s"
            params["group"] = group
    if condition is not None:
        where += f" AND {CONDITIONS[condition]}"
    key, direction = traces.ORDERS[order]
    # the signals join only where the order or the condition reads a signal
    reads_signals = "g." in key or (condition is not None and "g." in CONDITIONS[condition])
    join = _SIGNALS if reads_signals else ""
    base = f"FROM spans AS s FINAL {join} WHERE s.kind = %(kind)s AND {where}"
    params |= {"kind": msql.REQUEST_KIND, "limit": max(1, min(int(limit), traces.MAX_LIMIT)),
               "chars": traces.PREVIEW_CHARS}
    if condition != "graded":
        return _page(spans, base, key, direction, params)
    # Graded span keys go in the query's text, in chunks (``ch.KEY_CHUNK``): the first rows
    # of all are among the first rows of each chunk, and the totals add up (chunks are apart).
    parts = [_page(spans, base, key, direction, params | {"graded": chunk}, keys=True)
             for chunk in ch.key_chunks([int(k) for k in graded or ()] or [-1])]
    frame = pd.concat([p.spans for p in parts], ignore_index=True)
    column = key.split(".")[1]
    frame = frame.sort_values([column, "span_key"], ascending=[direction == "ASC", False],
                              na_position="last", kind="stable").head(params["limit"])
    return SpanList(frame.drop(columns="span_key").reset_index(drop=True),
                    sum(p.total for p in parts))


def _page(spans: SpanStore, base: str, key: str, direction: str, params: dict, *,
          keys: bool = False) -> SpanList:
    """The first ``limit`` rows of ``base`` in the order of ``key``, and how many match. The
    page in two steps as on DuckDB: the keys of the first rows over narrow columns, then their
    texts and signals (the signals of those keys only). ``keys`` keeps the span key."""
    sort = f"{key} {direction} NULLS LAST, s.span_key DESC"
    top = f"(SELECT s.span_key {base} ORDER BY {sort} LIMIT %(limit)s)"
    frame = ch.run(spans, f"""
        SELECT s.trace_id AS trace_id, s.span_id AS span_id, s.session_id AS session_id,
               s.start_time AS start_time, s.app AS app, s.model_version AS model_version,
               s.prompt_version AS prompt_version, s.status AS status,
               s.latency_ms AS latency_ms, s.ttft_ms AS ttft_ms,
               s.input_tokens AS input_tokens, s.output_tokens AS output_tokens,
               s.cost_usd AS cost_usd, g.user_offensive AS user_offensive,
               g.user_sentiment AS user_sentiment, g.output_offensive AS output_offensive,
               g.output_sentiment AS output_sentiment, {_ERROR} AS error,
               leftUTF8(s.last_user_message, %(chars)s) AS last_user_message,
               leftUTF8(s.output, %(chars)s) AS output, s.span_key AS span_key
        FROM spans AS s FINAL
        LEFT JOIN (SELECT * FROM signals FINAL WHERE span_key IN {top}) AS g
             ON g.span_key = s.span_key
        WHERE s.span_key IN {top}
        ORDER BY {sort}
        SETTINGS join_use_nulls = 1""", params, [*traces.LIST_COLUMNS, "span_key"])
    total = len(frame)
    if total == params["limit"]:
        total = int(ch.run(spans, f"SELECT toInt64(count()) AS n {base} "
                                  "SETTINGS join_use_nulls = 1", params)["n"].iloc[0])
    return SpanList(frame if keys else frame.drop(columns="span_key"), total)


def span_detail_in(spans: SpanStore, trace_id: str, span_id: str) -> dict:
    """``traces.span_detail`` read from a span store of either dialect."""
    if spans.dialect == DUCKDB:
        return traces.span_detail(spans.store, trace_id, span_id)
    ids = {"t": trace_id, "s": span_id}
    one = "trace_id = %(t)s AND span_id = %(s)s"
    frame = ch.run(spans, f"""
        SELECT s.*, g.user_offensive AS user_offensive, g.output_offensive AS output_offensive,
               g.user_sentiment AS user_sentiment, g.output_sentiment AS output_sentiment,
               g.output_chars AS output_chars, g.refusal AS refusal
        FROM spans AS s FINAL
        LEFT JOIN (SELECT * FROM signals FINAL
                   WHERE span_key IN (SELECT span_key FROM spans WHERE {one})) AS g
             ON g.span_key = s.span_key
        WHERE s.{one.replace(' AND ', ' AND s.')} LIMIT 1
        SETTINGS join_use_nulls = 1""", ids)
    if frame.empty:
        raise NotFound(f"no span {span_id!r} in trace {trace_id!r}")
    return frame.iloc[0].to_dict()


def find_in(spans: SpanStore, ident: str) -> dict[str, str]:
    """``traces.find`` read from a span store of either dialect."""
    if spans.dialect == DUCKDB:
        return traces.find(spans.store, ident)
    ident = ident.strip()
    if not ident:
        raise NotFound("give a span id, trace id or session id")
    frame = ch.run(spans, """
        SELECT rank, kind, a, b FROM (
            SELECT 1 AS rank, 'span' AS kind, trace_id AS a, toNullable(span_id) AS b
            FROM (SELECT trace_id, span_id FROM spans FINAL WHERE span_id = %(id)s
                  ORDER BY start_time DESC LIMIT 1)
            UNION ALL SELECT 2, 'trace', trace_id, NULL
            FROM (SELECT trace_id FROM spans WHERE trace_id = %(id)s LIMIT 1)
            UNION ALL SELECT 3, 'session', assumeNotNull(session_id), NULL
            FROM (SELECT session_id FROM spans WHERE session_id = %(id)s LIMIT 1))
        ORDER BY rank LIMIT 1""", {"id": ident})
    if frame.empty:
        raise NotFound(f"no span, trace or session has the id {ident!r}")
    kind, first, second = frame.iloc[0][["kind", "a", "b"]]
    if kind == "span":
        return {"trace_id": first, "span_id": second}
    return {"trace_id": first} if kind == "trace" else {"session_id": first}


FEEDBACK_COLUMNS = ["kind", "value", "comment", "created_at"]


def span_feedback_in(spans: SpanStore, trace_id: str, span_id: str) -> pd.DataFrame:
    """End-user feedback of one span (kind, value, comment, created_at), oldest first, from
    a span store of either dialect (the first half of ``traces.span_annotations``)."""
    if spans.dialect == DUCKDB:
        return traces.span_annotations(spans.store, trace_id, span_id)[0]
    return ch.run(spans, """
        SELECT kind, value, comment, created_at FROM feedback FINAL
        WHERE trace_id = %(t)s AND span_id = %(s)s ORDER BY created_at LIMIT 500""",
                  {"t": trace_id, "s": span_id}, FEEDBACK_COLUMNS)


def span_grades(store: Store, span_key: int) -> pd.DataFrame:
    """Current grades of one span by its key (criterion, value, source, author, comment,
    created_at), oldest first: the workflow half of ``traces.span_annotations``."""
    return store.df(
        """SELECT g.criterion, coalesce(CAST(g.value_number AS VARCHAR), g.value_label,
                                        array_to_string(g.value_labels, ', ')) AS value,
                  g.source, coalesce(g.author_id, g.judge_name) AS author, g.comment, g.created_at
           FROM live_grades g WHERE g.span_key = $k
           ORDER BY g.created_at LIMIT 500""", {"k": int(span_key)})
