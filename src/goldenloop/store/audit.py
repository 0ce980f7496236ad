"""SQL of the audit log: grades, exports and configuration changes, who and when."""

from __future__ import annotations

import json

import duckdb


def record(cur: duckdb.DuckDBPyConnection, actor: str, action: str, target: str,
           details: dict | None = None) -> None:
    cur.execute(
        """INSERT INTO audit_log VALUES (nextval('audit_seq'), now()::TIMESTAMP, ?, ?, ?, ?)""",
        [actor, action, target, json.dumps(details or {}, default=str)],
    )
