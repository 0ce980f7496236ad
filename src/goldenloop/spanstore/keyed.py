"""Spans fetched by key into the workflow file's DuckDB connection, for the readers that join
spans to workflow tables (grades, golden rows): the small workflow side picks the keys, the
span store hands those spans over (``SpanStore.spans_by_key``), and the reader's DuckDB text
runs on them unchanged, the table registered under another name.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from goldenloop.spanstore.base import SpanStore


def local_spans(spans: SpanStore, keys: Sequence[int], columns: Sequence[str] | None = None
                ) -> pa.Table:
    """The spans with these keys, times as naive UTC (as the DuckDB file keeps them) and
    dictionary columns (ClickHouse's LowCardinality) as plain strings."""
    table = spans.spans_by_key(sorted({int(k) for k in keys}), columns)
    fields = []
    for f in table.schema:
        t = f.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_timestamp(t) and t.tz is not None:
            t = pa.timestamp(t.unit)
        fields.append(pa.field(f.name, t))
    target = pa.schema(fields)
    return table if target.equals(table.schema) else table.cast(target)


@contextmanager
def registered(cur: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[str]:
    """``table`` registered on ``cur`` as ``name`` for the duration."""
    cur.register(name, table)
    try:
        yield name
    finally:
        cur.unregister(name)
