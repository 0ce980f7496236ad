"""Retention: per app, spans older than N days are deleted by the owner on a schedule.

The rule, stated once (docs/operations.md repeats it), for an app kept N days:
- a span whose start is more than N days old goes, with its signals and end-user feedback;
- a span someone reviewed (a grade, human or judge, a correction, or a place in a review
  queue) is kept ``GRADED_FACTOR`` times longer, so agreement and estimates keep their data;
- a span a golden version holds is kept while any version holds it (versions are immutable:
  `goldenloop forget` is the way to remove a person's rows from them);
- apps without a policy are kept for ever. Each run is written to the audit log.
Deleted rows leave DuckDB's file when their blocks are reused; an erasure that must leave no
byte behind is `goldenloop forget`, which rewrites the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from goldenloop.access import roles
from goldenloop.errors import GoldenloopError
from goldenloop.store import Store, audit

GRADED_FACTOR = 4


class RetentionError(GoldenloopError):
    """A retention policy that cannot be set (no app, days not positive)."""


@dataclass(frozen=True)
class Policy:
    app: str
    days: int


def set_policy(store: Store, app: str, days: int, by: str) -> Policy:
    by = roles.guard(store, roles.Action.OPERATE, by) or "cli"
    if not app or not app.strip():
        raise RetentionError("name the app whose spans are to be kept N days")
    if days < 1:
        raise RetentionError(f"days must be 1 or more, got {days}")

    def write(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute("DELETE FROM ops_retention WHERE app = ?", [app])
        cur.execute("INSERT INTO ops_retention VALUES (?, ?, ?, now()::TIMESTAMP)",
                    [app, days, by])
        audit.record(cur, by, "retention.set", f"app:{app}", {"days": days})

    store.write(write)
    return Policy(app, days)


def clear_policy(store: Store, app: str, by: str) -> bool:
    by = roles.guard(store, roles.Action.OPERATE, by) or "cli"
    def write(cur: duckdb.DuckDBPyConnection) -> bool:
        n = cur.execute("DELETE FROM ops_retention WHERE app = ?", [app]).fetchall()[0][0]
        if n:
            audit.record(cur, by, "retention.clear", f"app:{app}")
        return bool(n)

    return store.write(write)


def policies(store: Store) -> list[Policy]:
    return [Policy(a, int(d)) for a, d in store.rows("SELECT app, days FROM ops_retention "
                                                     "ORDER BY app")]


_REVIEWED = """(EXISTS (SELECT 1 FROM grades g WHERE g.span_key = s.span_key)
               OR EXISTS (SELECT 1 FROM corrections c WHERE c.span_key = s.span_key)
               OR EXISTS (SELECT 1 FROM queue_items q WHERE q.span_key = s.span_key))"""
_GOLDEN = """EXISTS (SELECT 1 FROM golden_rows r WHERE r.span_key = s.span_key)"""


def run(store: Store, *, now: datetime | None = None, by: str = "retention") -> dict[str, int]:
    """Apply every policy once; spans deleted by app."""
    roles.guard(store, roles.Action.OPERATE)  # who asked; the schedule acts for nobody
    now = now or datetime.now(UTC).replace(tzinfo=None)

    def write(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
        out: dict[str, int] = {}
        for app, days in cur.execute("SELECT app, days FROM ops_retention ORDER BY app").fetchall():
            cut, cut_reviewed = now - timedelta(days=days), now - timedelta(days=days * GRADED_FACTOR)
            cur.execute(
                f"""CREATE OR REPLACE TEMP TABLE _expired AS
                    SELECT span_key, trace_id FROM spans s
                    WHERE s.app = ? AND s.start_time < ? AND NOT {_GOLDEN}
                      AND (s.start_time < ? OR NOT {_REVIEWED})""", [app, cut, cut_reviewed])
            n = int(cur.execute("SELECT count(*) FROM _expired").fetchall()[0][0])
            if n:
                for table in ("signals", "feedback", "spans"):
                    cur.execute(f"DELETE FROM {table} WHERE span_key IN (SELECT span_key FROM _expired)")
                # Feedback not matched to a span at import names only its trace.
                cur.execute("""DELETE FROM feedback WHERE span_key IS NULL AND trace_id IN
                               (SELECT trace_id FROM _expired) AND trace_id NOT IN
                               (SELECT trace_id FROM spans WHERE trace_id IS NOT NULL)""")
            cur.execute("DROP TABLE _expired")
            out[app] = n
        if out:
            audit.record(cur, by, "retention.run", "spans", {"deleted": out,
                                                             "at": now.isoformat()})
        return out

    return store.write(write)
