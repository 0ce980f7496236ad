"""Migration 12: what keeps quality figures trustworthy: goldenloop's own traffic marked apart
from production, and the one definition of a live grade."""

from __future__ import annotations

import duckdb


def m012_trusted_figures(cur: duckdb.DuckDBPyConnection) -> None:
    """Filled in by the trusted-figures work (internal traffic, live grades)."""
