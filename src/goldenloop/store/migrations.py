"""The migration runner: applies numbered migrations, recorded in ``schema_migrations``.

The ordered list itself is assembled above the features (``goldenloop.schema.MIGRATIONS``)
and passed in, so the store imports no feature. Only ever add migrations.

Large tables carry no PRIMARY KEY or UNIQUE constraint (they slow bulk loads); identity is
kept by sequences and duplicates are prevented by anti-joins at insert (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import duckdb

from goldenloop.errors import SchemaTooNewError

Migration = Callable[[duckdb.DuckDBPyConnection], None]
Migrations = Sequence[tuple[int, str, Migration]]


def latest(migrations: Migrations) -> int:
    return migrations[-1][0] if migrations else 0


def current_version(cur: duckdb.DuckDBPyConnection) -> int:
    cur.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = 'schema_migrations' AND table_schema = 'main'"
    )
    if not cur.fetchone()[0]:
        return 0
    cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
    return int(cur.fetchone()[0])


def migrate(cur: duckdb.DuckDBPyConnection, migrations: Migrations, *,
            target: int | None = None) -> list[int]:
    """Apply ``migrations`` above the database's version up to ``target`` (default: all of
    them), each in its own transaction; return the versions applied."""
    newest = latest(migrations)
    target = newest if target is None else target
    cur.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER, name VARCHAR, applied_at TIMESTAMP)"
    )
    have = current_version(cur)
    if have > newest:
        raise SchemaTooNewError(
            f"the database is at schema version {have}, newer than this goldenloop ({newest}): "
            "upgrade goldenloop"
        )
    applied = []
    for version, name, fn in migrations:
        if have < version <= target:
            cur.execute("BEGIN")
            try:
                fn(cur)
                cur.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    [version, name, datetime.now(UTC).replace(tzinfo=None)],
                )
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise
            applied.append(version)
    return applied
