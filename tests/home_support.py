"""A known history for the Home page's tests (app and browser): spans, jobs and grades whose
figures are known, and spans named by hostile strings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa

from goldenloop.ingest.loader import import_table
from goldenloop.schema import open_store

T0 = datetime(2025, 3, 1, 8, 0)


# Markdown and a link in a user-supplied name: must reach the page only as plain text.
HOSTILE_APP = "**bold** [click](http://example.invalid/x.png)"


@dataclass(frozen=True)
class Expected:
    spans: int = 10
    traces: int = 5
    sessions: int = 3
    apps: int = 3
    model_versions: int = 3
    grades: int = 7  # 2 current human (one edit), 4 judge, 1 canary
    imported: int = 10
    duplicates: int = 2
    quarantined: int = 2
    first: str = "2025-03-01 08:00 UTC"
    last: str = "2025-03-04 15:30 UTC"


EXPECTED = Expected()


def _span(trace: str, span: str, minutes: float, *, session: str | None, app: str | None,
          version: str | None, model: str = "gpt-4o", tokens: int = 10, status: str = "ok") -> dict:
    return {
        "trace_id": trace, "span_id": span, "session_id": session, "app": app,
        "model": model, "model_version": version, "start_time": T0 + timedelta(minutes=minutes),
        "latency_ms": 800.0, "input_tokens": tokens, "output_tokens": 20, "status": status,
        "output": f"answer {span}",
    }


def known_spans() -> list[dict]:
    """Ten good spans: 5 traces, 3 sessions, 3 apps (+ one unnamed), 3 versions (+ one unset)."""
    v1, v2, v3 = "gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "claude-3-5-sonnet-20241022"
    return [
        _span("t1", "a", 0, session="s1", app="support-bot", version=v1),
        _span("t1", "b", 1, session="s1", app="support-bot", version=v1),
        _span("t1", "c", 2, session="s1", app="support-bot", version=v1),
        _span("t2", "a", 60, session="s1", app="support-bot", version=v2, model="gpt-4o-mini"),
        _span("t2", "b", 61, session="s1", app="support-bot", version=v2, model="gpt-4o-mini"),
        _span("t3", "a", 1440, session="s2", app="sql-agent", version=v1),
        _span("t4", "a", 2880, session="s3", app="sql-agent", version=v2, model="gpt-4o-mini"),
        _span("t4", "b", 2881, session="s3", app=HOSTILE_APP, version=v1),
        _span("t5", "a", 4000, session=None, app=None, version=v3, model="claude-3-5-sonnet"),
        _span("t5", "b", 4770, session=None, app="support-bot", version=None),
    ]


def bad_spans() -> list[dict]:
    return [
        _span("t9", "a", 10, session="s9", app="support-bot", version="x", tokens=-5),
        _span("t9", "b", 11, session="s9", app="support-bot", version="x", status="exploded"),
    ]


def to_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows)


def _add_grades(cur) -> None:
    rows = [  # grade_id, source, criterion, supersedes
        (1, "human", "correct", None), (2, "human", "helpful", None), (3, "human", "correct", 1),
        (4, "judge", "correct", None), (5, "judge", "correct", None),
        (6, "judge", "helpful", None), (7, "judge", "tone", None),
        (8, "canary", "correct", None),
    ]
    cur.executemany(
        "INSERT INTO grades (grade_id, target_type, target_id, source, criterion, value_number, "
        "supersedes, created_at) VALUES (?, 'span', 't1/a', ?, ?, 1, ?, TIMESTAMP '2025-03-05')",
        rows,
    )


def _add_job(cur) -> None:
    cur.execute(
        "INSERT INTO jobs (job_id, kind, status, progress, message, created_at) "
        "VALUES (nextval('job_seq'), 'score', 'running', 0.5, 'scoring 5 of 10 spans', "
        "TIMESTAMP '2025-03-05 09:00')"
    )


def seed_known_history(db: Path) -> Expected:
    """Fill a new database with the known history above; return what the page should show."""
    with open_store(db) as store:
        import_table(store, to_table(known_spans() + bad_spans()), source="test", origin="test")
        import_table(store, to_table(known_spans()[:2]), source="test", origin="test",
                     label="<again>")
        store.write(_add_grades)
        store.write(_add_job)
    return EXPECTED
