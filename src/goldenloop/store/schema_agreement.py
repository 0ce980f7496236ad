"""Migration 8: the tables of the agreement part (see DESIGN.md's data model)."""

from __future__ import annotations

import duckdb


def m008_agreement(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the agreement part."""
