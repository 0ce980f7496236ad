"""The Store: one DuckDB connection per process, a cursor per thread, one write lock.

DuckDB lets one process hold the file for writing. Threads share the connection through
their own cursors; every write goes through ``Store.transaction`` under one in-process lock,
with a short retry when DuckDB reports a write conflict.

A storage failure (the disk is full; DuckDB invalidated the database after a checkpoint could
not write) marks the store unavailable: writes are refused with ``StoreUnavailableError``
until ``recover()`` has reopened the connection and proved with a checkpoint that the
backlog fits on disk again (see ``store.health``).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from goldenloop.errors import StoreLockedError, StoreUnavailableError
from goldenloop.store import owner
from goldenloop.store.health import is_storage_failure
from goldenloop.store.migrations import Migrations, latest, migrate

if TYPE_CHECKING:  # pandas loads in about half a second: only for frames
    import pandas as pd

T = TypeVar("T")
_CONFLICT_RETRIES = 5
CHECKPOINT_THRESHOLD = "1GB"
_RECOVERY_HEADROOM = 8 << 20  # free bytes wanted beyond the write-ahead log before reopening


class Store:
    """An open goldenloop database. Pass it in; never keep one in a module global."""

    def __init__(self, path: str | Path, *, read_only: bool = False,
                 migrations: Migrations | None = None, migrate_schema: bool = True):
        """``migrations`` is the ordered list a writable store is migrated with; it is assembled
        above the features, so open a store through ``goldenloop.schema.open_store``."""
        if migrations is None and migrate_schema and not read_only:
            raise TypeError("a writable Store needs the schema's migrations: open it with "
                            "goldenloop.schema.open_store(path)")
        self.path = Path(path)
        self.migrations = migrations
        self.read_only = read_only
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self.generation = 0  # bumped on every commit: tells the snapshot publisher what changed
        self.unavailable: str | None = None  # why writes are refused (a storage failure)
        self._con_generation = 0  # bumped when the connection is reopened: cursors are stale
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = _connect(self.path, read_only)
            if migrations is not None and migrate_schema and not read_only:
                migrate(self.con.cursor(), migrations)
        except duckdb.Error as exc:  # a full disk at open: say so, not a traceback
            if not is_storage_failure(exc):
                raise
            raise StoreUnavailableError(str(exc).splitlines()[0][:300]) from exc

    # -- reading -----------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB connections are not safe to share across threads)."""
        cur = getattr(self._local, "cur", None)
        if cur is None or getattr(self._local, "con_generation", None) != self._con_generation:
            if self.con is None:
                raise StoreUnavailableError(self.unavailable or "the database is closed")
            cur = self.con.cursor()
            cur.execute("SET TimeZone = 'UTC'")
            self._local.cur, self._local.con_generation = cur, self._con_generation
        return cur

    def df(self, sql: str, params: list | dict | None = None) -> pd.DataFrame:
        with self._storage_guard():
            return self.cursor().execute(sql, params or []).df()

    def rows(self, sql: str, params: list | dict | None = None) -> list[tuple]:
        with self._storage_guard():
            return self.cursor().execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: list | dict | None = None) -> Any:
        # Read the result to the end: a half-read result keeps the cursor busy in DuckDB 2.
        with self._storage_guard():
            rows = self.cursor().execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    # -- writing -----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction, under the process-wide write lock."""
        with self._write_lock, self._storage_guard():
            cur = self._writable().cursor()
            try:
                cur.execute("SET TimeZone = 'UTC'")
                cur.execute("BEGIN TRANSACTION")
                try:
                    yield cur
                except BaseException:
                    # An invalidated database refuses the rollback too; the cause is raised.
                    with suppress(duckdb.Error):
                        cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            finally:
                with suppress(duckdb.Error):
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
        with self._write_lock, self._storage_guard():
            cur = self._writable().cursor()
            try:
                yield cur
            finally:
                with suppress(duckdb.Error):
                    cur.close()

    def checkpoint(self) -> None:
        with self.exclusive() as cur:
            cur.execute("CHECKPOINT")

    def rewrite(self) -> None:
        """Copy the database into a fresh file and reopen on it: a DuckDB file keeps deleted
        rows' bytes in free blocks until they are reused, and an erasure (ops.forget) must
        leave none. Readers on other threads get new cursors; one mid-query may fail."""
        with self._write_lock, self._storage_guard():
            con = self._writable()
            _retry_checkpoint(con)
            name = con.execute("SELECT current_database()").fetchall()[0][0]
            tmp = self.path.with_name(f".{self.path.name}.rewrite")
            tmp.unlink(missing_ok=True)
            con.execute(f"ATTACH '{_sql_text(tmp)}' AS goldenloop_rewrite")
            try:
                con.execute(f'COPY FROM DATABASE "{name}" TO goldenloop_rewrite')
            finally:
                con.execute("DETACH goldenloop_rewrite")
            self.close()
            self.con = None
            self._con_generation += 1
            # Checkpointed under the lock: the old log holds nothing the copy lacks, and replayed
            # against the new file it would corrupt it.
            self.path.with_name(self.path.name + ".wal").unlink(missing_ok=True)
            os.replace(tmp, self.path)
            self.con = _connect(self.path, self.read_only)
            self.generation += 1

    def close(self) -> None:
        if self.con is not None:
            with suppress(duckdb.Error):  # an invalidated database may refuse; the file is safe
                self.con.close()

    # -- storage failures --------------------------------------------------------------------
    @contextmanager
    def _storage_guard(self) -> Iterator[None]:
        """Turn a storage failure into ``StoreUnavailableError`` and remember it."""
        try:
            yield
        except StoreUnavailableError:
            raise
        except Exception as exc:
            if self.read_only or not is_storage_failure(exc):
                raise
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if self.unavailable is None:
                self.unavailable = first[:300]
            raise StoreUnavailableError(self.unavailable) from exc

    def _writable(self) -> duckdb.DuckDBPyConnection:
        if self.unavailable is not None or self.con is None:
            raise StoreUnavailableError(self.unavailable or "the database is closed")
        return self.con

    def recover(self, on_recovered: Callable[[duckdb.DuckDBPyConnection], Any] | None = None
                ) -> bool:
        """Accept writes again if the disk allows it; True when the store is available.

        Reopens the connection when DuckDB invalidated it (replaying its write-ahead log), and
        checkpoints to prove the backlog fits on disk. ``on_recovered(cursor)`` runs in one
        transaction before other writers are let in (the owner re-queues interrupted jobs).
        """
        with self._write_lock:
            if self.unavailable is None:
                return True
            if _free_bytes(self.path.parent) < _wal_bytes(self.path) + _RECOVERY_HEADROOM:
                return False
            try:
                self._checkpoint_or_reopen()
                if on_recovered is not None:
                    with self._raw_transaction() as cur:
                        on_recovered(cur)
            except duckdb.Error as exc:
                if not is_storage_failure(exc) and not isinstance(exc, duckdb.TransactionException):
                    raise
                return False  # still failing (or a reader blocks the checkpoint): next time
            self.unavailable = None
            self.generation += 1
            return True

    def _checkpoint_or_reopen(self) -> None:
        if self.con is not None:
            try:
                self.con.execute("CHECKPOINT")
                return
            except duckdb.Error as exc:
                if not isinstance(exc, duckdb.FatalException) and "invalidated" not in str(exc):
                    raise
            self.close()  # closes every cursor made from it too
            self.con = None
        self._con_generation += 1
        self.con = _connect(self.path, self.read_only)
        self.con.execute("CHECKPOINT")

    @contextmanager
    def _raw_transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        assert self.con is not None
        cur = self.con.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            yield cur
            cur.execute("COMMIT")
        except BaseException:
            with suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()

    @property
    def schema_version(self) -> int:
        return int(self.scalar("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    @property
    def is_latest(self) -> bool:
        if self.migrations is None:
            raise TypeError("is_latest needs the migrations the store was opened with")
        return self.schema_version == latest(self.migrations)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def _wal_bytes(db: Path) -> int:
    try:
        return db.with_name(db.name + ".wal").stat().st_size
    except OSError:
        return 0


def _retry_checkpoint(con: duckdb.DuckDBPyConnection, tries: int = 20) -> None:
    # A read still running on another cursor can make CHECKPOINT refuse; it ends quickly.
    for attempt in range(tries):
        try:
            con.execute("CHECKPOINT")
            return
        except duckdb.TransactionException:
            if attempt == tries - 1:
                raise
            time.sleep(0.05)


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


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
    # DuckDB's allocator (jemalloc) keeps the pages an import freed unless its background
    # threads purge them: without them the owner kept about 190 MB more after importing 200,000
    # spans (448 against 285 MB one second after; its buffer pool held 12 MB of it).
    con.execute("SET allocator_background_threads = true")
    return con
