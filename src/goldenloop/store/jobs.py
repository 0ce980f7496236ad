"""SQL of the jobs table: every long piece of work, with status and progress.

Statuses: queued → running → done | failed | cancelled; a job found running when the owner
starts was cut off by a restart and becomes ``interrupted`` (or queued again when it is safe
to repeat, like an import, which adds nothing twice).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:  # pandas loads in about half a second: only for frames
    import pandas as pd

FINISHED = ("done", "failed", "cancelled", "interrupted")
REPEATABLE_KINDS = ("import", "snapshot")


@dataclass
class Job:
    job_id: int
    kind: str
    params: dict[str, Any]
    status: str
    progress: float
    message: str | None
    result: dict[str, Any] | None
    error: str | None
    origin: str | None

    @classmethod
    def from_row(cls, row: tuple) -> Job:
        jid, kind, params, status, progress, message, result, error, origin = row
        return cls(int(jid), kind, json.loads(params or "{}"), status, float(progress or 0),
                   message, json.loads(result) if result else None, error, origin)


_COLS = "job_id, kind, params, status, progress, message, result, error, origin"


def create(cur: duckdb.DuckDBPyConnection, kind: str, params: dict, origin: str) -> int:
    cur.execute(
        """INSERT INTO jobs (job_id, kind, params, status, progress, origin, created_at)
           VALUES (nextval('job_seq'), ?, ?, 'queued', 0, ?, now()::TIMESTAMP)
           RETURNING job_id""",
        [kind, json.dumps(params), origin],
    )
    return int(cur.fetchone()[0])


def claim_next(cur: duckdb.DuckDBPyConnection) -> Job | None:
    cur.execute(
        f"""UPDATE jobs SET status = 'running', started_at = now()::TIMESTAMP,
                   heartbeat_at = now()::TIMESTAMP
            WHERE job_id = (SELECT min(job_id) FROM jobs WHERE status = 'queued')
            RETURNING {_COLS}"""
    )
    row = cur.fetchone()
    return Job.from_row(row) if row else None


def set_progress(cur: duckdb.DuckDBPyConnection, job_id: int, fraction: float,
                 message: str) -> bool:
    """Record progress; return True when a cancel was requested."""
    cur.execute(
        """UPDATE jobs SET progress = ?, message = ?, heartbeat_at = now()::TIMESTAMP
           WHERE job_id = ? RETURNING cancel_requested""",
        [max(0.0, min(1.0, fraction)), message[:500], job_id],
    )
    row = cur.fetchone()
    return bool(row and row[0])


def finish(cur: duckdb.DuckDBPyConnection, job_id: int, status: str, *,
           result: dict | None = None, error: str | None = None, message: str | None = None) -> None:
    cur.execute(
        """UPDATE jobs SET status = ?, result = ?, error = ?, message = coalesce(?, message),
                  progress = CASE WHEN ? = 'done' THEN 1 ELSE progress END,
                  finished_at = now()::TIMESTAMP
           WHERE job_id = ?""",
        [status, json.dumps(result, default=str) if result is not None else None,
         error, message, status, job_id],
    )


def request_cancel(cur: duckdb.DuckDBPyConnection, job_id: int) -> None:
    cur.execute(
        """UPDATE jobs SET cancel_requested = true,
                  status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
                  finished_at = CASE WHEN status = 'queued' THEN now()::TIMESTAMP END
           WHERE job_id = ?""",
        [job_id],
    )


def recover_after_restart(cur: duckdb.DuckDBPyConnection,
                          why: str = "the server stopped while this job ran") -> tuple[int, int]:
    """Jobs left running by a stopped owner: repeat the safe ones, report the others."""
    kinds = ", ".join(f"'{k}'" for k in REPEATABLE_KINDS)
    cur.execute(
        f"""UPDATE jobs SET status = 'queued', message = 'queued again after a restart'
            WHERE status = 'running' AND kind IN ({kinds}) RETURNING job_id"""
    )
    requeued = len(cur.fetchall())
    cur.execute(
        """UPDATE jobs SET status = 'interrupted', finished_at = now()::TIMESTAMP,
                  error = ? || '; start it again'
           WHERE status = 'running' RETURNING job_id""", [why]
    )
    return requeued, len(cur.fetchall())


def get(cur: duckdb.DuckDBPyConnection, job_id: int) -> Job | None:
    cur.execute(f"SELECT {_COLS} FROM jobs WHERE job_id = ?", [job_id])
    row = cur.fetchone()
    return Job.from_row(row) if row else None


def recent(cur: duckdb.DuckDBPyConnection, limit: int = 50) -> pd.DataFrame:
    cur.execute(
        """SELECT job_id, kind, status, progress, message, error, origin, created_at,
                  started_at, finished_at, params, result
           FROM jobs ORDER BY job_id DESC LIMIT ?""",
        [limit],
    )
    return cur.df()


def active_count(cur: duckdb.DuckDBPyConnection) -> int:
    cur.execute("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")
    return int(cur.fetchone()[0])


def running_or_queued(cur: duckdb.DuckDBPyConnection, kind: str | None = None) -> pd.DataFrame:
    where = "AND kind = ?" if kind else ""
    cur.execute(
        f"""SELECT job_id, kind, status, progress, message FROM jobs
            WHERE status IN ('queued', 'running') {where} ORDER BY job_id""",
        [kind] if kind else [])
    return cur.df()
