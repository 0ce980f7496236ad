"""Migration 13: test sets, targets, runs, per-item results and scores, canary suites."""

from __future__ import annotations

import duckdb


def m013_experiments(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the experiments part (filled in by the experiments package)."""
