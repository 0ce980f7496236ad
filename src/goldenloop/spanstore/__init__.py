"""Where spans, signals and feedback live: DuckDB (the store's own file, the default) or
ClickHouse (``clickhouse-connect``; a server, a cluster, or embedded chdb), chosen by one
configuration string (see ``spanstore.config``).
"""

from __future__ import annotations

from goldenloop.spanstore.base import CLICKHOUSE, DUCKDB, SPAN_TABLES, DialectSQL, SpanStore
from goldenloop.spanstore.config import CONFIG_FILE, ENV_URL, SpanStoreConfig, configured_url, parse
from goldenloop.store.store import Store

__all__ = ["CLICKHOUSE", "CONFIG_FILE", "DUCKDB", "ENV_URL", "SPAN_TABLES", "DialectSQL",
           "SpanStore", "SpanStoreConfig", "configured_url", "open_span_store", "parse"]


def open_span_store(url: str | None, workflow: Store) -> SpanStore:
    """The span store named by ``url`` (or ``$GOLDENLOOP_SPANS``): DuckDB wraps
    ``workflow``, the store's own file; ClickHouse connects and creates its tables."""
    cfg = parse(url)
    if cfg.backend == DUCKDB:
        from goldenloop.spanstore.duckdb_spans import DuckDBSpanStore

        return DuckDBSpanStore(workflow)
    from goldenloop.spanstore.clickhouse_spans import ClickHouseSpanStore

    return ClickHouseSpanStore(cfg)
