"""Migration 15: what operations record (the audit log's interface, erasures, retention)."""

from __future__ import annotations

import duckdb


def m015_operations(cur: duckdb.DuckDBPyConnection) -> None:
    """The interface of each audit entry, the erasure reports, golden versions that held erased
    rows, and per-app retention policies."""
    cur.execute("ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS interface VARCHAR")
    cur.execute(
        """CREATE TABLE IF NOT EXISTS ops_erasures (
            erasure_id VARCHAR,          -- a random id, also the report file's name
            selector VARCHAR,            -- user_id, session_id or trace_id
            subject_hash VARCHAR,        -- sha256 of the erased id: the fact, not the content
            removed JSON,                -- table or file kind -> rows removed
            requested_by VARCHAR,
            erased_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE IF NOT EXISTS ops_golden_erasures (
            version_id BIGINT,           -- a version that held rows now erased
            erasure_id VARCHAR,
            rows_erased BIGINT,
            replaced_by BIGINT,          -- the version made without them (latest versions)
            erased_at TIMESTAMP
        )"""
    )
    cur.execute(
        """CREATE TABLE IF NOT EXISTS ops_retention (
            app VARCHAR,
            days INTEGER,
            updated_by VARCHAR,
            updated_at TIMESTAMP
        )"""
    )
