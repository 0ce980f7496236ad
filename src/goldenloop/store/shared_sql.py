"""SQL rules every feature shares: reading one row from a cursor, which side a grade is on,
and which judge grades a reader counts.

They live in the store, below the features, so that review, sampling, agreement, metrics,
golden sets and anomaly detection all apply the same rule without importing each other's
SQL. (What a live grade is, is the ``live_grades`` view: ``schema_trust``.)
"""

from __future__ import annotations

import duckdb


def fetch1(cur: duckdb.DuckDBPyConnection) -> tuple | None:
    """The first row, reading the result to its end (DuckDB 2 refuses other work on a cursor
    whose last result was left half-read)."""
    rows = cur.fetchall()
    return rows[0] if rows else None


# How a judge imported without a version is named wherever versions are listed or chosen.
NO_VERSION = "(no version)"

# Which side a grade ``g`` is on.
HUMAN = "(g.source = 'human' OR (g.source = 'imported' AND g.author_kind = 'reviewer'))"
JUDGE = "(g.source = 'judge' OR (g.source = 'imported' AND g.author_kind = 'judge'))"

# Judge grades of the chosen versions only: the named parameter ``$judge_versions`` lists
# them (NULL: every version; a judge without a version is NO_VERSION); other grades pass.
CHOSEN_JUDGES = f"""(NOT coalesce({JUDGE}, false) OR $judge_versions::VARCHAR[] IS NULL
    OR list_contains($judge_versions::VARCHAR[], coalesce(g.judge_version, '{NO_VERSION}')))"""
