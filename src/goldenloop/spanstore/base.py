"""The span store interface: where spans, signals and feedback live, whatever the engine.

Workflow state (rubrics, queues, grades, judges, golden sets, jobs, the import log and the
quarantine) stays in the DuckDB file that ``goldenloop serve`` owns; only the three large,
append-mostly tables move. A reader keeps one SQL text per dialect side by side and hands
both to ``query``; the store runs the one in its own dialect.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import pyarrow as pa

if TYPE_CHECKING:  # pandas costs every command's start-up ~0.4 s; only readers need it
    import pandas as pd

DUCKDB = "duckdb"
CLICKHOUSE = "clickhouse"
SPAN_TABLES = ("spans", "signals", "feedback")  # the tables a span store holds


def checked_columns(columns: Sequence[str]) -> list[str]:
    """Column names a caller passed, refused unless plain (they become SQL text)."""
    from goldenloop.errors import SpanStoreError

    for c in columns:
        if not (c.replace("_", "").isalnum() and c.isascii()):
            raise SpanStoreError(f"{c!r}: not a column name")
    return list(columns)


class DialectSQL(dict):
    """One reader query in each dialect: ``DialectSQL(duckdb=..., clickhouse=...)``.

    DuckDB text takes ``$name`` parameters, ClickHouse text ``%(name)s`` (bound and escaped
    by clickhouse-connect on the client)."""


@runtime_checkable
class SpanStore(Protocol):
    dialect: str  # DUCKDB or CLICKHOUSE

    def describe(self) -> str:
        """Where the spans live, without secrets: for messages, and as a cache key (two
        stores with the same description hold the same spans)."""

    def insert_rows(self, table: str, batches: Iterable[pa.Table | pa.RecordBatch], *,
                    batch_id: str) -> int:
        """Insert rows already in the stored shape into ``table`` (spans, signals,
        feedback) exactly once per ``batch_id`` (a spool file's digest, a migration chunk):
        a second call with the same id adds nothing, even after a crash half-way through
        the first. Returns the rows offered by this call that were not already done."""

    def done(self, batch_id: str) -> bool:
        """Whether a batch with this id was committed completely."""

    def spans_by_key(self, keys: Sequence[int], columns: Sequence[str] | None = None
                     ) -> pa.Table:
        """The spans with these keys (queues and golden sets fetch what they show)."""

    def query(self, sql: DialectSQL, params: dict | None = None) -> pd.DataFrame:
        """Run a reader's query in this store's dialect."""

    def count(self, table: str) -> int:
        """Rows of a span table (after deduplication)."""

    def close(self) -> None:
        ...
