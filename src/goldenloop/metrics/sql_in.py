"""The Monitor's panels read from a span store of either dialect (DuckDB or ClickHouse):
signals, feedback, correctness, the filters' choices and the request range. Each function
runs ``metrics.sql``'s DuckDB text on DuckDB and ``metrics.sql_clickhouse``'s on ClickHouse,
and returns the same frame on both (times naive UTC, counts as integers).

Correctness joins grades, which live in the workflow store, to spans, which may not: the join
is split. ``graded_spans`` reads the small side (one row per graded span and source) from the
workflow store; ``correctness_in`` takes it as a parameter, fetches the bucket and group of
those spans that match the filter from the span store, and sums per bucket in pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from goldenloop.metrics import sql
from goldenloop.metrics import sql_clickhouse as ch
from goldenloop.spanstore.base import DUCKDB, DialectSQL, SpanStore
from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where
from goldenloop.store.span_filter import SpanFilter
from goldenloop.store.store import Store

ORIGIN = sql.BUCKET_ORIGIN_US
SIGNALS_COLUMNS = ["time", "group", "scored", "user_offensive_n", "output_offensive_n",
                   "user_sentiment_n", "output_sentiment_n", "user_offensive",
                   "output_offensive", "user_sentiment", "output_sentiment"]
FEEDBACK_COLUMNS = ["time", "group", "requests", "with_feedback", "thumbs", "down"]
CORRECTNESS_COLUMNS = ["time", "source", "group", "n", "sum_w", "sum_w2", "mean", "mean_sq"]
GRADED_COLUMNS = ["span_key", "source", "value", "w"]


def group_clickhouse(split: str | None) -> str:
    """``sql.group_expr`` in ClickHouse's words."""
    if split is None:
        return f"'{sql.ALL_GROUP}'"
    return f"ifNull({sql.SPLIT_COLUMNS[split]}, '{sql.UNSET_GROUP}')"


def _clickhouse(f: SpanFilter, **extra) -> tuple[str, dict]:
    where, params = clickhouse_where(f)
    return where, params | {"kind": sql.REQUEST_KIND} | extra


def signals_in(spans: SpanStore, f: SpanFilter, split: str | None, bucket_us: int
               ) -> pd.DataFrame:
    """``sql.signals`` read from a span store of either dialect."""
    if spans.dialect == DUCKDB:
        return sql.signals(spans.store, f, split, bucket_us)
    where, params = _clickhouse(f, bucket_us=int(bucket_us), threshold=sql.OFFENSIVE_THRESHOLD)
    return ch.run(spans, ch.signals(where, group_clickhouse(split), ORIGIN), params,
                  SIGNALS_COLUMNS)


def feedback_in(spans: SpanStore, f: SpanFilter, split: str | None, bucket_us: int
                ) -> pd.DataFrame:
    """``sql.feedback`` read from a span store of either dialect."""
    if spans.dialect == DUCKDB:
        return sql.feedback(spans.store, f, split, bucket_us)
    where, params = _clickhouse(f, bucket_us=int(bucket_us))
    return ch.run(spans, ch.feedback(where, group_clickhouse(split), ORIGIN), params,
                  FEEDBACK_COLUMNS)


def graded_spans(store: Store, criterion: str, sources: Sequence[str], weights: str,
                 judge_versions: Sequence[str] | None = None) -> pd.DataFrame:
    """The workflow side of correctness: per graded span and source, the mean value and
    weight of its live grades of ``criterion`` (``sql.correctness`` counts the same)."""
    if weights not in sql.GRADE_WEIGHTS:
        raise ValueError(f"unknown weights {weights!r}")
    frame = store.df(sql._graded(weights), sql._grade_params(criterion, sources, judge_versions))
    return frame[GRADED_COLUMNS] if len(frame) else pd.DataFrame(columns=GRADED_COLUMNS)


def correctness_in(spans: SpanStore, f: SpanFilter, split: str | None, graded: pd.DataFrame,
                   bucket_us: int) -> pd.DataFrame:
    """``sql.correctness`` with the join split: ``graded`` (from ``graded_spans``) joined to
    the bucket and group of its spans that match ``f``, in a span store of either dialect."""
    if graded.empty:
        return pd.DataFrame(columns=CORRECTNESS_COLUMNS)
    keys = [int(k) for k in graded["span_key"].unique()]
    if spans.dialect == DUCKDB:
        where, params = sql.where_clause(f)
        side = spans.query(DialectSQL(duckdb=f"""
            SELECT s.span_key, {sql._bucket()} AS time, {sql.group_expr(split)} AS "group"
            FROM spans s WHERE list_contains($keys, s.span_key) AND {where}"""),
            params | {"keys": keys, "bucket_us": int(bucket_us)})
    else:
        where, params = _clickhouse(f, bucket_us=int(bucket_us))
        text = ch.graded_spans(where, group_clickhouse(split), ORIGIN)
        side = pd.concat([ch.run(spans, text, params | {"keys": part},
                                 ["span_key", "time", "group"])
                          for part in ch.key_chunks(keys)], ignore_index=True)
    p = graded.merge(side, on="span_key")
    if p.empty:
        return pd.DataFrame(columns=CORRECTNESS_COLUMNS)
    w, v = p["w"].astype(float), p["value"].astype(float)
    p = p.assign(w2=w * w, wv=w * v, wvv=w * v * v)
    out = (p.groupby(["time", "source", "group"], as_index=False, sort=True)
           .agg(n=("span_key", "size"), sum_w=("w", "sum"), sum_w2=("w2", "sum"),
                wv=("wv", "sum"), wvv=("wvv", "sum")))
    out["n"] = out["n"].astype("int64")
    return out.assign(mean=out["wv"] / out["sum_w"], mean_sq=out["wvv"] / out["sum_w"]
                      )[CORRECTNESS_COLUMNS]


def dimension_values_in(spans: SpanStore, limit: int) -> pd.DataFrame:
    """``sql.dimension_values`` read from a span store of either dialect, in the same order
    (dimension by dimension, busiest first)."""
    if spans.dialect == DUCKDB:
        return sql.dimension_values(spans.store, limit)
    production, params = clickhouse_where(SpanFilter(), with_time=False)
    frame = ch.run(spans, ch.dimension_values(sql.SPLIT_COLUMNS, limit, production),
                   params | {"kind": sql.REQUEST_KIND}, ["dimension", "value", "requests"])
    order = {name: i for i, name in enumerate([*sql.SPLIT_COLUMNS, "tags"])}
    frame = frame.assign(_d=frame["dimension"].map(order), _r=-frame["requests"])
    return (frame.sort_values(["_d", "_r", "value"], kind="stable")
            .drop(columns=["_d", "_r"]).reset_index(drop=True))


def request_range_in(spans: SpanStore) -> tuple[datetime | None, datetime | None, int]:
    """``sql.request_range`` read from a span store of either dialect."""
    if spans.dialect == DUCKDB:
        return sql.request_range(spans.store)
    production, params = clickhouse_where(SpanFilter(), with_time=False)
    row = ch.run(spans, ch.REQUEST_RANGE.format(production=production),
                 params | {"kind": sql.REQUEST_KIND}).iloc[0]
    first, last = (None if pd.isna(t) else pd.Timestamp(t).to_pydatetime()
                   for t in (row["first"], row["last"]))
    return first, last, int(row["n"])


REQUEST_STATS_COLUMNS = ["time", "group", "requests", "errors", "timeouts", "empty",
                         "latency_p50", "latency_p95", "latency_p99", "input_tokens",
                         "output_tokens", "cost_usd", "priced"]


def request_stats_in(spans: SpanStore, f: SpanFilter, split: str | None, bucket_us: int,
                     ttft: bool = False) -> pd.DataFrame:
    """``sql.request_stats`` read from a span store of either dialect (the ClickHouse text
    is ``spanstore.monitor``'s)."""
    if spans.dialect == DUCKDB:
        return sql.request_stats(spans.store, f, split, bucket_us, ttft=ttft)
    from goldenloop.spanstore import monitor

    if split is not None and split not in sql.SPLIT_COLUMNS:
        raise ValueError(f"unknown split {split!r}")
    text, params = monitor.request_stats_clickhouse(f, split, bucket_us, ttft)
    columns = list(REQUEST_STATS_COLUMNS)
    if ttft:
        columns[9:9] = ["ttft_p50", "ttft_p95"]
    return ch.run(spans, text, params, columns)
