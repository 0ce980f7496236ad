"""End-user feedback spool files (the SDK's ``feedback()``) into a span store, exactly once.

On DuckDB the rows and the import-log entry commit in one transaction (``store.feedback``).
On ClickHouse the steps of a span file import are followed: the rows go in with the
deduplication token ``file:<digest>:feedback``, then the import-log entry commits to the
workflow store, then the ledger marks the file done; a retry after a crash anywhere sends
the same block, which ClickHouse drops.

A feedback id in ClickHouse is a hash of the row's content (span, kind, value, time, source,
comment), so the same feedback sent again in another file collapses to one row, as DuckDB
skips a row equal to a stored one. Its span key is the stored span's key when the span is
there (a key copied from DuckDB), else the key ClickHouse will give that span when it
arrives (a hash of its ids), so feedback that comes first still meets its span.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from goldenloop.spanstore.base import DUCKDB, SpanStore
from goldenloop.spanstore.clickhouse_schema import SPAN_KEY_DEFAULT
from goldenloop.store import imports as import_sql
from goldenloop.store.feedback import FEEDBACK_COLUMNS, insert_feedback
from goldenloop.store.store import Store

_FLOOR = 1 << 62  # ids at or above it: never a DuckDB sequence value


def import_feedback(workflow: Store, spans: SpanStore, path: Path, digest: str,
                    origin: str = "inbox") -> int:
    """Load one feedback spool file; return the rows added."""
    table = pq.read_table(path)
    if spans.dialect == DUCKDB:
        return workflow.write(_duckdb_insert, table, str(path), digest, origin)
    batch_id = f"file:{digest}"
    new = 0
    if not spans.done(batch_id):
        rows = _clickhouse_rows(spans, table)
        new = spans.insert_batches("feedback", [rows], token=f"{batch_id}:feedback")
        workflow.write(_log, str(path), digest, origin, table.num_rows, new)
    spans.mark_done(batch_id, "feedback", new)
    return new


def _duckdb_insert(cur, table: pa.Table, file: str, digest: str, origin: str) -> int:
    import_id = import_sql.start_committed(cur, file, digest, "feedback", origin)
    n = insert_feedback(cur, table)
    import_sql.finish(cur, import_id, {"rows_read": table.num_rows, "imported": n,
                                       "duplicates": table.num_rows - n, "quarantined": 0}, 0)
    return n


def _log(cur, file: str, digest: str, origin: str, rows: int, new: int) -> None:
    if import_sql.committed_hash(cur, digest) is not None:
        return  # committed before a crash that came ahead of the ledger entry
    import_id = import_sql.start_committed(cur, file, digest, "feedback", origin)
    import_sql.finish(cur, import_id, {"rows_read": rows, "imported": new,
                                       "duplicates": rows - new, "quarantined": 0}, 0)


def _clickhouse_rows(spans, table: pa.Table) -> pa.Table:
    """The file's rows in the stored shape: every feedback column, an id and a span key."""
    n = table.num_rows
    cols = {c: (table[c] if c in table.column_names else pa.nulls(n)).to_pylist()
            for c, _ in FEEDBACK_COLUMNS}
    ids = [_content_id(cols, i) for i in range(n)]
    keys = _span_keys(spans, cols["trace_id"], cols["span_id"])
    out = {"feedback_id": pa.array(ids, pa.int64()), "span_key": pa.array(keys, pa.int64())}
    for c, _ in FEEDBACK_COLUMNS:
        typ = {"value": pa.float64(), "created_at": pa.timestamp("us", "UTC")}.get(c, pa.string())
        out[c] = pa.array(cols[c], typ)
    return pa.table(out)


def _content_id(cols: dict[str, list], i: int) -> int:
    text = "\x1f".join(repr(cols[c][i]) for c in sorted(cols))
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    return (digest & (_FLOOR - 1)) | _FLOOR


def _span_keys(spans, trace_ids: list, span_ids: list) -> list[int | None]:
    pairs = sorted({(t, s) for t, s in zip(trace_ids, span_ids, strict=True)
                    if t is not None and s is not None})
    if not pairs:
        return [None] * len(trace_ids)
    t, s = [p[0] for p in pairs], [p[1] for p in pairs]
    stored = spans.arrow(
        "SELECT trace_id, span_id, span_key FROM spans FINAL "
        "WHERE (trace_id, span_id) IN (SELECT arrayJoin(arrayZip(%(t)s, %(s)s)))",
        {"t": t, "s": s}).to_pylist()
    found = {(r["trace_id"], r["span_id"]): r["span_key"] for r in stored}
    hashed = spans.arrow(
        f"SELECT arrayMap((trace_id, span_id) -> {SPAN_KEY_DEFAULT}, %(t)s, %(s)s) AS k",
        {"t": t, "s": s}).column("k")[0].as_py()
    key_of = {p: found.get(p, h) for p, h in zip(pairs, hashed, strict=True)}
    return [key_of.get((a, b)) for a, b in zip(trace_ids, span_ids, strict=True)]
