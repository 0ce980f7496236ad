"""SQL of the rubrics table: one row per rubric version, holding the whole validated document.

The per-criterion rows go to ``criteria`` (``store.grades.insert_criteria``); this table keeps
what those rows cannot (rubric title, whether a corrected answer is asked for, which criteria
are required, who edited it), so any version ever used can be rebuilt after its file is gone.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from goldenloop.store.shared_sql import fetch1
from goldenloop.store.store import Store


def insert_rubric(cur: duckdb.DuckDBPyConnection, name: str, version: str, title: str,
                  definition: str, origin: str, based_on: str | None, edited_by: str | None,
                  edited_at: datetime | None) -> bool:
    """Add a version unless stored (a version is immutable); True when it was added."""
    cur.execute(
        """INSERT INTO rubrics
           SELECT ?, ?, ?, ?::JSON, ?, ?, ?, ?, now()::TIMESTAMP
           WHERE NOT EXISTS (SELECT 1 FROM rubrics WHERE rubric_name = ? AND rubric_version = ?)""",
        [name, version, title, definition, origin, based_on, edited_by, edited_at, name, version],
    )
    return bool(fetch1(cur)[0])


def definition(store: Store, name: str, version: str) -> str | None:
    return store.scalar(
        "SELECT definition::VARCHAR FROM rubrics WHERE rubric_name = ? AND rubric_version = ?",
        [name, version])


def versions(store: Store, name: str | None = None) -> list[tuple]:
    """(name, version, title, origin, based_on, edited_by, edited_at), newest edit first."""
    return store.rows(
        """SELECT rubric_name, rubric_version, title, origin, based_on, edited_by, edited_at
           FROM rubrics WHERE ? IS NULL OR rubric_name = ?
           ORDER BY rubric_name, edited_at DESC NULLS LAST, loaded_at DESC""", [name, name])
