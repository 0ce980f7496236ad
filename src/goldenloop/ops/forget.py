"""Deletion by end user: everything goldenloop holds about one user, session or trace.

The rule, stated once (docs/operations.md repeats it):
- the spans of the user's traces and sessions go, with their signals, end-user feedback,
  grades and corrections (human and judge alike: a grade of erased text is erased), queue
  items and claims, judge samples and failures, Argilla links, experiment items made from
  them, and quarantined rows whose raw text names the user or one of the traces;
- golden versions are never edited: the erased rows leave every version that held them (the
  bytes must go), each such version is marked in ``ops_golden_erasures``, and the latest
  version of each affected dataset is followed by a new version without them;
- inbox and spool files mentioning the id are deleted (already imported or failed files) or
  rewritten without the matching rows (files still waiting);
- the database file is rewritten (``Store.rewrite``) so no deleted bytes stay in free blocks,
  and the snapshot is published again from the rewritten file;
- the audit log keeps the fact (who asked, when, a hash of the id, counts), not the content.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from goldenloop.access import roles
from goldenloop.argilla_sync import erase as argilla_erase
from goldenloop.config import Paths
from goldenloop.errors import GoldenloopError
from goldenloop.ops import forget_files, forget_golden
from goldenloop.store import Store, audit, snapshot

SELECTORS = ("user_id", "session_id", "trace_id")
RETRY_ARGILLA = "argilla_retry"  # not an id: try again the Argilla deletions left pending


class ForgetError(GoldenloopError):
    """An erasure request that cannot be run (no id, an unknown selector)."""


@dataclass
class ForgetReport:
    erasure_id: str
    selector: str
    subject_hash: str
    removed: dict[str, int] = field(default_factory=dict)
    golden_versions_marked: list[int] = field(default_factory=list)
    golden_versions_made: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    argilla: dict[str, Any] = field(default_factory=dict)  # argilla_sync.erase.result_dict

    def to_dict(self) -> dict[str, Any]:
        return {"erasure_id": self.erasure_id, "selector": self.selector,
                "subject_hash": self.subject_hash, "removed": self.removed,
                "golden_versions_marked": self.golden_versions_marked,
                "golden_versions_made": self.golden_versions_made, "notes": self.notes,
                "argilla": self.argilla}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ForgetReport:
        return cls(d["erasure_id"], d["selector"], d["subject_hash"], d["removed"],
                   d["golden_versions_marked"], d["golden_versions_made"], d["notes"],
                   d.get("argilla") or {})

    def lines(self) -> list[str]:
        if self.selector == RETRY_ARGILLA:
            return ([f"erasure {self.erasure_id}: Argilla deletions left pending, tried again"]
                    + (argilla_erase.from_dict(self.argilla).lines() or ["  none was pending"]))
        out = [f"erasure {self.erasure_id}: {self.selector} with hash {self.subject_hash}"]
        out += [f"  {name}: {n:,} removed" for name, n in sorted(self.removed.items()) if n]
        if not any(self.removed.values()):
            out.append("  nothing held about it was found")
        out += argilla_erase.from_dict(self.argilla).lines()
        if self.golden_versions_marked:
            out.append(f"  golden versions marked as holding erased rows: "
                       f"{', '.join(map(str, self.golden_versions_marked))}; new versions made: "
                       f"{', '.join(map(str, self.golden_versions_made)) or 'none'}")
        out += [f"  note: {n}" for n in self.notes]
        return out


# (table, condition) deleted in this order; _k holds span keys, _t trace ids, _s session ids,
# _qi the queue items to delete (filled before those rows go).
_TARGET = """(span_key IN (SELECT k FROM _k)
              OR (target_type = 'trace' AND target_id IN (SELECT t FROM _t))
              OR (target_type = 'session' AND target_id IN (SELECT s FROM _s)))"""
_DELETES: tuple[tuple[str, str], ...] = (
    ("signals", "span_key IN (SELECT k FROM _k)"),
    ("grades", _TARGET),
    ("corrections", _TARGET),
    ("queue_claims", "queue_item_id IN (SELECT q FROM _qi)"),
    ("argilla_records", "queue_item_id IN (SELECT q FROM _qi)"),
    ("argilla_pulls", "queue_item_id IN (SELECT q FROM _qi)"),
    ("queue_items", "queue_item_id IN (SELECT q FROM _qi)"),
    ("judge_samples", _TARGET),
    ("judge_failures", _TARGET),
    ("experiment_items", "span_key IN (SELECT k FROM _k)"),
    ("feedback", """span_key IN (SELECT k FROM _k) OR trace_id IN (SELECT t FROM _t)
                    OR session_id IN (SELECT s FROM _s) OR user_id IN (SELECT u FROM _u)"""),
    ("quarantine", """EXISTS (SELECT 1 FROM (SELECT t AS x FROM _t UNION ALL SELECT s FROM _s
                              UNION ALL SELECT u FROM _u) ids WHERE contains(raw, ids.x))"""),
    ("spans", "span_key IN (SELECT k FROM _k)"),
)


def forget(store: Store, selector: str, value: str, *, requested_by: str | None = None,
           interface: str = "cli", rewrite: bool = True, erasure_id: str | None = None,
           spans: Any = None) -> ForgetReport:
    """Erase everything about ``selector = value`` from the store and the data folder, and
    from the span store ``spans`` when it is ClickHouse (``spanstore.erase``)."""
    requested_by = roles.guard(store, roles.Action.OPERATE, requested_by) or "cli"
    if selector == RETRY_ARGILLA:
        return retry_argilla(store, requested_by, erasure_id)
    if selector not in SELECTORS:
        raise ForgetError(f"unknown selector {selector!r}: use one of {', '.join(SELECTORS)}")
    if not value or not value.strip():
        raise ForgetError(f"an empty {selector} names nobody: nothing erased")
    report = ForgetReport(erasure_id or uuid.uuid4().hex[:12], selector, audit.subject_hash(value))
    paths = Paths(store.path)
    elsewhere = _span_store_ids(spans, selector, value)  # ClickHouse's spans of the subject
    ids: dict[str, set[str]] = {}
    scrubbed: list[int] = []  # the job row that held the id, when a server runs this

    def erase(cur: duckdb.DuckDBPyConnection) -> None:
        _collect(cur, selector, value, elsewhere)
        ids.update(_id_sets(cur))
        cur.execute(f"""CREATE TEMP TABLE _gk AS SELECT DISTINCT v.dataset_id, m.row_key
                        FROM golden_version_rows m JOIN golden_versions v USING (version_id)
                        WHERE m.row_hash IN {forget_golden.ERASED_HASHES}""")
        # Before the rows go: which records pushed to Argilla show them (deleted there below).
        in_argilla = argilla_erase.collect(cur, report.erasure_id)
        forget_golden.erase(cur, report, requested_by)
        for table, cond in _DELETES:
            n = cur.execute(f"DELETE FROM {table} WHERE {cond}").fetchall()[0][0]
            report.removed[table] = int(n) + in_argilla.get(table, 0)
        scrubbed.append(_scrub_own_job(cur, selector, value, report.erasure_id))
        _record(cur, report, requested_by, interface)
        for t in ("_k", "_t", "_s", "_u", "_qi", "_gk"):
            cur.execute(f"DROP TABLE {t}")

    store.write(erase)
    if elsewhere is not None:  # after the file's erasure is recorded; a failure here fails
        from goldenloop.spanstore import erase as span_erase  # the job, and a rerun finishes

        report.removed.update(span_erase.delete(spans, elsewhere, ids["trace_id"],
                                                ids["session_id"], ids["user_id"]))
    in_database = sum(report.removed.values()) + sum(scrubbed)
    report.argilla = argilla_erase.result_dict(argilla_erase.erase_pending(store, requested_by))
    report.removed.update(forget_files.scrub(paths, selector, value, ids))
    report.notes.append("backups taken before this erasure still hold the data: "
                        "erase or expire them by your backup policy")
    kept = sorted(p.name for p in paths.data_dir.glob(f"{paths.db.stem}.replaced-*.duckdb"))
    if kept:
        report.notes.append(f"databases kept aside by `goldenloop restore` may hold the data: "
                            f"delete {', '.join(kept)}")
    if rewrite and in_database:  # nothing deleted, no deleted bytes: no rewrite needed
        store.rewrite()
        if paths.snapshot.exists():
            snapshot.publish(store, paths.snapshot)
    _write_report(paths, report)
    return report


def retry_argilla(store: Store, by: str, erasure_id: str | None = None) -> ForgetReport:
    """Try again the deletions in Argilla that earlier erasures could not make (a server that
    was unreachable); reported like an erasure, with nothing erased here."""
    report = ForgetReport(erasure_id or uuid.uuid4().hex[:12], RETRY_ARGILLA, "-")
    report.argilla = argilla_erase.result_dict(argilla_erase.erase_pending(store, by))
    _write_report(Paths(store.path), report)
    return report


def _span_store_ids(spans: Any, selector: str, value: str) -> Any:
    if spans is None or spans.dialect == "duckdb":
        return None
    from goldenloop.spanstore import erase as span_erase

    return span_erase.collect(spans, selector, value)


def _collect(cur: duckdb.DuckDBPyConnection, selector: str, value: str, elsewhere: Any = None
             ) -> None:
    """Temp tables of what goes: the matching spans' traces and sessions, and every span of
    those (child spans without a user id carry the same conversation); with ``elsewhere``
    (what ClickHouse holds of the subject) its span keys, traces and sessions too."""
    cur.execute(f"""CREATE TEMP TABLE _seed AS SELECT span_key, trace_id, session_id
                    FROM spans WHERE {selector} = ?""", [value])
    if elsewhere is not None:
        cur.execute("""INSERT INTO _seed SELECT unnest($k::BIGINT[]), NULL, NULL
                       UNION ALL SELECT NULL, unnest($t::VARCHAR[]), NULL
                       UNION ALL SELECT NULL, NULL, unnest($s::VARCHAR[])""",
                    {"k": elsewhere.keys, "t": elsewhere.traces, "s": elsewhere.sessions})
    cur.execute("""CREATE TEMP TABLE _t AS SELECT DISTINCT trace_id AS t FROM _seed
                   WHERE trace_id IS NOT NULL""")
    cur.execute("""CREATE TEMP TABLE _s AS SELECT DISTINCT session_id AS s FROM _seed
                   WHERE session_id IS NOT NULL""")
    cur.execute("CREATE TEMP TABLE _u (u VARCHAR)")
    target = {"trace_id": "_t", "session_id": "_s", "user_id": "_u"}[selector]
    cur.execute(f"INSERT INTO {target} SELECT ? WHERE ? NOT IN (SELECT * FROM {target})",
                [value, value])
    cur.execute("""CREATE TEMP TABLE _k AS SELECT span_key AS k FROM spans
                   WHERE trace_id IN (SELECT t FROM _t) OR session_id IN (SELECT s FROM _s)
                   UNION SELECT span_key FROM _seed""")
    cur.execute(f"CREATE TEMP TABLE _qi AS SELECT queue_item_id AS q FROM queue_items WHERE {_TARGET}")
    cur.execute("DROP TABLE _seed")


def _id_sets(cur: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    return {name: {r[0] for r in cur.execute(f"SELECT * FROM {t}").fetchall()}
            for name, t in (("trace_id", "_t"), ("session_id", "_s"), ("user_id", "_u"))}


def _scrub_own_job(cur: duckdb.DuckDBPyConnection, selector: str, value: str, erasure_id: str
                   ) -> int:
    # The job that asked for this erasure holds the id in its parameters: keep only the hash.
    return cur.execute("""UPDATE jobs SET params = ?
                   WHERE kind = 'forget' AND json_extract_string(params, '$.value') = ?""",
                [json.dumps({"selector": selector, "subject_hash": audit.subject_hash(value),
                             "erasure_id": erasure_id}),
                 value]).fetchall()[0][0]


def _record(cur: duckdb.DuckDBPyConnection, report: ForgetReport, by: str, interface: str) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    cur.execute("INSERT INTO ops_erasures VALUES (?, ?, ?, ?, ?, ?)",
                [report.erasure_id, report.selector, report.subject_hash,
                 json.dumps(report.removed), by, now])
    audit.record(cur, by, "forget", f"erasure:{report.erasure_id}",
                 {"selector": report.selector, "subject_hash": report.subject_hash,
                  "removed": report.removed}, interface)


def report_folder(paths: Paths) -> Path:
    return paths.data_dir / "erasures"


def _write_report(paths: Paths, report: ForgetReport) -> None:
    folder = report_folder(paths)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{report.erasure_id}.json"
    tmp = folder / f".{report.erasure_id}.json.tmp"
    tmp.write_text(json.dumps(report.to_dict(), indent=2))
    os.replace(tmp, dest)
