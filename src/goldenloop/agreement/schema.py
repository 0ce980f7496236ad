"""Migration 8: the tables of the agreement part (see DESIGN.md's data model)."""

from __future__ import annotations

import duckdb


def m008_agreement(cur: duckdb.DuckDBPyConnection) -> None:
    """Tables of the agreement part.

    A queue's purpose: ``review`` (reviewers grade sampled items, blind by default) or
    ``adjudication`` (a reviewer settles items others disagreed on; they see the earlier
    grades, and their grades are marked ``is_adjudication``)."""
    cur.execute("ALTER TABLE queues ADD COLUMN purpose VARCHAR DEFAULT 'review'")
