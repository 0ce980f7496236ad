"""Migration 11: what hardened imports record beyond migration 3 (conflicting duplicates,
skipped encodings, unmapped columns)."""

from __future__ import annotations

import duckdb


def m011_import_hardening(cur: duckdb.DuckDBPyConnection) -> None:
    """Columns of the ingest part (filled in by the ingest package)."""
