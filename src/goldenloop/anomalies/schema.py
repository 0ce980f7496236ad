"""Migration 9: the anomaly record (one row per detected anomaly, updated in place while it
lasts; see docs/detection.md)."""

from __future__ import annotations

import duckdb


def m009_anomalies(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the detection part (filled in by the anomalies package)."""
