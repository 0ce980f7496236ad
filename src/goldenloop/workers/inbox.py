"""The inbox: spool files (data) and job files (commands) that other processes drop into
``data/inbox/``, imported by the owner.

Producers write under a temporary name (a leading dot or a ``.tmp``/``.part`` suffix) and
rename when complete, so a file seen here is whole. Each file is imported in one transaction
that also records its content hash in the import log; only then is it moved to ``done/``.
A crash between commit and move leaves the file in place, and the hash makes the next pass
move it without importing it again. A file that fails goes to ``failed/`` with a
``.reason.txt`` beside it; nothing is deleted. A file that failed because the disk did (the
store refused the write) stays in the inbox instead, and the watcher waits while the store
is unavailable; files set aside in ``failed/`` for such a reason are put back by
``requeue_storage_failures`` once the store recovers. Feedback spool files (``*.feedback.parquet``,
from the SDK's ``feedback()``) go to the feedback table, not through the span import.

Spans and feedback go to the span store the server was started with (``spanstore``: the
database file, or ClickHouse); the import log, the quarantine and job files stay in the
database file. While ClickHouse cannot be reached, files wait in the inbox.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from goldenloop.config import Paths
from goldenloop.errors import GoldenloopError, JobError, StoreUnavailableError
from goldenloop.ingest import ImportOptions
from goldenloop.ingest.loader import file_hash
from goldenloop.spanstore import SpanStore
from goldenloop.spool import is_feedback
from goldenloop.store import Store, audit
from goldenloop.store import imports as import_sql
from goldenloop.store.health import is_storage_failure, is_storage_reason
from goldenloop.workers.kinds import parse_job
from goldenloop.workers.loop import Loop
from goldenloop.workers.submit import queue_in

log = logging.getLogger("goldenloop.inbox")
DATA_SUFFIXES = (".parquet", ".jsonl", ".csv", ".json")
JOB_SUFFIX = ".job.json"


def pending_files(inbox: Path) -> list[Path]:
    """Complete files waiting in the inbox, oldest first."""
    out = []
    for p in inbox.iterdir():
        name = p.name
        if not p.is_file() or name.startswith(".") or name.endswith((".tmp", ".part")):
            continue
        if name.endswith(JOB_SUFFIX) or name.endswith(DATA_SUFFIXES):
            out.append(p)
    return sorted(out, key=lambda p: (p.stat().st_mtime, p.name))


def process_file(store: Store, paths: Paths, p: Path, spans: SpanStore | None = None) -> str:
    """Import one inbox file into ``spans`` (the database file itself when None) and move it;
    return 'done', 'skipped', 'failed' or 'paused' (the disk failed the write, or the span
    store cannot be reached: the file stays in the inbox for the next pass)."""
    from goldenloop.spanstore.duckdb_spans import DuckDBSpanStore

    try:
        with audit.interface("inbox"):
            return _process(store, paths, p, spans or DuckDBSpanStore(store))
    except StoreUnavailableError as exc:
        log.warning("inbox %s: left in the inbox, the store refuses writes: %s", p.name, exc.reason)
        return "paused"
    except _SpanStoreDown as exc:
        log.warning("inbox %s: left in the inbox, the span store cannot be reached: %s",
                    p.name, str(exc.__cause__).splitlines()[0][:300])
        return "paused"


class _SpanStoreDown(Exception):
    """ClickHouse refused the connection or timed out: not the file's fault."""


def _unreachable(exc: Exception) -> bool:
    try:
        from clickhouse_connect.driver.exceptions import OperationalError
    except ImportError:  # no ClickHouse client: the span store is the database file
        return False
    return isinstance(exc, OperationalError)


def import_spans(store: Store, spans: SpanStore, p: Path) -> None:
    """Import one span file into the span store (kill tests stop the owner here)."""
    from goldenloop.spanstore.ingest import import_into

    import_into(store, spans, p, ImportOptions(origin="inbox"))


def _process(store: Store, paths: Paths, p: Path, spans: SpanStore) -> str:
    from goldenloop.spanstore.feedback import import_feedback

    digest = file_hash(p)
    if store.write(import_sql.committed_hash, digest) is not None:
        _move(p, paths.inbox_done)  # committed before a crash, not yet moved
        return "skipped"
    try:
        if p.name.endswith(JOB_SUFFIX):
            _queue_job(store, p, digest)
        elif is_feedback(p):
            import_feedback(store, spans, p, digest)
        else:
            import_spans(store, spans, p)
    except StoreUnavailableError:
        raise
    except Exception as exc:  # one bad file must never block the inbox: set it aside
        if _unreachable(exc):  # ClickHouse, not the file: keep it for a retry
            raise _SpanStoreDown() from exc
        if is_storage_failure(exc):  # the disk, not the file: keep it for a retry
            raise StoreUnavailableError(str(exc).splitlines()[0][:300]) from exc
        if not isinstance(exc, GoldenloopError | ValueError | OSError):
            log.exception("inbox %s: unexpected failure", p.name)
        store.write(import_sql.record_failure, str(p), digest, None, "inbox", str(exc))
        _fail(p, paths.inbox_failed, str(exc))
        return "failed"
    _move(p, paths.inbox_done)
    return "done"


def _queue_job(store: Store, p: Path, digest: str) -> None:
    try:
        spec = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise JobError(f"job file {p.name}: not JSON ({exc})") from None
    if not isinstance(spec, dict) or "kind" not in spec:
        raise JobError(f"job file {p.name}: holds {{\"kind\": ..., \"params\": {{...}}}}")
    job = parse_job(spec["kind"], spec.get("params"), f"job file {p.name}")
    origin = spec.get("origin")
    origin = origin if isinstance(origin, str) and origin else "cli"

    def queue(cur) -> None:
        queue_in(cur, job, origin)
        import_sql.start_committed(cur, str(p), digest, "job", "inbox")

    store.write(queue)


def _move(p: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / p.name
    if dest.exists():
        dest = folder / f"{p.stem}.{os.getpid()}.{int(p.stat().st_mtime_ns)}{p.suffix}"
    os.replace(p, dest)
    return dest


def _fail(p: Path, folder: Path, reason: str) -> None:
    dest = _move(p, folder)
    dest.with_name(dest.name + ".reason.txt").write_text(reason + "\n")


def requeue_storage_failures(paths: Paths) -> int:
    """Put back into the inbox the files set aside in ``failed/`` because the disk failed
    (their reason file says so), so they are imported once the store accepts writes again.
    Files that failed for their content stay where they are. Returns how many moved."""
    moved = 0
    if not paths.inbox_failed.is_dir():
        return 0
    for reason in sorted(paths.inbox_failed.glob("*.reason.txt")):
        data = reason.with_name(reason.name[: -len(".reason.txt")])
        try:
            if not data.is_file() or not is_storage_reason(reason.read_text(errors="replace")):
                continue
            os.replace(data, paths.inbox / data.name)
            reason.unlink()
        except OSError as exc:
            log.warning("inbox: cannot put %s back for a retry: %s", data.name, exc)
            continue
        moved += 1
    return moved


class InboxWatcher(Loop):
    interval = 1.0

    def __init__(self, store: Store, paths: Paths, spans: SpanStore | None = None):
        super().__init__("goldenloop-inbox")
        self.store, self.paths, self.spans = store, paths, spans

    def tick(self) -> bool:
        if self.store.unavailable is not None:
            return False  # the guard reopens the store; the files wait where they are
        files = pending_files(self.paths.inbox)
        for p in files[:50]:
            outcome = process_file(self.store, self.paths, p, self.spans)
            log.info("inbox %s: %s", p.name, outcome)
            if outcome == "paused":
                return False
        return len(files) > 50
