"""Migration 15: what operations record (retention policies, deletion reports)."""

from __future__ import annotations

import duckdb


def m015_operations(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the operations part (filled in by the ops package)."""
