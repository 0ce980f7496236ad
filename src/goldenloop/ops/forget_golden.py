"""Erasure in golden datasets: versions are never edited, so the rows about an erased user
leave every version that held them (their bytes must go), each such version is marked as
having held erased data, and each affected dataset's latest version is followed by a new
version of the remaining rows (the one to use from now on)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import duckdb

# The golden rows about the erased spans, traces and sessions (ops.forget's temp tables).
ERASED_HASHES = """(SELECT row_hash FROM golden_rows
              WHERE span_key IN (SELECT k FROM _k) OR trace_id IN (SELECT t FROM _t)
                 OR session_id IN (SELECT s FROM _s))"""


def erase(cur: duckdb.DuckDBPyConnection, report: Any, by: str) -> None:
    """Needs the temp tables ``_k``, ``_t``, ``_s`` of ops.forget; fills ``report``."""
    now = datetime.now(UTC).replace(tzinfo=None)
    hit = cur.execute(f"""SELECT version_id, count(*) FROM golden_version_rows
                          WHERE row_hash IN {ERASED_HASHES} GROUP BY ALL ORDER BY 1""").fetchall()
    latest = {int(v) for (v,) in cur.execute(
        """SELECT max_by(version_id, version) FROM golden_versions GROUP BY dataset_id""").fetchall()}
    for version_id, n in hit:
        made = _new_version(cur, int(version_id), by, now) if version_id in latest else None
        if made is not None:
            report.golden_versions_made.append(made)
        cur.execute("INSERT INTO ops_golden_erasures VALUES (?, ?, ?, ?, ?)",
                    [version_id, report.erasure_id, n, made, now])
        report.golden_versions_marked.append(int(version_id))
    n_members = cur.execute(f"DELETE FROM golden_version_rows WHERE row_hash IN {ERASED_HASHES}"
                            ).fetchall()[0][0]
    n_rows = cur.execute(f"DELETE FROM golden_rows WHERE row_hash IN {ERASED_HASHES}").fetchall()[0][0]
    report.removed["golden_rows"] = int(n_rows)
    report.removed["golden_version_memberships"] = int(n_members)


def _new_version(cur: duckdb.DuckDBPyConnection, version_id: int, by: str, now: datetime
                 ) -> int:
    """A copy of ``version_id`` without the erased rows, as the dataset's next version."""
    keep = f"""(SELECT row_key, row_hash FROM golden_version_rows
                WHERE version_id = {int(version_id)} AND row_hash NOT IN {ERASED_HASHES})"""
    content_hash, n = cur.execute(
        f"""SELECT sha256(coalesce(string_agg(row_key || ' ' || row_hash, chr(10)
                                              ORDER BY row_key), '')), count(*)
            FROM {keep}""").fetchall()[0]
    balance = dict(cur.execute(
        f"""SELECT coalesce(r.label, ''), count(*) FROM {keep} m JOIN golden_rows r
            USING (row_hash) GROUP BY ALL ORDER BY 1""").fetchall())
    dataset_id, filt, counts = cur.execute(
        "SELECT dataset_id, filter, counts FROM golden_versions WHERE version_id = ?",
        [version_id]).fetchall()[0]
    counts = json.loads(counts or "{}")
    counts["erased_after_version"] = version_id
    counts["included"] = int(n)
    new_id = cur.execute(
        """INSERT INTO golden_versions
           SELECT nextval('golden_version_seq'), ?,
                  (SELECT max(version) FROM golden_versions WHERE dataset_id = ?) + 1,
                  ?, ?, ?, ?, ?, ?, ?
           RETURNING version_id""",
        [dataset_id, dataset_id, content_hash, f"erasure by {by}", filt, json.dumps(counts),
         json.dumps({k: int(v) for k, v in balance.items()}), int(n), now]).fetchall()[0][0]
    cur.execute(f"INSERT INTO golden_version_rows SELECT ?, row_key, row_hash FROM {keep}",
                [new_id])
    return int(new_id)
