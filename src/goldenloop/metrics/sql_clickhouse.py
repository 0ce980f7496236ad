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
