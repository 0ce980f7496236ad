"""The Monitor's main query (requests, failures, latency percentiles, tokens and cost per time
bucket and group) on either span store: the DuckDB text is ``metrics.sql.request_stats``, the
ClickHouse text is here (its filter clause from ``clickhouse_filter``, the one span filter's
ClickHouse dialect), until the Monitor's package takes both dialects side by side.

Percentiles are exact on both: DuckDB's ``quantile_cont`` and ClickHouse's
``quantilesExactInclusive`` both interpolate linearly between the two nearest order
statistics (type 7 of Hyndman and Fan, numpy's default), so they agree to the last bit of a
double's rounding.
"""

from __future__ import annotations

from goldenloop.metrics import sql as duck
from goldenloop.spanstore.base import CLICKHOUSE, DUCKDB, DialectSQL, SpanStore
from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where

_SPLIT = {name: column for name, column in duck.SPLIT_COLUMNS.items()}  # same columns, alias s


def _group(split: str | None) -> str:
    if split is None:
        return f"'{duck.ALL_GROUP}'"
    return f"ifNull({_SPLIT[split]}, '{duck.UNSET_GROUP}')"


def request_stats_clickhouse(f: duck.FilterLike, split: str | None, bucket_us: int,
                             ttft: bool = False) -> tuple[str, dict]:
    """The ClickHouse text of the Monitor's main query and its parameters.

    ``FINAL``: a span sent twice in two spool files is two rows until parts merge; reading
    through FINAL counts it once, as DuckDB does. Aggregates over no values are NULL as in
    DuckDB (``OrNull``), and the three percentiles come from one sorted state per group."""
    where, params = clickhouse_where(f)
    params |= {"bucket_us": int(bucket_us), "kind": duck.REQUEST_KIND}
    origin = duck.BUCKET_ORIGIN_US
    ttft_out = "ttft[1] AS ttft_p50, ttft[2] AS ttft_p95," if ttft else ""
    ttft_agg = ("if(count(s.ttft_ms) = 0, [NULL, NULL], "
                "arrayMap(x -> toNullable(x), quantilesExactInclusive(0.5, 0.95)(s.ttft_ms)))"
                " AS ttft," if ttft else "")
    sql = f"""
        SELECT fromUnixTimestamp64Micro(bucket * %(bucket_us)s + ({origin}), 'UTC') AS time,
               grp AS `group`, requests, errors, timeouts, empty,
               lat[1] AS latency_p50, lat[2] AS latency_p95, lat[3] AS latency_p99,
               {ttft_out} input_tokens, output_tokens, cost_usd, priced
        FROM (
            SELECT intDiv(toUnixTimestamp64Micro(s.start_time) - ({origin}), %(bucket_us)s)
                       AS bucket,
                   {_group(split)} AS grp,
                   toInt64(count()) AS requests,
                   toInt64(countIf(s.status = 'error')) AS errors,
                   toInt64(countIf(s.status = 'timeout')) AS timeouts,
                   toInt64(countIf(s.status = 'empty')) AS empty,
                   if(count(s.latency_ms) = 0, [NULL, NULL, NULL],
                      arrayMap(x -> toNullable(x),
                               quantilesExactInclusive(0.5, 0.95, 0.99)(s.latency_ms))) AS lat,
                   {ttft_agg}
                   avgOrNullIf(s.input_tokens, s.status = 'ok') AS input_tokens,
                   avgOrNullIf(s.output_tokens, s.status = 'ok') AS output_tokens,
                   sumOrNull(s.cost_usd) AS cost_usd,
                   toInt64(count(s.cost_usd)) AS priced
            FROM spans AS s FINAL
            WHERE s.kind = %(kind)s AND {where}
            GROUP BY bucket, grp
        ) ORDER BY time, `group`"""
    return sql, params


def request_stats(spans: SpanStore, f: duck.FilterLike, split: str | None, bucket_us: int,
                  ttft: bool = False):
    """Per time bucket and group: the Monitor's request statistics, on either store."""
    if split is not None and split not in _SPLIT:
        raise ValueError(f"unknown split {split!r}")
    if spans.dialect == DUCKDB:
        return duck.request_stats(spans.store, f, split, bucket_us, ttft=ttft)
    text, params = request_stats_clickhouse(f, split, bucket_us, ttft)
    return spans.query(DialectSQL({CLICKHOUSE: text}), params)
