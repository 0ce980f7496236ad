"""Migration 14: what the Argilla round trip remembers (pushed datasets, records, pulls)."""

from __future__ import annotations

import duckdb


def m014_argilla(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the Argilla part (filled in by the argilla_sync package)."""
