"""Whether the owner's store accepts writes: storage failures told apart from bad data, and
the status file that tells other processes (the CLI) about it.

A full disk fails DuckDB in two ways. A commit whose write-ahead log cannot grow fails
(``TransactionException``) and the database stays usable; a checkpoint that cannot write
the file is fatal (``FatalException``): DuckDB invalidates the database, and every later
call on any connection to it fails until it is closed and opened again. Both are failures of
the machine, not of the data, so what failed must be retried once space returns.

The status file (``<db>.status.json``) is written at full size when the server starts and
then rewritten in place, so saying "writes paused" needs no new disk block on a full disk.
"""

from __future__ import annotations

import errno
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

_MARKERS = (
    "no space left on device",
    "disk quota exceeded",
    "database has been invalidated",
    "file too large",
)
_STATUS_SIZE = 4096  # the status file's fixed size: rewritten in place, never grown


def is_storage_failure(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause) says the disk failed the write, not the data."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 5:
        if isinstance(cur, OSError) and cur.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return True
        if type(cur).__name__ == "FatalException":  # duckdb.FatalException: invalidated
            return True
        if any(m in str(cur).lower() for m in _MARKERS):
            return True
        cur, seen = cur.__cause__ or cur.__context__, seen + 1
    return False


def is_storage_reason(text: str) -> bool:
    """True for a failure message (a ``failed/`` reason file) written for a storage failure."""
    low = text.lower()
    return any(m in low for m in _MARKERS) or "not accepting writes" in low


@dataclass
class Status:
    state: str  # "ok", "degraded" (writes go on; the inbox backs up) or "paused"
    reason: str | None
    since: float
    pid: int

    @property
    def paused(self) -> bool:
        return self.state == "paused"


def status_path(db: Path) -> Path:
    return db.with_name(db.name + ".status.json")


def write_status(db: Path, reason: str | None, *, create: bool = False,
                 state: str | None = None) -> bool:
    """Record whether writes are paused (or the owner ``degraded``, with ``state``); False when
    the file could not be written."""
    status = Status(state or ("paused" if reason else "ok"), reason, time.time(), os.getpid())
    text = json.dumps(asdict(status))[: _STATUS_SIZE - 1]
    data = text.encode().ljust(_STATUS_SIZE, b" ")
    path = status_path(db)
    try:
        if create or not path.exists():
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        else:
            # In place, same size: the blocks are already allocated, so a full disk cannot
            # refuse it (a new file could not be created there).
            with open(path, "r+b") as fh:
                fh.write(data)
        return True
    except OSError:
        return False


def read_status(db: Path, owner_pid: int | None = None) -> Status | None:
    """The running owner's status, or None when there is none or it belongs to another pid."""
    for _ in range(3):  # an in-place rewrite may be read half-way: read again
        try:
            status = Status(**json.loads(status_path(db).read_text()))
        except OSError:
            return None
        except (ValueError, TypeError):
            time.sleep(0.01)
            continue
        if owner_pid is not None and status.pid != owner_pid:
            return None
        return status
    return None


def clear_status(db: Path) -> None:
    status_path(db).unlink(missing_ok=True)
