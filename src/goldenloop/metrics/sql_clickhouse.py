"""The ClickHouse text of the Monitor's and drill-down's span readers, beside their DuckDB text
(``metrics.sql`` and the readers' modules), for a span store in ClickHouse. Parameters are
clickhouse-connect's ``%(name)s``; reads go through ``FINAL`` so a span sent twice in two
spool files counts once before parts merge, as in DuckDB.
"""

from __future__ import annotations

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
