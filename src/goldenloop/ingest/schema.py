"""Migration 11: what hardened imports record beyond migration 3 (conflicting duplicates,
and notes such as the encoding a file was read with and the columns kept in metadata)."""

from __future__ import annotations

import duckdb


def m011_import_hardening(cur: duckdb.DuckDBPyConnection) -> None:
    """Conflicts are counted apart from exact duplicates: rows read = imported + duplicates +
    conflicts + quarantined."""
    cur.execute("ALTER TABLE import_log ADD COLUMN conflicts BIGINT DEFAULT 0")
    cur.execute("ALTER TABLE import_log ADD COLUMN notes VARCHAR[]")
