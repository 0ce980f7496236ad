"""Migration 7: the tables of the golden part (see DESIGN.md's data model)."""

from __future__ import annotations

import duckdb


def m007_golden(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the golden part."""
