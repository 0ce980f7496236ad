"""The operator's view: what the Operations page and the health status file say about the
store's files, the inbox, the job queue and the disk; and the retry of failed inbox files."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from goldenloop import __version__
from goldenloop.config import Paths
from goldenloop.errors import GoldenloopError
from goldenloop.store import Store, health, snapshot
from goldenloop.workers.inbox import pending_files

# The inbox is "backed up" when this many files wait, or the oldest has waited this long: the
# owner normally takes a file within seconds.
BACKLOG_FILES = 200
BACKLOG_SECONDS = 300.0


@dataclass
class InboxState:
    pending: int
    oldest_seconds: float | None
    failed: list[str] = field(default_factory=list)

    @property
    def backed_up(self) -> bool:
        return self.pending >= BACKLOG_FILES or (self.oldest_seconds or 0) >= BACKLOG_SECONDS


@dataclass
class OperationsStatus:
    version: str
    db_bytes: int | None
    wal_bytes: int | None
    snapshot_age_s: float | None
    disk_free_bytes: int | None
    disk_total_bytes: int | None
    inbox: InboxState
    jobs_queued: int
    jobs_running: int
    health: str  # ok, degraded or paused
    reasons: list[str]


def _size(p: Path) -> int | None:
    try:
        return p.stat().st_size
    except OSError:
        return None


def _wal_size(db: Path) -> int | None:
    """The write-ahead log's size: 0 when DuckDB has none (it removes the file at each
    checkpoint), unknown only when the database itself cannot be read."""
    wal = db.with_name(db.name + ".wal")
    return _size(wal) if wal.exists() else (0 if db.exists() else None)


def inbox_state(paths: Paths, now: float | None = None) -> InboxState:
    now = time.time() if now is None else now
    try:
        files = pending_files(paths.inbox) if paths.inbox.is_dir() else []
    except OSError:
        files = []
    ages = []
    for p in files:
        try:
            ages.append(now - p.stat().st_mtime)
        except OSError:
            continue
    failed = []
    if paths.inbox_failed.is_dir():
        failed = sorted(p.name for p in paths.inbox_failed.iterdir()
                        if p.is_file() and not p.name.endswith(".reason.txt"))
    return InboxState(len(files), max(ages) if ages else None, failed)


def health_of(inbox: InboxState, unavailable: str | None) -> tuple[str, list[str]]:
    """``paused`` when the store refuses writes, ``degraded`` when the inbox backs up."""
    if unavailable:
        return "paused", [f"the store refuses writes: {unavailable}"]
    if inbox.backed_up:
        oldest = f", the oldest for {inbox.oldest_seconds:.0f} s" if inbox.oldest_seconds else ""
        return "degraded", [f"the inbox backs up: {inbox.pending:,} files wait{oldest}"]
    return "ok", []


def operations_status(store: Store, paths: Paths) -> OperationsStatus:
    inbox = inbox_state(paths)
    jobs = dict(store.rows("SELECT status, count(*) FROM jobs WHERE status IN "
                           "('queued', 'running') GROUP BY ALL"))
    try:
        disk = shutil.disk_usage(paths.data_dir)
        free, total = disk.free, disk.total
    except OSError:
        free = total = None
    state, reasons = health_of(inbox, store.unavailable)
    return OperationsStatus(
        __version__, _size(paths.db), _wal_size(paths.db),
        snapshot.age_seconds(paths.snapshot), free, total, inbox, int(jobs.get("queued", 0)),
        int(jobs.get("running", 0)), state, reasons)


def write_health(paths: Paths, store: Store) -> bool:
    """Write the status file other processes read (``store.health``) with today's state."""
    state, reasons = health_of(inbox_state(paths), store.unavailable)
    return health.write_status(paths.db, "; ".join(reasons) or None, state=state)


def failed_reasons(paths: Paths, names: list[str]) -> list[str]:
    """Why each failed inbox file failed (the reason file the owner wrote beside it)."""
    out = []
    for name in names:
        try:
            out.append((paths.inbox_failed / f"{name}.reason.txt").read_text(errors="replace")[:500])
        except OSError:
            out.append("")
    return out


def retry_failed(paths: Paths, name: str) -> Path:
    """Put a failed inbox file back into the inbox for another try (its reason file goes)."""
    src = paths.inbox_failed / name
    if "/" in name or name.startswith(".") or not src.is_file():
        raise GoldenloopError(f"no failed inbox file named {name!r}")
    dest = paths.inbox / name
    if dest.exists():
        raise GoldenloopError(f"{name} is already waiting in the inbox")
    os.replace(src, dest)
    src.with_name(src.name + ".reason.txt").unlink(missing_ok=True)
    return dest
