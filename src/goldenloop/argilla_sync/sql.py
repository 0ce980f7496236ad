"""SQL of the Argilla part: links, pushed records, the pull ledger, and the queue's items and
judge grades as the push reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from goldenloop.store import Store
from goldenloop.store.shared_sql import fetch1


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def queue_items(store: Store, queue_id: int) -> list[dict[str, Any]]:
    """Items a push sends: not gold checks, not already done in goldenloop."""
    cur = store.cursor()
    cur.execute(
        """SELECT qi.queue_item_id, qi.target_type, qi.target_id, qi.span_key, qi.stratum,
                  qi.inclusion_prob, s.app, s.model_version, s.prompt_version
           FROM queue_items qi LEFT JOIN spans s ON s.span_key = qi.span_key
           WHERE qi.queue_id = ? AND NOT coalesce(qi.is_gold, false) AND qi.status <> 'done'
           ORDER BY qi.position, qi.queue_item_id""", [queue_id])
    return _dicts(cur)


def judge_grades(store: Store, queue_id: int) -> list[dict[str, Any]]:
    """Live judge grades of the queue's targets (by target or by span)."""
    cur = store.cursor()
    cur.execute(
        """SELECT qi.queue_item_id, g.criterion, g.value_number, g.value_label, g.value_labels,
                  g.value_text, coalesce(g.judge_name, g.author_id) AS judge_name,
                  g.judge_version
           FROM queue_items qi JOIN live_grades g
             ON (g.target_type = qi.target_type AND g.target_id = qi.target_id)
             OR (qi.span_key IS NOT NULL AND g.span_key = qi.span_key)
           WHERE qi.queue_id = ? AND g.source = 'judge' AND NOT g.not_applicable
           ORDER BY qi.queue_item_id, g.criterion, g.created_at""", [queue_id])
    return _dicts(cur)


def link(store: Store, queue_id: int, dataset: str, workspace: str) -> dict[str, Any] | None:
    cur = store.cursor()
    cur.execute("""SELECT * FROM argilla_datasets WHERE queue_id = ? AND dataset_name = ?
                   AND workspace = ?""", [queue_id, dataset, workspace])
    rows = _dicts(cur)
    return rows[0] if rows else None


def links(store: Store, queue_id: int | None = None, golden: str | None = None
          ) -> list[dict[str, Any]]:
    """Linked datasets: of one queue, of one golden dataset (by name), or all of them."""
    cur = store.cursor()
    cur.execute(
        """SELECT a.*, d.name AS golden_name, v.version AS golden_version
           FROM argilla_datasets a
           LEFT JOIN golden_datasets d ON d.dataset_id = a.golden_dataset_id
           LEFT JOIN golden_versions v ON v.version_id = a.golden_version_id
           WHERE ($q IS NULL OR a.queue_id = $q) AND ($g IS NULL OR d.name = $g)
             AND NOT ($q IS NOT NULL AND $g IS NOT NULL)
           ORDER BY a.link_id""", {"q": queue_id, "g": golden})
    return _dicts(cur)


def save_link(cur: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> int:
    """Insert or update the link of (queue, dataset, workspace); its id."""
    cur.execute("""SELECT link_id FROM argilla_datasets WHERE queue_id = ? AND dataset_name = ?
                   AND workspace = ?""", [row["queue_id"], row["dataset_name"], row["workspace"]])
    found = fetch1(cur)
    if found:
        cur.execute("""UPDATE argilla_datasets SET argilla_dataset_id = ?, rubric_version = ?,
                       url_env = ?, key_env = ?, suggestions = ?, pushed_by = ?, pushed_at = ?
                       WHERE link_id = ?""",
                    [row["argilla_dataset_id"], row["rubric_version"], row["url_env"],
                     row["key_env"], row["suggestions"], row["pushed_by"], row["pushed_at"],
                     found[0]])
        return int(found[0])
    cur.execute("SELECT nextval('argilla_dataset_seq')")
    link_id = int(fetch1(cur)[0])
    cur.execute(
        """INSERT INTO argilla_datasets (link_id, source_kind, queue_id, dataset_name, workspace,
               argilla_dataset_id, rubric_name, rubric_version, url_env, key_env, suggestions,
               pushed_by, pushed_at, last_pull_at)
           VALUES (?, 'queue', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)""",
        [link_id, row["queue_id"], row["dataset_name"], row["workspace"],
         row["argilla_dataset_id"], row["rubric_name"], row["rubric_version"], row["url_env"],
         row["key_env"], row["suggestions"], row["pushed_by"], row["pushed_at"]])
    return link_id


def save_records(cur: duckdb.DuckDBPyConnection, link_id: int, records: pd.DataFrame,
                 now: datetime) -> int:
    """Remember pushed records (anti-join: a record pushed again is not added twice);
    ``records`` holds external_id and either queue_item_id or row_key."""
    records = records.reindex(columns=["external_id", "queue_item_id", "row_key"])
    cur.register("_argilla_records_in", records)
    try:
        cur.execute(
            """INSERT INTO argilla_records (link_id, external_id, queue_item_id, pushed_at, row_key)
               SELECT ?, r.external_id, CAST(r.queue_item_id AS BIGINT), ?,
                      CAST(r.row_key AS VARCHAR)
               FROM _argilla_records_in r
               WHERE NOT EXISTS (SELECT 1 FROM argilla_records a
                                 WHERE a.link_id = ? AND a.external_id = r.external_id)""",
            [link_id, now, link_id])
        return int(fetch1(cur)[0])
    finally:
        cur.unregister("_argilla_records_in")


def pulled_versions(store: Store, link_id: int) -> set[tuple[str, datetime]]:
    """(response id, updated_at) of every response version already taken in."""
    cur = store.cursor()
    cur.execute("SELECT response_id, response_updated_at FROM argilla_pulls WHERE link_id = ?",
                [link_id])
    return {(r, t) for r, t in cur.fetchall()}


def last_pull(cur: duckdb.DuckDBPyConnection, link_id: int, external_id: str,
              username: str) -> dict[str, Any] | None:
    cur.execute("""SELECT * FROM argilla_pulls WHERE link_id = ? AND external_id = ?
                   AND username = ? ORDER BY pulled_at DESC, response_updated_at DESC LIMIT 1""",
                [link_id, external_id, username])
    rows = _dicts(cur)
    return rows[0] if rows else None


def set_pulled(cur: duckdb.DuckDBPyConnection, link_id: int, now: datetime) -> None:
    cur.execute("UPDATE argilla_datasets SET last_pull_at = ? WHERE link_id = ?", [now, link_id])


def pull_counts(store: Store, link_id: int) -> dict[str, int]:
    """Latest outcome per (record, annotator) taken in: graded, discarded, set_aside."""
    cur = store.cursor()
    cur.execute(
        """SELECT outcome, count(*) FROM (
               SELECT outcome, row_number() OVER (PARTITION BY external_id, username
                                                  ORDER BY pulled_at DESC,
                                                           response_updated_at DESC) AS k
               FROM argilla_pulls WHERE link_id = ?) WHERE k = 1 GROUP BY outcome""", [link_id])
    return {o: int(n) for o, n in cur.fetchall()}


def set_aside(store: Store, link_id: int | None = None) -> pd.DataFrame:
    return store.df(
        """SELECT link_id, external_id, username, response_updated_at, reason, raw_values,
                  pulled_at
           FROM argilla_pulls WHERE outcome = 'set_aside' AND (? IS NULL OR link_id = ?)
           ORDER BY pulled_at""", [link_id, link_id])


# -- the pull's batch reads and writes (one statement per batch, not per response) ------------
def items(cur: duckdb.DuckDBPyConnection, ids: list[int]) -> dict[int, dict[str, Any]]:
    cur.execute("SELECT * FROM queue_items WHERE queue_item_id IN (SELECT unnest(?::BIGINT[]))",
                [ids])
    return {r["queue_item_id"]: r for r in _dicts(cur)}


def live_authors(cur: duckdb.DuckDBPyConnection, ids: list[int]) -> set[tuple[int, str]]:
    """(item, author) pairs with live human grades (gold answers aside) on these items."""
    cur.execute("""SELECT DISTINCT queue_item_id, author_id FROM live_grades
                   WHERE queue_item_id IN (SELECT unnest(?::BIGINT[])) AND source = 'human'
                     AND NOT coalesce(is_gold, false)""", [ids])
    return {(int(i), a) for i, a in cur.fetchall()}


_PULL_COLUMNS = (("link_id", "BIGINT"), ("external_id", "VARCHAR"), ("queue_item_id", "BIGINT"),
                 ("username", "VARCHAR"), ("response_id", "VARCHAR"),
                 ("response_updated_at", "TIMESTAMP"), ("status", "VARCHAR"),
                 ("outcome", "VARCHAR"), ("reason", "VARCHAR"), ("raw_values", "JSON"),
                 ("grade_ids", "BIGINT[]"), ("pulled_at", "TIMESTAMP"), ("row_key", "VARCHAR"))


def record_pulls(cur: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    names = [c for c, _ in _PULL_COLUMNS]
    table = pa.Table.from_pylist([{c: r.get(c) for c in names} for r in rows], schema=pa.schema(
        [(c, pa.list_(pa.int64()) if c == "grade_ids" else pa.int64() if t == "BIGINT"
          else pa.timestamp("us") if t == "TIMESTAMP" else pa.string()) for c, t in _PULL_COLUMNS]))
    cur.register("_argilla_pulls_in", table)
    try:
        sel = ", ".join(f"CAST(t.{c} AS {t_})" for c, t_ in _PULL_COLUMNS)
        cur.execute(f"INSERT INTO argilla_pulls ({', '.join(names)}) "
                    f"SELECT {sel} FROM _argilla_pulls_in t")
    finally:
        cur.unregister("_argilla_pulls_in")
