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
import pyarrow.compute as pc

from goldenloop.spanstore.base import SpanStore


def local_spans(spans: SpanStore, keys: Sequence[int], columns: Sequence[str] | None = None
                ) -> pa.Table:
    """The spans with these keys, times as naive UTC (as the DuckDB file keeps them),
    dictionary columns (ClickHouse's LowCardinality) as plain strings, and empty lists (tags)
    as NULL: a ClickHouse array cannot be NULL, so a span without tags comes back empty."""
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
    table = table if target.equals(table.schema) else table.cast(target)
    for i, f in enumerate(table.schema):
        if pa.types.is_list(f.type):
            col = table.column(i)
            empty = pc.equal(pc.list_value_length(col), 0)
            table = table.set_column(i, f, pc.if_else(empty, pa.nulls(len(col), f.type), col))
    return table


@contextmanager
def registered(cur: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[str]:
    """``table`` registered on ``cur`` as ``name`` for the duration."""
    cur.register(name, table)
    try:
        yield name
    finally:
        cur.unregister(name)
