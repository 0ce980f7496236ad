"""The span store on DuckDB: today's tables in the store's own file (the default).

Exactly once per batch id: the rows and an import-log entry keyed by the batch id commit in
one transaction, so a crash leaves either both or neither. Rows whose identity is already
stored (a span's trace and span id, a signals row's span key, a feedback id) are skipped by an
anti-join, as every insert into these tables does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from goldenloop.errors import SpanStoreError
from goldenloop.spanstore.base import DUCKDB, SPAN_TABLES, DialectSQL, checked_columns
from goldenloop.store.store import Store

if TYPE_CHECKING:  # pandas costs every import's start-up ~0.4 s; only readers need it
    import pandas as pd

_IDENTITY = {  # table: the join condition that says "this row is already stored"
    "spans": "t.trace_id = n.trace_id AND t.span_id = n.span_id",
    "signals": "t.span_key = n.span_key",
    "feedback": "t.feedback_id = n.feedback_id",
}
_LOG_FORMAT = "spanstore"  # import_log format of a batch written through this interface


class DuckDBSpanStore:
    dialect = DUCKDB

    def __init__(self, store: Store):
        self.store = store

    def describe(self) -> str:
        return f"duckdb:{self.store.path}"

    def done(self, batch_id: str) -> bool:
        return bool(self.store.scalar(
            "SELECT count(*) FROM import_log WHERE content_hash = ? AND status = 'committed' "
            "AND format = ?", [batch_id, _LOG_FORMAT]))

    def insert_rows(self, table: str, batches: Iterable[pa.Table | pa.RecordBatch], *,
                    batch_id: str) -> int:
        if table not in SPAN_TABLES:
            raise SpanStoreError(f"{table}: not a span store table")
        data = [b if isinstance(b, pa.Table) else pa.Table.from_batches([b]) for b in batches]
        return self.store.write(self._insert, table, data, batch_id)

    def _insert(self, cur, table: str, data: list[pa.Table], batch_id: str) -> int:
        prior = cur.execute("SELECT count(*) FROM import_log WHERE content_hash = ? "
                            "AND status = 'committed' AND format = ?",
                            [batch_id, _LOG_FORMAT]).fetchall()[0][0]
        if prior:
            return 0
        new = offered = 0
        for part in data:
            if not part.num_rows:
                continue
            cur.register("_batch", part)
            key = "" if table != "spans" or "span_key" in part.column_names else \
                ", nextval('span_key_seq') AS span_key"
            cur.execute(f"INSERT INTO {table} BY NAME SELECT *{key} FROM _batch n "
                        f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {_IDENTITY[table]})")
            new += int(cur.fetchall()[0][0])
            offered += part.num_rows
            cur.unregister("_batch")
        cur.execute(
            """INSERT INTO import_log (import_id, file, content_hash, format, origin, status,
                                       rows_read, imported, duplicates, quarantined,
                                       started_at, finished_at)
               VALUES (nextval('import_seq'), ?, ?, ?, 'spanstore', 'committed', ?, ?, ?, 0,
                       now()::TIMESTAMP, now()::TIMESTAMP)""",
            [f"<{table}:{batch_id}>", batch_id, _LOG_FORMAT, offered, new, offered - new])
        return new

    def query(self, sql: DialectSQL, params: dict | None = None) -> pd.DataFrame:
        return self.store.df(sql[DUCKDB], params or {})

    def spans_by_key(self, keys: Sequence[int], columns: Sequence[str] | None = None
                     ) -> pa.Table:
        cols = ", ".join(checked_columns(columns)) if columns else "*"
        return self.store.cursor().sql(
            f"SELECT {cols} FROM spans WHERE list_contains($keys, span_key) ORDER BY span_key",
            params={"keys": [int(k) for k in keys]}).to_arrow_table()

    def count(self, table: str) -> int:
        if table not in SPAN_TABLES:
            raise SpanStoreError(f"{table}: not a span store table")
        return int(self.store.scalar(f"SELECT count(*) FROM {table}"))

    def close(self) -> None:
        """The store belongs to its opener, who closes it."""
