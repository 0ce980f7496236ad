"""SQL of golden sets pushed to Argilla: their links, the pushed records' golden rows, an
annotator's earlier answers on a row (by the ledger), corrections made outside a queue, and
the record of versions made from pulled responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from goldenloop.store import Store


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _one(cur: duckdb.DuckDBPyConnection) -> tuple | None:
    rows = cur.fetchall()
    return rows[0] if rows else None


def save_link(cur: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> int:
    """Insert or update the link of (golden dataset, Argilla dataset, workspace); its id. A
    later version pushed to the same Argilla dataset moves the link to that version."""
    cur.execute("""SELECT link_id FROM argilla_datasets WHERE source_kind = 'golden'
                   AND golden_dataset_id = ? AND dataset_name = ? AND workspace = ?""",
                [row["golden_dataset_id"], row["dataset_name"], row["workspace"]])
    found = _one(cur)
    if found:
        cur.execute("""UPDATE argilla_datasets SET argilla_dataset_id = ?, golden_version_id = ?,
                       rubric_name = ?, rubric_version = ?, url_env = ?, key_env = ?,
                       pushed_by = ?, pushed_at = ? WHERE link_id = ?""",
                    [row["argilla_dataset_id"], row["golden_version_id"], row["rubric_name"],
                     row["rubric_version"], row["url_env"], row["key_env"], row["pushed_by"],
                     row["pushed_at"], found[0]])
        return int(found[0])
    cur.execute("SELECT nextval('argilla_dataset_seq')")
    link_id = int(_one(cur)[0])
    cur.execute(
        """INSERT INTO argilla_datasets (link_id, source_kind, queue_id, dataset_name, workspace,
               argilla_dataset_id, rubric_name, rubric_version, url_env, key_env, suggestions,
               pushed_by, pushed_at, last_pull_at, golden_dataset_id, golden_version_id)
           VALUES (?, 'golden', NULL, ?, ?, ?, ?, ?, ?, ?, true, ?, ?, NULL, ?, ?)""",
        [link_id, row["dataset_name"], row["workspace"], row["argilla_dataset_id"],
         row["rubric_name"], row["rubric_version"], row["url_env"], row["key_env"],
         row["pushed_by"], row["pushed_at"], row["golden_dataset_id"], row["golden_version_id"]])
    return link_id


def record_keys(store: Store, link_id: int) -> dict[str, str]:
    """External id -> golden row key of every record pushed through the link."""
    return dict(store.rows("SELECT external_id, row_key FROM argilla_records WHERE link_id = ?",
                           [link_id]))


def rows_by_key(store: Store, version_id: int, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The target and expected output of golden rows: as the pushed version holds them, or
    (a row pushed with an earlier version) as the newest stored row with that key."""
    cur = store.cursor()
    cur.execute(
        """SELECT r.row_key, r.target_type, r.target_id, r.span_key, r.expected_output
           FROM golden_rows r LEFT JOIN golden_version_rows m
             ON m.row_hash = r.row_hash AND m.version_id = $v
           WHERE r.row_key IN (SELECT unnest($k::VARCHAR[]))
           QUALIFY row_number() OVER (PARTITION BY r.row_key
                                      ORDER BY m.version_id IS NULL, r.created_at DESC) = 1""",
        {"v": version_id, "k": keys})
    return {r["row_key"]: r for r in _dicts(cur)}


def earlier_grades(cur: duckdb.DuckDBPyConnection, link_id: int, external_id: str,
                   username: str) -> list[dict[str, Any]]:
    """The annotator's grades pulled from this record that are still live."""
    cur.execute(
        """SELECT * FROM live_grades WHERE grade_id IN (
               SELECT unnest(grade_ids) FROM argilla_pulls
               WHERE link_id = ? AND external_id = ? AND username = ?)
           ORDER BY grade_id""", [link_id, external_id, username])
    return _dicts(cur)


def answered(cur: duckdb.DuckDBPyConnection, link_id: int, external_ids: list[str]
             ) -> set[tuple[str, str]]:
    """(record, annotator) pairs among these records with a response taken in before."""
    cur.execute("""SELECT DISTINCT external_id, username FROM argilla_pulls
                   WHERE link_id = ? AND external_id IN (SELECT unnest(?::VARCHAR[]))""",
                [link_id, external_ids])
    return {(e, u) for e, u in cur.fetchall()}


def write_correction(cur: duckdb.DuckDBPyConnection, target: dict[str, Any], text: str | None,
                     author: str, when: datetime) -> int | None:
    """The annotator's correction of a golden row's target, outside any queue: ``text``
    supersedes their live one; None retracts it (and does nothing when there is none)."""
    cur.execute("""SELECT correction_id, corrected_output FROM live_corrections
                   WHERE target_type = ? AND target_id = ? AND author_id = ?
                     AND queue_item_id IS NULL ORDER BY correction_id DESC LIMIT 1""",
                [target["target_type"], target["target_id"], author])
    found = _one(cur)
    previous = found[0] if found else None
    if (text is None and previous is None) or (found and text == found[1]):
        return None
    cur.execute(
        """INSERT INTO corrections (correction_id, target_type, target_id, span_key,
               corrected_output, author_id, queue_item_id, created_at, supersedes, retracted)
           VALUES (nextval('correction_seq'), ?, ?, ?, ?, ?, NULL, ?, ?, ?)
           RETURNING correction_id""",
        [target["target_type"], target["target_id"], target["span_key"], text, author, when,
         previous, text is None])
    return int(_one(cur)[0])


def undrafted(cur: duckdb.DuckDBPyConnection, link_id: int) -> tuple[int, datetime | None]:
    """(response versions that changed grades since the last version was made, the time of
    the latest pull holding them)."""
    cur.execute(
        """SELECT count(*), max(pulled_at) FROM argilla_pulls
           WHERE link_id = $l AND outcome IN ('graded', 'discarded')
             AND pulled_at > coalesce((SELECT max(pulled_through) FROM argilla_golden_versions
                                       WHERE link_id = $l), '-infinity'::TIMESTAMP)""",
        {"l": link_id})
    n, through = _one(cur)
    return int(n), through


def record_version(cur: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    cur.execute(
        """INSERT INTO argilla_golden_versions (link_id, base_version_id, version_id, created,
               responses, pulled_through, derived_by, derived_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        [row["link_id"], row["base_version_id"], row["version_id"], row["created"],
         row["responses"], row["pulled_through"], row["derived_by"], row["derived_at"]])


def last_version(store: Store, link_id: int) -> dict[str, Any] | None:
    """The newest version made from this link's responses, with its number."""
    cur = store.cursor()
    cur.execute(
        """SELECT a.*, v.version, b.version AS base_version
           FROM argilla_golden_versions a
           JOIN golden_versions v ON v.version_id = a.version_id
           JOIN golden_versions b ON b.version_id = a.base_version_id
           WHERE a.link_id = ? ORDER BY a.derived_at DESC LIMIT 1""", [link_id])
    rows = _dicts(cur)
    return rows[0] if rows else None
