"""SQL execution accuracy: run the generated and the expected query on a known database in a
sandbox and compare what they return.

The sandbox: the database (a DuckDB or SQLite file) is copied to a private temporary folder
once per scorer and opened read-only on the copy. DuckDB runs with external access off (no
file functions, COPY, ATTACH or extension installs), extension autoloading off, a memory
cap, and the configuration locked so a query cannot turn any of it back on; only a single
SELECT statement is accepted. SQLite runs through an authorizer that allows reading and
functions only (no ATTACH, PRAGMA or writes; extension loading stays off). Each query has a
time limit (DuckDB is interrupted; SQLite's progress handler stops it) and a row limit.

Results are compared as multisets of rows (column names ignored, numbers to 6 decimals),
in order only when the expected query orders its result at the top level. A generated query
whose text is the expected query's (up to whitespace and a final semicolon) is right without
running it again: the database is read-only, so its result is the expected one. A generated
query that fails, times out or returns too many rows is wrong, with the error kept.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from goldenloop.errors import ExperimentError

VERSION = "1"
_ORDER_BY = re.compile(r"\border\s+by\b", re.I)
_SQLITE_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                   getattr(sqlite3, "SQLITE_RECURSIVE", 33)}


class QueryFailed(Exception):
    """A query the sandbox refused, or that failed, timed out or returned too many rows."""


@dataclass
class SqlScorer:
    database: str
    timeout_s: float = 5.0
    row_limit: int = 10_000

    def __post_init__(self) -> None:
        src = Path(self.database)
        if not src.is_file():
            raise ExperimentError(f"sql scorer: no database file {src.name!r}")
        with src.open("rb") as fh:
            head = fh.read(16)
        self.kind = "sqlite" if head.startswith(b"SQLite format 3") else "duckdb"
        self._dir = tempfile.TemporaryDirectory(prefix="goldenloop-sql-")
        copy = Path(self._dir.name) / src.name
        shutil.copyfile(src, copy)
        self._con = _open_duckdb(copy) if self.kind == "duckdb" else _open_sqlite(copy)
        self._lock = threading.Lock()  # one query at a time on the one connection
        self._expected: dict[str, tuple[list[tuple], bool] | str] = {}
        self._watchdog = _Watchdog(self._con) if self.kind == "duckdb" else None

    def scorer(self):
        from goldenloop.experiments.scoring import Scorer

        return Scorer("sql", VERSION, self.score_item, 1.0)

    def score_item(self, output: str, expected: str, item: dict[str, Any]):
        from goldenloop.experiments.scoring import Score

        ok, detail = self.compare(output, expected)
        return Score(None if ok is None else float(ok), ok, detail)

    def compare(self, generated: str, expected: str) -> tuple[bool | None, str | None]:
        """(right, why): None when the expected query itself cannot run."""
        want = self._expected.get(expected)
        if want is None:
            try:
                want = (self.run(expected), orders(expected))
            except QueryFailed as exc:
                want = f"the expected query fails: {exc}"
            self._expected[expected] = want
        if isinstance(want, str):
            return None, want
        generated = _strip_fence(generated)
        if _same_text(generated, expected):  # the expected query itself: its result is known
            return True, None
        try:
            got = self.run(generated)
        except QueryFailed as exc:
            return False, str(exc)
        rows, ordered = want
        same = got == rows if ordered else Counter(got) == Counter(rows)
        if same:
            return True, None
        return False, (f"different result: {len(got)} rows, expected {len(rows)}"
                       + (" (in this order)" if ordered else ""))

    def run(self, sql: str) -> list[tuple]:
        with self._lock:
            if self.kind == "duckdb":
                return _run_duckdb(self._con, sql, self.timeout_s, self.row_limit, self._watchdog)
            return _run_sqlite(self._con, sql, self.timeout_s, self.row_limit)

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
        self._con.close()
        self._dir.cleanup()


def _open_duckdb(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=True, config={
        "enable_external_access": False, "autoinstall_known_extensions": False,
        "autoload_known_extensions": False, "memory_limit": "1GB",
        "threads": min(4, os.cpu_count() or 1)})
    con.execute("SET lock_configuration = true")
    return con


def _open_sqlite(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    con.set_authorizer(lambda action, *_: sqlite3.SQLITE_OK if action in _SQLITE_ALLOWED
                       else sqlite3.SQLITE_DENY)
    return con


class _Watchdog(threading.Thread):
    """Interrupts the connection's query when its deadline passes: one thread per scorer
    polling every 20 ms (a timer thread per query costs more than most queries)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        super().__init__(name="goldenloop-sql-watchdog", daemon=True)
        self.con, self.deadline = con, None
        self.lock, self.done = threading.Lock(), threading.Event()
        self.start()

    def arm(self, seconds: float) -> None:
        with self.lock:
            self.deadline = time.monotonic() + seconds

    def disarm(self) -> None:
        with self.lock:  # after this, no interrupt can reach the next query
            self.deadline = None

    def run(self) -> None:
        while not self.done.wait(0.02):
            with self.lock:
                if self.deadline is not None and time.monotonic() > self.deadline:
                    self.con.interrupt()
                    self.deadline = None

    def stop(self) -> None:
        self.done.set()


def _run_duckdb(con: duckdb.DuckDBPyConnection, sql: str, timeout_s: float,
                row_limit: int, watchdog: _Watchdog) -> list[tuple]:
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryFailed(_short(exc)) from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise QueryFailed("only one SELECT statement is allowed")
    t0 = time.monotonic()
    watchdog.arm(timeout_s)
    try:
        reader = con.sql(sql).to_arrow_reader(4096)
        batches, n = [], 0
        for batch in reader:  # stop reading once past the limit
            batches.append(batch)
            n += batch.num_rows
            if n > row_limit:
                break
        table = pa.Table.from_batches(batches, schema=reader.schema)
    except duckdb.InterruptException:
        raise QueryFailed(f"timed out after {timeout_s:g} s") from None
    except duckdb.Error as exc:
        if time.monotonic() - t0 >= timeout_s:
            raise QueryFailed(f"timed out after {timeout_s:g} s") from None
        raise QueryFailed(_short(exc)) from None
    finally:
        watchdog.disarm()
    if table.num_rows > row_limit:
        raise QueryFailed(f"more than {row_limit:,} rows")
    return _arrow_rows(table)


def _arrow_rows(table: pa.Table) -> list[tuple]:
    """Rows as tuples, numbers normalised column-wise: decimals and floats to float rounded
    to 6 places (NaN as the text 'NaN', so two NaNs are equal), booleans to 0/1."""
    cols = []
    for col in table.columns:
        t = col.type
        if pa.types.is_decimal(t) or pa.types.is_floating(t):
            col = pc.round(col.cast(pa.float64()), 6)
            values = col.to_pylist()
            if pc.any(pc.is_nan(col)).as_py():
                values = ["NaN" if v is not None and v != v else v for v in values]
        elif pa.types.is_boolean(t):
            values = col.cast(pa.int8()).to_pylist()
        else:
            values = col.to_pylist()
        cols.append(values)
    return list(zip(*cols, strict=True)) if cols else [() for _ in range(table.num_rows)]


def _run_sqlite(con: sqlite3.Connection, sql: str, timeout_s: float, row_limit: int) -> list[tuple]:
    deadline = time.monotonic() + timeout_s
    con.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        cur = con.execute(sql)
        rows = cur.fetchmany(row_limit + 1)
    except sqlite3.Error as exc:
        if time.monotonic() > deadline:
            raise QueryFailed(f"timed out after {timeout_s:g} s") from None
        raise QueryFailed(_short(exc)) from None
    except (ValueError, sqlite3.Warning) as exc:  # several statements, or not SQL text
        raise QueryFailed(_short(exc)) from None
    finally:
        con.set_progress_handler(None, 0)
    if len(rows) > row_limit:
        raise QueryFailed(f"more than {row_limit:,} rows")
    return [_row(r) for r in rows]


def _row(row: tuple) -> tuple:
    return tuple(_value(v) for v in row)


def _value(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, Decimal | float):
        f = float(v)
        return round(f, 6) + 0.0 if f == f else "NaN"  # + 0.0: -0.0 and 0.0 are one value
    return v


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}" if str(exc) \
        else type(exc).__name__


def _same_text(a: str, b: str) -> bool:
    """The same query text, up to whitespace and a final semicolon."""
    return " ".join(a.rstrip().rstrip(";").split()) == " ".join(b.rstrip().rstrip(";").split())


def _strip_fence(text: str) -> str:
    m = re.match(r"^\s*```(?:sql)?\s*\n(.*?)\n\s*```\s*$", text, re.S | re.I)
    return (m.group(1) if m else text).strip()


def orders(sql: str) -> bool:
    """Whether the query orders its result: an ORDER BY outside parentheses, strings and
    comments (one inside a subquery or window does not order the result)."""
    depth, out, i = 0, [], 0
    while i < len(sql):
        c = sql[i]
        if c in "'\"":
            end = sql.find(c, i + 1)
            i = len(sql) if end < 0 else end + 1
            out.append(" ")
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = len(sql) if end < 0 else end + 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        out.append(c if depth == 0 and c not in "()" else " ")
        i += 1
    return bool(_ORDER_BY.search("".join(out)))
