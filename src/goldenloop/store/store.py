"""The Store: one DuckDB connection per process, a cursor per thread, one write lock.

DuckDB lets one process hold the file for writing. Threads share the connection through
their own cursors; every write goes through ``Store.transaction`` under one in-process lock,
with a short retry when DuckDB reports a write conflict.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

from goldenloop.errors import StoreLockedError
from goldenloop.store import owner
from goldenloop.store.migrations import LATEST, migrate

T = TypeVar("T")
_CONFLICT_RETRIES = 5
CHECKPOINT_THRESHOLD = "1GB"


class Store:
    """An open goldenloop database. Pass it in; never keep one in a module global."""

    def __init__(self, path: str | Path, *, read_only: bool = False, migrate_schema: bool = True):
        self.path = Path(path)
        self.read_only = read_only
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self.generation = 0  # bumped on every commit: tells the snapshot publisher what changed
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = _connect(self.path, read_only)
        if migrate_schema and not read_only:
            migrate(self.con.cursor())

    # -- reading -----------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB connections are not safe to share across threads)."""
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self.con.cursor()
            cur.execute("SET TimeZone = 'UTC'")
            self._local.cur = cur
        return cur

    def df(self, sql: str, params: list | dict | None = None) -> pd.DataFrame:
        return self.cursor().execute(sql, params or []).df()

    def rows(self, sql: str, params: list | dict | None = None) -> list[tuple]:
        return self.cursor().execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: list | dict | None = None) -> Any:
        # Read the result to the end: a half-read result keeps the cursor busy in DuckDB 2.
        rows = self.cursor().execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    # -- writing -----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction, under the process-wide write lock."""
        with self._write_lock:
            cur = self.con.cursor()
            cur.execute("SET TimeZone = 'UTC'")
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                cur.close()
                raise
            cur.execute("COMMIT")
            cur.close()
            self.generation += 1

    def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(cursor, ...)`` in a transaction, retrying briefly on a write conflict."""
        for attempt in range(_CONFLICT_RETRIES):
            try:
                with self.transaction() as cur:
                    return fn(cur, *args, **kwargs)
            except duckdb.TransactionException as exc:
                if "Conflict" not in str(exc) or attempt == _CONFLICT_RETRIES - 1:
                    raise
                time.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    @contextmanager
    def exclusive(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold the write lock without a transaction (checkpoints, snapshot copies)."""
        with self._write_lock:
            cur = self.con.cursor()
            try:
                yield cur
            finally:
                cur.close()

    def checkpoint(self) -> None:
        with self.exclusive() as cur:
            cur.execute("CHECKPOINT")

    def close(self) -> None:
        self.con.close()

    @property
    def schema_version(self) -> int:
        return int(self.scalar("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    @property
    def is_latest(self) -> bool:
        return self.schema_version == LATEST

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        msg = str(exc)
        if "lock" not in msg.lower():
            raise
        pid = owner.pid_from_lock_error(msg)
        raise StoreLockedError(str(path), pid, owner.process_command(pid) if pid else None) from exc
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        # DuckDB checkpoints whenever 16 MB of WAL have piled up, inside the commit that crossed
        # the mark, and a checkpoint's cost grows with the table: under a steady inflow of inbox
        # files that took a third of the owner's time. The owner checkpoints on its own schedule
        # instead (the snapshot publisher, every 10 s while things change; closing the
        # store), so the automatic one is only a backstop against a runaway WAL.
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
    return con
