"""SQL of ``demo_incidents``: the ground truth of incidents injected into a demo history.

``ends_at`` is NULL for a change still in effect at the end of the history (a model update,
a retrieval change).
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

COLUMNS = ("kind", "app", "model_version", "starts_at", "ends_at", "description")


def insert_incidents(cur: duckdb.DuckDBPyConnection, rows: list[dict]) -> int:
    """Insert incidents (dicts with ``COLUMNS``); one already stored with the same kind, app
    and start is skipped. Returns how many were added."""
    if not rows:
        return 0
    table = pa.table({
        "kind": pa.array([r["kind"] for r in rows], pa.string()),
        "app": pa.array([r.get("app") for r in rows], pa.string()),
        "model_version": pa.array([r.get("model_version") for r in rows], pa.string()),
        "starts_at": pa.array([r["starts_at"] for r in rows], pa.timestamp("us")),
        "ends_at": pa.array([r.get("ends_at") for r in rows], pa.timestamp("us")),
        "description": pa.array([r.get("description") for r in rows], pa.string()),
    })
    name = f"_incidents_in_{id(table)}"
    cur.register(name, table)
    try:
        cur.execute(
            f"""INSERT INTO demo_incidents ({', '.join(COLUMNS)})
                SELECT {', '.join(COLUMNS)} FROM {name} n
                WHERE NOT EXISTS (SELECT 1 FROM demo_incidents o
                                  WHERE o.kind = n.kind AND o.app IS NOT DISTINCT FROM n.app
                                    AND o.starts_at = n.starts_at)"""
        )
        return int(cur.fetchone()[0])
    finally:
        cur.unregister(name)


def list_incidents(cur: duckdb.DuckDBPyConnection, *, since: datetime | None = None,
                   until: datetime | None = None) -> list[dict]:
    """Stored incidents overlapping ``[since, until)`` (all when not given), by start time."""
    cur.execute(
        f"""SELECT {', '.join(COLUMNS)} FROM demo_incidents
            WHERE (CAST(? AS TIMESTAMP) IS NULL OR coalesce(ends_at, 'infinity'::TIMESTAMP) > ?)
              AND (CAST(? AS TIMESTAMP) IS NULL OR starts_at < ?)
            ORDER BY starts_at, kind""",
        [since, since, until, until],
    )
    return [dict(zip(COLUMNS, r, strict=True)) for r in cur.fetchall()]
