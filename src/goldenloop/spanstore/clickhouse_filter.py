"""The one span filter in ClickHouse's dialect: the ``Dialect`` that ``store.span_filter``'s
builder writes through, kept beside the ClickHouse span store so the store package imports no
ClickHouse code. Every reader's ClickHouse text gets its WHERE clause from ``where`` here.

Parameters are clickhouse-connect's ``%(name)s``, bound and escaped on the client. Times go
as integer microseconds since 1970 (UTC), turned back into a time by
``fromUnixTimestamp64Micro``: a formatted time would lose its microseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from goldenloop.store import span_filter
from goldenloop.store.span_columns import INTERNAL_SOURCES
from goldenloop.store.span_filter import Dialect, SpanFilter


def micros(t: datetime) -> int:
    """Microseconds since 1970 of a naive UTC time (or an aware one)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp()) * 1_000_000 + t.microsecond


def _production(alias: str) -> tuple[str, dict[str, Any]]:
    col = f"{alias}.source" if alias else "source"
    return f"ifNull({col}, '') NOT IN %(internal)s", {"internal": list(INTERNAL_SOURCES)}


CLICKHOUSE = Dialect(
    name="clickhouse",
    placeholder=lambda name: f"%({name})s",
    time_value=micros,
    time=lambda p: f"fromUnixTimestamp64Micro({p}, 'UTC')",
    # ``c IN list`` is false for a NULL c, as DuckDB's list_contains(list, NULL) is
    one_of=lambda column, p: f"{column} IN {p}",
    any_of=lambda column, p: f"hasAny({column}, {p})",
    production=_production,
    true="1",
)


def where(f: SpanFilter, alias: str = "s", *, with_time: bool = True,
          prefix: str = "") -> tuple[str, dict[str, Any]]:
    """The filter as a ClickHouse condition on spans aliased ``alias``, and its parameters."""
    return span_filter.where(f, alias, dialect=CLICKHOUSE, with_time=with_time, prefix=prefix)


__all__ = ["CLICKHOUSE", "micros", "where"]
