"""The anomaly record: writing what detection found (update in place, extend, resolve, never
duplicate), reading the list, and status changes with their history.

A finding's fingerprint (metric|app|dimension|value|kind) names the series and the kind of
departure. A new finding updates the stored row of the same fingerprint whose window it
overlaps or continues (within ``JOIN_GAP``); otherwise it is a new row. A stored row that is
no longer found, or whose window ended before the last complete bucket, is resolved.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from goldenloop.access import roles
from goldenloop.errors import AnomalyError, AnomalyNotFoundError
from goldenloop.store import Store

SEVERITY_NAMES = {1: "low", 2: "medium", 3: "high"}
STATUSES = ("open", "acknowledged", "muted", "resolved")
KINDS = ("spike", "dip", "shift", "new_version", "new_failure")
JOIN_GAP = timedelta(hours=2)  # a finding this close to a stored window continues it


@dataclass
class Finding:
    """One anomaly as detection found it (before it is stored)."""

    metric: str
    app: str
    dimension: str | None
    value: str | None
    kind: str
    direction: str
    window_start: datetime
    window_end: datetime
    baseline: float | None
    baseline_low: float | None
    baseline_high: float | None
    observed: float | None
    n: int
    severity: int
    score: float
    detector: str
    detector_version: str
    description: str
    details: dict = field(default_factory=dict)
    example_span_keys: list[int] = field(default_factory=list)
    ongoing: bool = False  # reaches the last complete bucket: not ended yet

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.metric, self.app, self.dimension, self.value, self.kind)


@dataclass(frozen=True)
class Anomaly:
    anomaly_id: int
    fingerprint: str
    metric: str
    app: str
    dimension: str | None
    value: str | None
    kind: str
    direction: str
    window_start: datetime
    window_end: datetime
    baseline: float | None
    baseline_low: float | None
    baseline_high: float | None
    observed: float | None
    n: int | None
    severity: int
    score: float | None
    detector: str
    detector_version: str
    example_span_keys: list[int]
    description: str
    details: dict
    status: str
    muted_until: datetime | None
    status_by: str | None
    status_at: datetime | None
    first_detected_at: datetime
    last_detected_at: datetime
    resolved_at: datetime | None

    @property
    def severity_name(self) -> str:
        return SEVERITY_NAMES.get(self.severity, str(self.severity))


COLUMNS = tuple(f.name for f in fields(Anomaly))


def fingerprint(metric: str, app: str, dimension: str | None, value: str | None,
                kind: str) -> str:
    return "|".join([metric, app or "", dimension or "", value or "", kind])


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# -- writing what detection found --------------------------------------------------------------
def store_findings(cur: duckdb.DuckDBPyConnection, found: list[Finding], *, since: datetime,
                   until: datetime, now: datetime) -> tuple[int, int, int]:
    """Insert new findings, update the rows they continue, resolve rows in ``[since, until)``
    that were not found again or have ended. Returns (added, updated, resolved)."""
    added = updated = 0
    touched: set[int] = set()
    for f in found:
        row = _matching_row(cur, f)
        if row is None:
            touched.add(_insert(cur, f, now))
            added += 1
        else:
            _update(cur, row, f, now)
            touched.add(row)
            updated += 1
    resolved = _resolve_rest(cur, touched, since, until, now)
    return added, updated, resolved


def _matching_row(cur, f: Finding) -> int | None:
    rows = cur.execute(
        """SELECT anomaly_id FROM anomalies
           WHERE fingerprint = ? AND window_start <= ? AND window_end >= ?
           ORDER BY (status = 'resolved'), window_end DESC LIMIT 1""",
        [f.fingerprint, f.window_end + JOIN_GAP, f.window_start - JOIN_GAP],
    ).fetchall()
    return int(rows[0][0]) if rows else None


def _values(f: Finding) -> list[Any]:
    return [f.baseline, f.baseline_low, f.baseline_high, f.observed, int(f.n), int(f.severity),
            float(f.score), f.detector, f.detector_version, [int(k) for k in f.example_span_keys],
            f.description, json.dumps(f.details, default=str)]


def _insert(cur, f: Finding, now: datetime) -> int:
    status = "open" if f.ongoing else "resolved"
    aid = int(cur.execute("SELECT nextval('anomaly_id_seq')").fetchall()[0][0])
    cur.execute(
        """INSERT INTO anomalies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                  ?, ?, ?, ?, ?, NULL, 'detection', ?, ?, ?, ?)""",
        [aid, f.fingerprint, f.metric, f.app, f.dimension, f.value, f.kind, f.direction,
         f.window_start, f.window_end, *_values(f), status, now, now, now,
         None if f.ongoing else now],
    )
    _event(cur, aid, status, "detection", "detected" if f.ongoing else "detected, already ended",
           now)
    return aid


def _update(cur, aid: int, f: Finding, now: datetime) -> None:
    (status, muted_until), = cur.execute(
        "SELECT status, muted_until FROM anomalies WHERE anomaly_id = ?", [aid]).fetchall()
    new_status = status
    if f.ongoing and status == "resolved":
        new_status = "open"  # it came back within the join gap: the same episode continues
    elif f.ongoing and status == "muted" and muted_until is not None and muted_until <= now:
        new_status = "open"
    elif not f.ongoing and status != "resolved":
        new_status = "resolved"
    cur.execute(
        """UPDATE anomalies SET window_start = least(window_start, ?),
               window_end = greatest(window_end, ?), direction = ?, baseline = ?,
               baseline_low = ?, baseline_high = ?, observed = ?, n = ?,
               severity = ?, score = ?, detector = ?, detector_version = ?,
               example_span_keys = ?, description = ?, details = ?, last_detected_at = ?,
               status = ?, resolved_at = CASE WHEN ? = 'resolved' THEN coalesce(resolved_at, ?)
                                              ELSE NULL END
           WHERE anomaly_id = ?""",
        [f.window_start, f.window_end, f.direction, *_values(f), now, new_status, new_status,
         now, aid],
    )
    if new_status != status:
        _event(cur, aid, new_status, "detection",
               "ended" if new_status == "resolved" else "detected again", now)


def _resolve_rest(cur, touched: set[int], since: datetime, until: datetime,
                  now: datetime) -> int:
    """Rows inside the range just examined that this run did not find again: they ended."""
    rows = cur.execute(
        """SELECT anomaly_id FROM anomalies
           WHERE status <> 'resolved' AND window_end > ? AND window_start < ?
             AND NOT list_contains(?, anomaly_id)""",
        [since, until, sorted(touched)],
    ).fetchall()
    for (aid,) in rows:
        cur.execute("UPDATE anomalies SET status = 'resolved', resolved_at = ? "
                    "WHERE anomaly_id = ?", [now, aid])
        _event(cur, aid, "resolved", "detection", "not found again", now)
    return len(rows)


def _event(cur, aid: int, status: str, by: str, note: str | None, at: datetime) -> None:
    cur.execute('INSERT INTO anomaly_events (anomaly_id, "at", status, "by", note) '
                "VALUES (?, ?, ?, ?, ?)", [aid, at, status, by, note])


# -- reading -----------------------------------------------------------------------------------
def list_anomalies(store: Store, *, status: str | Sequence[str] | None = None,
                   apps: Sequence[str] = (), metrics: Sequence[str] = (),
                   since: datetime | None = None, min_severity: int | None = None,
                   limit: int = 500) -> pd.DataFrame:
    """Anomalies, most severe first, then most recent. ``status`` is one status or several;
    ``since`` keeps anomalies whose window ends after it."""
    statuses = [status] if isinstance(status, str) else list(status or [])
    for s in statuses:
        if s not in STATUSES:
            raise AnomalyError(f"unknown status {s!r}: choose one of {', '.join(STATUSES)}")
    cols = ", ".join(c for c in COLUMNS)
    df = store.df(
        f"""SELECT {cols} FROM anomalies
            WHERE (len($statuses) = 0 OR list_contains($statuses, status))
              AND (len($apps) = 0 OR list_contains($apps, app))
              AND (len($metrics) = 0 OR list_contains($metrics, metric))
              AND ($since IS NULL OR window_end > $since)
              AND ($min_sev IS NULL OR severity >= $min_sev)
            ORDER BY severity DESC, window_end DESC, anomaly_id DESC
            LIMIT $limit""",
        {"statuses": statuses, "apps": list(apps), "metrics": list(metrics),
         "since": since, "min_sev": min_severity, "limit": int(limit)},
    )
    df["severity_name"] = df["severity"].map(SEVERITY_NAMES)
    return df


def get_anomaly(store: Store, anomaly_id: int) -> Anomaly:
    rows = store.rows(f"SELECT {', '.join(COLUMNS)} FROM anomalies WHERE anomaly_id = ?",
                      [int(anomaly_id)])
    if not rows:
        raise AnomalyNotFoundError(f"no anomaly with id {anomaly_id}")
    values = dict(zip(COLUMNS, rows[0], strict=True))
    values["details"] = json.loads(values["details"]) if values["details"] else {}
    values["example_span_keys"] = list(values["example_span_keys"] or [])
    return Anomaly(**values)


def anomaly_history(store: Store, anomaly_id: int) -> pd.DataFrame:
    """Status changes of one anomaly, oldest first: at, status, by, note."""
    return store.df('SELECT "at", status, "by", note FROM anomaly_events '
                    'WHERE anomaly_id = ? ORDER BY "at", status', [int(anomaly_id)])


def open_summary(store: Store) -> pd.DataFrame:
    """Anomalies needing attention (open, or muted past their time) by app and severity:
    columns app, severity, severity_name, anomalies, latest (the newest window end)."""
    df = store.df(
        """SELECT app, severity, count(*) AS anomalies, max(window_end) AS latest
           FROM anomalies
           WHERE status = 'open' OR (status = 'muted' AND muted_until <= now()::TIMESTAMP)
           GROUP BY ALL ORDER BY severity DESC, anomalies DESC, app""")
    df.insert(2, "severity_name", df["severity"].map(SEVERITY_NAMES))
    return df


# -- status changes ------------------------------------------------------------------------------
def set_status(store: Store, anomaly_id: int, status: str, *, by: str,
               muted_until: datetime | None = None, note: str | None = None) -> Anomaly:
    """Acknowledge, mute until a time, reopen, or resolve by hand; the change is kept in
    ``anomaly_events``."""
    if status not in STATUSES:
        raise AnomalyError(f"unknown status {status!r}: choose one of {', '.join(STATUSES)}")
    if not (by or "").strip():
        raise AnomalyError("say who changes the status")
    by = roles.guard(store, roles.Action.MANAGE_ALERTS, by)
    now = utcnow()
    if status == "muted" and (muted_until is None or muted_until <= now):
        raise AnomalyError("muting needs a time in the future to mute until")
    if status != "muted":
        muted_until = None

    def write(cur) -> None:
        if not cur.execute("SELECT 1 FROM anomalies WHERE anomaly_id = ?",
                           [int(anomaly_id)]).fetchall():
            raise AnomalyNotFoundError(f"no anomaly with id {anomaly_id}")
        cur.execute(
            """UPDATE anomalies SET status = ?, muted_until = ?, status_by = ?, status_at = ?,
                   resolved_at = CASE WHEN ? = 'resolved' THEN ? ELSE NULL END
               WHERE anomaly_id = ?""",
            [status, muted_until, by.strip(), now, status, now, int(anomaly_id)])
        text = note if status != "muted" else f"muted until {muted_until:%Y-%m-%d %H:%M}" + (
            f"; {note}" if note else "")
        _event(cur, int(anomaly_id), status, by.strip(), text, now)

    store.write(write)
    return get_anomaly(store, anomaly_id)
