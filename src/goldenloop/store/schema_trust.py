"""Migration 12: what keeps quality figures trustworthy: goldenloop's own traffic marked apart
from production, and the one definition of a live grade.

A grade is LIVE when it is not a retraction (an undo row, which holds no value) and no other
grade supersedes it (an edit or an undo names the grade it replaces in ``supersedes``).
Late grades (arrived after their claim was lost) are live like any other: the reviewer's
work counts once. Every reader of grades selects from the ``live_grades`` view (corrections:
``live_corrections``) instead of re-typing the condition; what a reader does beyond that
(one author's latest grade, dropping "not applicable") is its own rule.

goldenloop's own spans (judge calls, experiments, canaries) are recognised by their
``source``: see ``span_columns.INTERNAL_SOURCES``; no column is needed for them.
"""

from __future__ import annotations

import duckdb

# The condition, kept beside the views so the one definition lives with the migrations.
LIVE_GRADE = """NOT coalesce({a}.retracted, false)
    AND NOT EXISTS (SELECT 1 FROM grades sup WHERE sup.supersedes = {a}.grade_id)"""
LIVE_CORRECTION = """NOT coalesce({a}.retracted, false)
    AND NOT EXISTS (SELECT 1 FROM corrections sup WHERE sup.supersedes = {a}.correction_id)"""


def m012_trusted_figures(cur: duckdb.DuckDBPyConnection) -> None:
    """The ``live_grades`` and ``live_corrections`` views (columns follow their tables)."""
    cur.execute(f"CREATE OR REPLACE VIEW live_grades AS "
                f"SELECT g.* FROM grades g WHERE {LIVE_GRADE.format(a='g')}")
    cur.execute(f"CREATE OR REPLACE VIEW live_corrections AS "
                f"SELECT c.* FROM corrections c WHERE {LIVE_CORRECTION.format(a='c')}")
