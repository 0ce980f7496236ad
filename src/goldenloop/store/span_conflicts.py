"""Conflicting duplicates: a row with the identity (trace_id, span_id) of a stored span, or of
an earlier row of the same file, but other content. Such a row is not a harmless repeat: it
is counted apart and kept in the quarantine, never dropped without a word.

Works on temp objects of one import chunk (see ``store.spans.insert_spans``): ``_conflicts``
collects ``(_row, _errors, _raw)`` in the quarantine's shape.
"""

from __future__ import annotations

import duckdb

from goldenloop.store.span_columns import FIELD_NAMES

COLUMNS = "_row BIGINT, _errors STRUCT(field VARCHAR, reason VARCHAR)[], _raw VARCHAR"
# Compared to tell a conflict from a repeat: every span field but the cost (computed from
# the price table of the day when absent) and the source label.
COMPARED = tuple(f for f in FIELD_NAMES if f not in ("cost_usd", "source"))


def _error(reason_sql: str) -> str:
    return f"[{{'field': 'span_id', 'reason': {reason_sql}}}]"


def within_file(cur: duckdb.DuckDBPyConnection, repeats: str) -> None:
    cur.execute(
        f"""INSERT INTO _conflicts
            SELECT _row, {_error("'same trace_id and span_id as an earlier row of this file, "
                                 "with other content'")}, NULL
            FROM {repeats} WHERE conflict""")


def with_stored(cur: duckdb.DuckDBPyConnection, good: str) -> None:
    """Rows of ``good`` whose ids a stored span has, with other content; names the fields
    that differ and the import that stored the span."""
    differ = ", ".join(f"CASE WHEN g.{c} IS DISTINCT FROM t.{c} THEN '{c}' END" for c in COMPARED)
    cur.execute(
        f"""INSERT INTO _conflicts
            SELECT _row, {_error("'same trace_id and span_id as a stored span (import ' || "
                                 "coalesce(CAST(import_id AS VARCHAR), '?') || ') with other "
                                 "content: ' || array_to_string(fields, ', ')")}, NULL
            FROM (SELECT g._row, t.import_id,
                         list_filter([{differ}], lambda x: x IS NOT NULL) AS fields
                  FROM {good} g JOIN spans t ON t.trace_id = g.trace_id AND t.span_id = g.span_id)
            WHERE len(fields) > 0""")


def count(cur: duckdb.DuckDBPyConnection) -> int:
    return int(cur.execute("SELECT count(*) FROM _conflicts").fetchall()[0][0])
