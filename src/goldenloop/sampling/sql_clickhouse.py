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
