"""SQL of the import log and the quarantine."""

from __future__ import annotations

import duckdb

from goldenloop.store import audit


def start(cur: duckdb.DuckDBPyConnection, file: str, digest: str, fmt: str, origin: str) -> int:
    cur.execute(
        """INSERT INTO import_log (import_id, file, content_hash, format, origin, status, started_at)
           VALUES (nextval('import_seq'), ?, ?, ?, ?, 'running', now()::TIMESTAMP)
           RETURNING import_id""",
        [file, digest, fmt, origin],
    )
    return int(cur.fetchone()[0])


def finish(cur: duckdb.DuckDBPyConnection, import_id: int, counts: dict[str, int],
           unknown_price: int) -> None:
    cur.execute(
        """UPDATE import_log SET status = 'committed', rows_read = ?, imported = ?,
                  duplicates = ?, quarantined = ?, unknown_price = ?, conflicts = ?, notes = ?,
                  finished_at = now()::TIMESTAMP
           WHERE import_id = ?""",
        [counts["rows_read"], counts["imported"], counts["duplicates"], counts["quarantined"],
         unknown_price, counts.get("conflicts", 0), counts.get("notes") or None, import_id],
    )
    # One audit entry per committed import, in its transaction; the file's name, not its path.
    origin, file, fmt = cur.execute("SELECT origin, file, format FROM import_log WHERE import_id = ?",
                                    [import_id]).fetchall()[0]
    audit.record(cur, audit.acting_user() or origin or "import", "import", f"import:{import_id}",
                 {"file": str(file or "").replace("\\", "/").rsplit("/", 1)[-1], "format": fmt,
                  "imported": counts["imported"], "quarantined": counts["quarantined"]})


def record_failure(cur: duckdb.DuckDBPyConnection, file: str, digest: str | None, fmt: str | None,
                   origin: str, message: str) -> None:
    cur.execute(
        """INSERT INTO import_log (import_id, file, content_hash, format, origin, status, message,
                                   started_at, finished_at)
           VALUES (nextval('import_seq'), ?, ?, ?, ?, 'failed', ?, now()::TIMESTAMP,
                   now()::TIMESTAMP)""",
        [file, digest, fmt, origin, message[:2000]],
    )


def committed_hash(cur: duckdb.DuckDBPyConnection, digest: str) -> int | None:
    """The import that already committed a file with this content, if any."""
    cur.execute(
        "SELECT min(import_id) FROM import_log WHERE content_hash = ? AND status = 'committed'",
        [digest],
    )
    row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None else None


def first_bad_rows(cur: duckdb.DuckDBPyConnection, import_id: int,
                   limit: int = 10) -> list[tuple[int, str, str]]:
    cur.execute(
        "SELECT row_number, field, reason FROM quarantine WHERE import_id = ? "
        "ORDER BY row_number LIMIT ?",
        [import_id, limit],
    )
    return [(int(r), f, m) for r, f, m in cur.fetchall()]


def recent(cur: duckdb.DuckDBPyConnection, limit: int = 50):
    """Recent imports of data (job files handed to the owner are logged too, but not shown)."""
    cur.execute(
        "SELECT * FROM import_log WHERE format IS DISTINCT FROM 'job' "
        "ORDER BY import_id DESC LIMIT ?", [limit])
    return cur.df()


def start_committed(cur: duckdb.DuckDBPyConnection, file: str, digest: str, fmt: str,
                    origin: str) -> int:
    """Log a file handled in one step (a job file), committed with the caller's transaction."""
    cur.execute(
        """INSERT INTO import_log (import_id, file, content_hash, format, origin, status,
                                   rows_read, imported, duplicates, quarantined,
                                   started_at, finished_at)
           VALUES (nextval('import_seq'), ?, ?, ?, ?, 'committed', 0, 0, 0, 0,
                   now()::TIMESTAMP, now()::TIMESTAMP)
           RETURNING import_id""",
        [file, digest, fmt, origin],
    )
    return int(cur.fetchone()[0])


def quarantined(cur: duckdb.DuckDBPyConnection, import_id: int | None, limit: int = 50):
    """Quarantined rows, newest import first: (file, row, field, reason)."""
    where = "WHERE import_id = ?" if import_id is not None else ""
    params = [import_id, limit] if import_id is not None else [limit]
    cur.execute(
        f"SELECT file, row_number, field, reason FROM quarantine {where} "
        "ORDER BY import_id DESC, row_number LIMIT ?", params)
    return cur.fetchall()


def quarantine_frame(cur: duckdb.DuckDBPyConnection, import_id: int | None = None,
                     limit: int = 500):
    """Quarantined rows for display: newest import first, each with its reason and raw row."""
    where = "WHERE q.import_id = ?" if import_id is not None else ""
    params = [import_id, limit] if import_id is not None else [limit]
    cur.execute(
        f"""SELECT q.import_id, q.file, q.row_number, q.field, q.reason, q.raw, q.quarantined_at
            FROM quarantine q {where}
            ORDER BY q.import_id DESC, q.row_number LIMIT ?""", params)
    return cur.df()
