"""Who owns the database file: the owner record beside it, and DuckDB's lock errors made readable."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

_PID_IN_LOCK_ERROR = re.compile(r"PID (\d+)")


@dataclass
class OwnerRecord:
    pid: int
    command: str
    started_at: float
    url: str | None = None
    spans: str | None = None  # where its spans live, without secrets (None: the file itself)

    def alive(self) -> bool:
        return psutil.pid_exists(self.pid)


def write_owner(path: Path, url: str | None = None, spans: str | None = None) -> OwnerRecord:
    rec = OwnerRecord(os.getpid(), process_command(os.getpid()) or "", time.time(), url, spans)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(rec)))
    os.replace(tmp, path)
    return rec


def read_owner(path: Path) -> OwnerRecord | None:
    """The running owner, or None when there is none (a stale record is ignored)."""
    try:
        rec = OwnerRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return rec if rec.alive() and rec.pid != os.getpid() else None


def clear_owner(path: Path) -> None:
    rec = None
    try:
        rec = OwnerRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return
    if rec.pid == os.getpid():
        path.unlink(missing_ok=True)


def process_command(pid: int) -> str | None:
    try:
        return " ".join(psutil.Process(pid).cmdline())[:200] or None
    except (psutil.Error, OSError):
        return None


def pid_from_lock_error(message: str) -> int | None:
    m = _PID_IN_LOCK_ERROR.search(message)
    return int(m.group(1)) if m else None
