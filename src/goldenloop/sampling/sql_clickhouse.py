"""The ClickHouse text of sampling's span reads (``sampling.sql``), for a span store in
ClickHouse: the frame's spans with their span-store risk signals (negative feedback,
offensive language or moderation flags, refusals, failures). The judge signals come from
grades, which stay in the workflow file, so ``sql.frame_units`` joins them there.

Reads go through ``FINAL`` (a span or a rescored signals row sent twice counts once);
``join_use_nulls`` makes an unmatched LEFT JOIN give NULL, as in DuckDB.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from goldenloop.spanstore.base import DUCKDB, DialectSQL, SpanStore
from goldenloop.store.span_filter import SpanFilter

_OFFENSIVE = ("ifNull(user_offensive, 0) >= 0.5 OR ifNull(output_offensive, 0) >= 0.5 "
              "OR ifNull(user_moderation_flagged, false) OR ifNull(output_moderation_flagged, false)")


def frame_spans(where: str) -> str:
    """One row per span of the frame (``where`` on alias ``s``): ``FRAME_SPAN_COLUMNS``."""
    return f"""
        SELECT s.span_key AS span_key, s.session_id AS session_id, s.start_time AS start_time,
               s.app AS app, s.model_version AS model_version, s.environment AS environment,
               s.prompt_version AS prompt_version,
               fb.span_key IS NOT NULL AS negative_feedback,
               ifNull(sg.offensive, false) AS offensive, ifNull(sg.refusal, false) AS refusal,
               ifNull(s.status, 'ok') <> 'ok' AS error
        FROM spans AS s FINAL
        LEFT JOIN (SELECT span_key, max({_OFFENSIVE}) = 1 AS offensive,
                          max(ifNull(refusal, false)) = 1 AS refusal
                   FROM signals FINAL GROUP BY span_key) AS sg ON sg.span_key = s.span_key
        LEFT JOIN (SELECT DISTINCT span_key FROM feedback FINAL
                   WHERE span_key IS NOT NULL
                     AND ((kind = 'thumbs' AND value <= 0) OR (kind = 'rating' AND value <= 2)))
            AS fb ON fb.span_key = s.span_key
        WHERE {where}
        ORDER BY s.span_key
        SETTINGS join_use_nulls = 1"""


def frame_span_part(spans: SpanStore | None, frame: SpanFilter) -> pa.Table | None:
    """The frame's spans with their span-store signals, read from ``spans`` when they live
    outside the workflow file (ClickHouse); None when they are in it (DuckDB: one query
    there does all)."""
    if spans is None or spans.dialect == DUCKDB:
        return None
    from goldenloop.spanstore.clickhouse_filter import where

    condition, params = where(frame, "s")
    df = spans.query(DialectSQL(clickhouse=frame_spans(condition)), params)
    if not len(df):  # chdb hands an empty result back without columns
        df = pd.DataFrame({c: pd.Series(dtype=t) for c, t in _EMPTY.items()})
    df["start_time"] = pd.to_datetime(df["start_time"]).dt.tz_localize(None)
    for flag in ("negative_feedback", "offensive", "refusal", "error"):  # 0/1 from ClickHouse
        df[flag] = df[flag].astype(bool)
    return pa.Table.from_pandas(df, preserve_index=False)


_EMPTY = {"span_key": "int64", "session_id": object, "start_time": "datetime64[us, UTC]",
          "app": object, "model_version": object, "environment": object,
          "prompt_version": object, "negative_feedback": bool, "offensive": bool,
          "refusal": bool, "error": bool}


def comparison_candidates(spans: SpanStore, frame: SpanFilter, version_a: str, version_b: str
                          ) -> pa.Table:
    """``sql.comparison_candidates`` in ClickHouse: (input_key, a_key, b_key) per input
    answered by both versions, ordered by the input key (the same md5 text as DuckDB's, so a
    seeded draw picks the same pairs)."""
    from goldenloop.spanstore.clickhouse_filter import where

    condition, params = where(frame, "s")
    text = "coalesce(s.messages, s.last_user_message)"
    got = spans.query(DialectSQL(clickhouse=f"""
        WITH f AS (
            SELECT s.span_key AS span_key, s.model_version AS model_version,
                   s.start_time AS start_time,
                   concat(s.app, ':', lower(hex(MD5({text})))) AS input_key
            FROM spans AS s FINAL
            WHERE {condition} AND s.model_version IN (%(version_a)s, %(version_b)s)
              AND s.output IS NOT NULL AND {text} IS NOT NULL
        ),
        side AS (
            SELECT input_key, model_version, argMax(span_key, start_time) AS span_key
            FROM f WHERE input_key IS NOT NULL GROUP BY input_key, model_version
        )
        SELECT a.input_key AS input_key, a.span_key AS a_key, b.span_key AS b_key
        FROM side AS a JOIN side AS b ON a.input_key = b.input_key
        WHERE a.model_version = %(version_a)s AND b.model_version = %(version_b)s
        ORDER BY a.input_key"""), params | {"version_a": version_a, "version_b": version_b})
    schema = pa.schema([("input_key", pa.string()), ("a_key", pa.int64()), ("b_key", pa.int64())])
    if not len(got):
        return schema.empty_table()
    return pa.Table.from_pandas(got[["input_key", "a_key", "b_key"]], schema=schema,
                                preserve_index=False)


def comparison_texts(spans: SpanStore, pairs: pa.Table) -> pa.Table:
    """``sql.comparison_texts`` from a span store: the pairs' spans fetched by key."""
    from goldenloop.spanstore.keyed import local_spans

    keys = pairs.column("a_key").to_pylist() + pairs.column("b_key").to_pylist()
    got = local_spans(spans, keys, ["span_key", "last_user_message", "messages", "output", "app",
                                    "model_version"]).to_pylist()
    by_key = {r["span_key"]: r for r in got}
    rows = []
    for a_key, b_key in zip(pairs.column("a_key").to_pylist(), pairs.column("b_key").to_pylist(),
                            strict=True):
        a, b = by_key.get(a_key), by_key.get(b_key)
        if a is None or b is None:  # erased meanwhile: the inner join leaves the pair out
            continue
        rows.append({"a_key": a_key, "b_key": b_key,
                     "input": a["last_user_message"] if a["last_user_message"] is not None
                     else a["messages"],
                     "a_output": a["output"], "b_output": b["output"], "app": a["app"],
                     "a_version": a["model_version"], "b_version": b["model_version"]})
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("a_key", pa.int64()), ("b_key", pa.int64()), ("input", pa.string()),
        ("a_output", pa.string()), ("b_output", pa.string()), ("app", pa.string()),
        ("a_version", pa.string()), ("b_version", pa.string())]))
