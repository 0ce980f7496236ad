"""Migration 10: alert rules, their state transitions and notification deliveries."""

from __future__ import annotations

import duckdb


def m010_alerts(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the alerts part (filled in by the alerts package)."""
