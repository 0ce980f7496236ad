"""The ClickHouse text of the Monitor's and drill-down's span readers, beside their DuckDB text
(``metrics.sql`` and the readers' modules), for a span store in ClickHouse. Parameters are
clickhouse-connect's ``%(name)s``; reads go through ``FINAL`` so a span sent twice in two
spool files counts once before parts merge, as in DuckDB.
"""

from __future__ import annotations

import pandas as pd

from goldenloop.spanstore.base import DialectSQL, SpanStore

# Span keys sent in one query's text: clickhouse-connect binds ``%(name)s`` into the text, and
# ClickHouse refuses a text over ``max_query_size`` (256 KiB by default, about 13,000 hashed keys).
KEY_CHUNK = 5_000


def key_chunks(keys: list[int]) -> list[list[int]]:
    """``keys`` in lists short enough for one query's text (at least one list)."""
    return [keys[i:i + KEY_CHUNK] for i in range(0, len(keys), KEY_CHUNK)] or [[]]


def run(spans: SpanStore, text: str, params: dict, columns: list[str] | None = None
        ) -> pd.DataFrame:
    """A ClickHouse reader's frame as its DuckDB twin gives it: times naive UTC (DuckDB's
    TIMESTAMP), and an empty answer with its columns (chdb gives an empty one none)."""
    frame = spans.query(DialectSQL(clickhouse=text), params)
    if columns is not None and frame.columns.empty:
        return pd.DataFrame(columns=columns)
    for col in frame.columns:
        frame[col] = duckdb_like(frame[col])
    return frame


def duckdb_like(values: pd.Series) -> pd.Series:
    """A column as DuckDB's ``df()`` gives it: times naive UTC, missing texts and flags None
    in an object column, integers with a missing value as floats with NaN (clickhouse-connect
    gives pandas' nullable types, whose ``pd.NA`` has no truth value)."""
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    if isinstance(dtype, pd.StringDtype | pd.BooleanDtype) or pd.api.types.is_object_dtype(dtype):
        out = values.astype(object)
        return out.where(out.notna(), None)
    if pd.api.types.is_extension_array_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype):
        return values.astype("float64") if values.isna().any() else values.to_numpy(
            dtype=dtype.numpy_dtype)
    return values

# ``traces.trace_tree``: the spans of one trace, by start then key (the bloom filter on
# trace_id serves the lookup; the ordering key does not lead with it).
TRACE_TREE = """
    SELECT s.span_key, s.span_id, s.parent_span_id, s.kind, s.name, s.model_version,
           s.status, s.start_time, s.end_time, s.latency_ms, s.ttft_ms, s.input_tokens,
           s.output_tokens, s.cost_usd, s.error_type
    FROM spans AS s FINAL WHERE s.trace_id = %(t)s
    ORDER BY s.start_time, s.span_key LIMIT %(n)s"""


def version_first_seen(where: str) -> str:
    """``metrics.sql.version_first_seen``: each model version's first and last request and
    count, and the first request of any version; ``where`` is the span filter's condition."""
    return f"""
        SELECT model_version, first_seen, last_seen, requests,
               min(first_seen) OVER () AS data_start
        FROM (SELECT s.model_version AS model_version, min(s.start_time) AS first_seen,
                     max(s.start_time) AS last_seen, toInt64(count()) AS requests
              FROM spans AS s FINAL
              WHERE s.kind = %(kind)s AND s.model_version IS NOT NULL AND {where}
              GROUP BY s.model_version)
        ORDER BY first_seen, model_version"""


def request_totals(where: str, group: str) -> str:
    """``metrics.sql.request_totals``: one row over the filter (requests, failures, exact
    p50/p95 latency, tokens, cost, the number of ``group`` values, first and last request).
    Aggregates over no values are NULL as in DuckDB (``OrNull``)."""
    return f"""
        SELECT toInt64(count()) AS requests,
               toInt64(countIf(s.status = 'error')) AS errors,
               toInt64(countIf(s.status = 'timeout')) AS timeouts,
               toInt64(countIf(s.status = 'empty')) AS empty,
               avgOrNullIf(s.output_tokens, s.status = 'ok') AS output_tokens,
               sumOrNull(s.cost_usd) AS cost_usd, toInt64(count(s.cost_usd)) AS priced,
               minOrNull(s.start_time) AS first_start, maxOrNull(s.start_time) AS last_start,
               if(count(s.latency_ms) = 0, [NULL, NULL],
                  arrayMap(x -> toNullable(x),
                           quantilesExactInclusive(0.5, 0.95)(s.latency_ms))) AS lat,
               lat[1] AS latency_p50, lat[2] AS latency_p95,
               toInt64(uniqExact({group})) AS groups
        FROM spans AS s FINAL
        WHERE s.kind = %(kind)s AND {where}"""


# -- time buckets and groups, as ``metrics.sql`` numbers them -----------------------------------
def bucket_key(origin: int, alias: str = "s") -> str:
    """The bucket number of a span (``sql._bucket_key``): integer division from ``origin``."""
    return f"intDiv(toUnixTimestamp64Micro({alias}.start_time) - ({origin}), %(bucket_us)s)"


def bucket_time(key: str, origin: int) -> str:
    return f"fromUnixTimestamp64Micro({key} * %(bucket_us)s + ({origin}), 'UTC')"


def signals(where: str, group: str, origin: int) -> str:
    """``metrics.sql.signals``: per bucket and group, spans with a signals row, the share of
    offensive texts and the mean sentiments, each with the number of values it averages."""
    return f"""
        SELECT {bucket_time("bucket", origin)} AS time, grp AS `group`, scored,
               user_offensive_n, output_offensive_n, user_sentiment_n, output_sentiment_n,
               user_offensive, output_offensive, user_sentiment, output_sentiment
        FROM (
            SELECT {bucket_key(origin)} AS bucket, {group} AS grp,
                   toInt64(count()) AS scored,
                   toInt64(count(g.user_offensive)) AS user_offensive_n,
                   toInt64(count(g.output_offensive)) AS output_offensive_n,
                   toInt64(count(g.user_sentiment)) AS user_sentiment_n,
                   toInt64(count(g.output_sentiment)) AS output_sentiment_n,
                   avgOrNull(toFloat64(g.user_offensive >= %(threshold)s)) AS user_offensive,
                   avgOrNull(toFloat64(g.output_offensive >= %(threshold)s)) AS output_offensive,
                   avgOrNull(g.user_sentiment) AS user_sentiment,
                   avgOrNull(g.output_sentiment) AS output_sentiment
            FROM signals AS g FINAL INNER JOIN spans AS s FINAL ON s.span_key = g.span_key
            WHERE {where}
            GROUP BY bucket, grp)
        ORDER BY time, `group`"""


def feedback(where: str, group: str, origin: int) -> str:
    """``metrics.sql.feedback``: per bucket and group of requests, how many, how many got
    feedback, thumbs and thumbs down. ``join_use_nulls``: a request without feedback has
    NULLs from the join, as in DuckDB, not zeros."""
    return f"""
        SELECT {bucket_time("bucket", origin)} AS time, grp AS `group`, requests,
               with_feedback, thumbs, down
        FROM (
            SELECT {bucket_key(origin)} AS bucket, {group} AS grp,
                   toInt64(count()) AS requests, toInt64(count(fb.span_key)) AS with_feedback,
                   toInt64(ifNull(sum(fb.thumbs), 0)) AS thumbs,
                   toInt64(ifNull(sum(fb.down), 0)) AS down
            FROM spans AS s FINAL
            LEFT JOIN (SELECT span_key, countIf(kind = 'thumbs') AS thumbs,
                              countIf(kind = 'thumbs' AND value = 0) AS down
                       FROM feedback FINAL WHERE span_key IS NOT NULL GROUP BY span_key) AS fb
                 ON fb.span_key = s.span_key
            WHERE s.kind = %(kind)s AND {where}
            GROUP BY bucket, grp)
        ORDER BY time, `group`
        SETTINGS join_use_nulls = 1"""


def graded_spans(where: str, group: str, origin: int) -> str:
    """The span side of ``metrics.sql.correctness`` (whose grades live in the workflow
    store): bucket start and group of each graded span matching the filter."""
    return f"""
        SELECT s.span_key AS span_key, {bucket_time(bucket_key(origin), origin)} AS time,
               {group} AS `group`
        FROM spans AS s FINAL WHERE s.span_key IN %(keys)s AND {where}"""


def dimension_values(columns: dict[str, str], limit: int, production: str) -> str:
    """``metrics.sql.dimension_values``: the busiest ``limit`` values of each dimension."""
    parts = [f"""SELECT * FROM (
                     SELECT '{name}' AS dimension, assumeNotNull({column}) AS value,
                            toInt64(count()) AS requests
                     FROM spans AS s FINAL
                     WHERE s.kind = %(kind)s AND {column} IS NOT NULL AND {production}
                     GROUP BY value ORDER BY requests DESC, value LIMIT {int(limit)})"""
             for name, column in columns.items()]
    parts.append(f"""SELECT * FROM (
                     SELECT 'tags' AS dimension, arrayJoin(s.tags) AS value,
                            toInt64(count()) AS requests
                     FROM spans AS s FINAL WHERE s.kind = %(kind)s AND {production}
                     GROUP BY value ORDER BY requests DESC, value LIMIT {int(limit)})""")
    return " UNION ALL ".join(parts)


REQUEST_RANGE = """
    SELECT minOrNull(s.start_time) AS first, maxOrNull(s.start_time) AS last,
           toInt64(count()) AS n
    FROM spans AS s FINAL WHERE s.kind = %(kind)s AND {production}"""
