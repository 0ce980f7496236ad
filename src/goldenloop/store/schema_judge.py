"""Migration 6: the tables of the judge part (see DESIGN.md's data model)."""

from __future__ import annotations

import duckdb


def m006_judge(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the judge part."""
