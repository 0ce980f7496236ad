"""Snapshot publishing: a consistent copy of the database that other processes can read.

DuckDB lets no other process open the live file, not even read-only. The owner checkpoints
(so the file holds every committed row and the write-ahead log is empty), copies the file
under the write lock, and renames the copy into place, so readers never see a half copy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from goldenloop.store.store import Store

_CHECKPOINT_TRIES = 20


def publish(store: Store, dest: Path) -> float:
    """Write ``dest`` atomically; return the seconds it took."""
    t0 = time.perf_counter()
    tmp = dest.with_name(dest.name + ".tmp")
    try:
        with store.exclusive() as cur:
            _checkpoint(cur)
            _copy_in_child(store.path, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a half copy on a full disk would starve the database
        raise
    os.replace(tmp, dest)
    return time.perf_counter() - t0


def _checkpoint(cur: duckdb.DuckDBPyConnection) -> None:
    # A read still running on another cursor can make CHECKPOINT refuse; it ends quickly.
    for attempt in range(_CHECKPOINT_TRIES):
        try:
            cur.execute("CHECKPOINT")
            return
        except duckdb.TransactionException:
            if attempt == _CHECKPOINT_TRIES - 1:
                raise
            time.sleep(0.05)


def _copy_in_child(src: Path, dst: Path) -> None:
    # DuckDB guards the file with a POSIX record lock, and POSIX drops every lock a process
    # holds on a file when that process closes *any* descriptor of it. Copying in this process
    # would silently unlock the live database for other processes; a child's close does not.
    code = "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])"
    subprocess.run([sys.executable, "-c", code, str(src), str(dst)], check=True,
                   capture_output=True, timeout=600)


def age_seconds(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None


def open_snapshot(path: Path) -> Store:
    return Store(path, read_only=True, migrate_schema=False)
