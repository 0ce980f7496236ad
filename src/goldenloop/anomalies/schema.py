"""Migration 9: the anomaly record (one row per detected anomaly, updated in place while it
lasts) and the history of its status changes (see docs/detection.md)."""

from __future__ import annotations

import duckdb


def m009_anomalies(cur: duckdb.DuckDBPyConnection) -> None:
    """``anomalies`` and ``anomaly_events``. Small tables, but kept without PRIMARY KEY like
    the rest: identity comes from a sequence, and re-detection finds an open row by its
    fingerprint instead of inserting a duplicate."""
    cur.execute("CREATE SEQUENCE IF NOT EXISTS anomaly_id_seq START 1")
    cur.execute(
        """CREATE TABLE IF NOT EXISTS anomalies (
            anomaly_id BIGINT,
            fingerprint VARCHAR,         -- metric|app|dimension|value|kind
            metric VARCHAR,
            app VARCHAR,
            dimension VARCHAR,           -- NULL: the whole app; else model_version, ...
            value VARCHAR,
            kind VARCHAR,                -- spike, dip, shift, new_version, new_failure
            direction VARCHAR,           -- up, down, new
            window_start TIMESTAMP,
            window_end TIMESTAMP,        -- exclusive: the end of the last anomalous bucket
            baseline DOUBLE,
            baseline_low DOUBLE,
            baseline_high DOUBLE,
            observed DOUBLE,
            n BIGINT,                    -- requests (the denominator) in the window
            severity INTEGER,            -- 1 low, 2 medium, 3 high
            score DOUBLE,                -- -log10 p of the strongest bucket
            detector VARCHAR,
            detector_version VARCHAR,
            example_span_keys BIGINT[],
            description VARCHAR,
            details JSON,
            status VARCHAR,              -- open, acknowledged, muted, resolved
            muted_until TIMESTAMP,
            status_by VARCHAR,
            status_at TIMESTAMP,
            first_detected_at TIMESTAMP,
            last_detected_at TIMESTAMP,
            resolved_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE IF NOT EXISTS anomaly_events (
            anomaly_id BIGINT,
            "at" TIMESTAMP,               -- quoted: AT and BY are SQL keywords
            status VARCHAR,
            "by" VARCHAR,
            note VARCHAR
        )"""
    )
