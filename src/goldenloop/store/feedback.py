"""SQL that writes end-user feedback (thumbs, ratings, comments) in bulk.

Feedback is kept apart from reviewer grades so it never leaks into agreement (DESIGN.md).
Rows name their span by ``(trace_id, span_id)``; the span key is resolved here by a join
when the span is stored, and stays NULL when it is not (feedback may arrive first).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

FEEDBACK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trace_id", "VARCHAR"),
    ("span_id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("user_id", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("value", "DOUBLE"),
    ("comment", "VARCHAR"),
    ("created_at", "TIMESTAMP"),
    ("source", "VARCHAR"),
)


def insert_feedback(cur: duckdb.DuckDBPyConnection, table: pa.Table) -> int:
    """Insert feedback rows from ``table`` (any of ``FEEDBACK_COLUMNS``); return how many.

    A row equal to a stored one on span, kind, value, created time and source is skipped, so
    loading the same feedback twice adds nothing. Feedback ids follow the table's row order.
    """
    if table.num_rows == 0:
        return 0
    present = set(table.column_names)
    name = f"_feedback_in_{id(table)}"
    cur.register(name, table.append_column("_ord", pa.array(range(table.num_rows), pa.int64())))
    try:
        sel = []
        for col, typ in FEEDBACK_COLUMNS:
            sel.append(f"CAST(f.{col} AS {typ}) AS {col}" if col in present
                       else f"CAST(NULL AS {typ}) AS {col}")
        src = f"SELECT f._ord, {', '.join(sel)} FROM {name} f"
        cols = ", ".join(c for c, _ in FEEDBACK_COLUMNS)
        n_cols = ", ".join(f"n.{c}" for c, _ in FEEDBACK_COLUMNS)
        # Ids come from one block of the sequence (writes hold the lock), numbered by row order.
        cur.execute(
            f"""INSERT INTO feedback (feedback_id, span_key, {cols}, ingested_at)
                SELECT min(_nv) OVER () + _rn - 1, span_key, {cols}, now()::TIMESTAMP
                FROM (
                    SELECT nextval('feedback_seq') AS _nv,
                           row_number() OVER (ORDER BY n._ord) AS _rn,
                           s.span_key, {n_cols}
                    FROM ({src}) n
                    LEFT JOIN spans s ON s.trace_id = n.trace_id AND s.span_id = n.span_id
                    WHERE NOT EXISTS (
                        SELECT 1 FROM feedback o
                        WHERE o.trace_id IS NOT DISTINCT FROM n.trace_id
                          AND o.span_id IS NOT DISTINCT FROM n.span_id
                          AND o.kind IS NOT DISTINCT FROM n.kind
                          AND o.value IS NOT DISTINCT FROM n.value
                          AND o.created_at IS NOT DISTINCT FROM n.created_at
                          AND o.source IS NOT DISTINCT FROM n.source)
                )"""
        )
        return int(cur.fetchone()[0])
    finally:
        cur.unregister(name)


def link_pending(cur: duckdb.DuckDBPyConnection) -> int:
    """Fill the span key of feedback that arrived before its span; return how many."""
    cur.execute(
        """UPDATE feedback SET span_key = s.span_key FROM spans s
           WHERE feedback.span_key IS NULL
             AND s.trace_id = feedback.trace_id AND s.span_id = feedback.span_id"""
    )
    return int(cur.fetchone()[0])
