"""SQL of review: queues, claims, human grades, corrections and retractions.

A claim is taken by one ``UPDATE … RETURNING`` under the store's write lock (DuckDB has no
``SELECT … FOR UPDATE``): it picks the reviewer's own live claim if there is one (resume),
else the next item by position that is not done, not live-claimed by anyone, and not yet
graded or skipped by this reviewer; items the reviewer put off ("later") come last. A claim
is held while ``queue_items.claim_id`` names it: expiry only makes the item claimable again,
and a new claim replaces the id, so two reviewers never hold one item.

Grades are append-only. A reviewer's grade is live when it is not retracted and no row
supersedes it; an undo adds a retraction row (``retracted``, no value) superseding it. Live
grades are read from the ``live_grades`` view (``schema_trust``: the one definition).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from goldenloop.errors import QueueNotFound
from goldenloop.store import audit
from goldenloop.store.shared_sql import fetch1
from goldenloop.store.store import Store


def _one(cur: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    row = fetch1(cur)
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def queue(store: Store, queue_id: int) -> dict[str, Any]:
    cur = store.cursor()
    cur.execute("SELECT * FROM queues WHERE queue_id = ?", [queue_id])
    row = _one(cur)
    if row is None:
        raise QueueNotFound(f"no queue {queue_id}")
    for k in ("design", "frame_filter"):
        row[k] = json.loads(row[k]) if row[k] else {}
    return row


def queue_count(store: Store) -> int:
    return int(store.scalar("SELECT count(*) FROM queues"))


def queues(store: Store):
    """Every queue with its item counts, newest first (a DataFrame)."""
    return store.df(
        """SELECT q.queue_id, q.name, q.target_type, q.design->>'kind' AS design, q.purpose,
                  q.status,
                  q.rubric_name, q.rubric_version, q.reviewers_per_item, q.population_size,
                  q.created_by, q.created_at,
                  count(i.queue_item_id) FILTER (WHERE NOT i.is_gold) AS items,
                  count(i.queue_item_id) FILTER (WHERE NOT i.is_gold AND i.status = 'done') AS done,
                  count(i.queue_item_id) FILTER (WHERE i.is_gold) AS gold_items
           FROM queues q LEFT JOIN queue_items i USING (queue_id)
           GROUP BY ALL ORDER BY q.queue_id DESC""")


def item(cur: duckdb.DuckDBPyConnection, queue_item_id: int) -> dict[str, Any]:
    cur.execute("SELECT * FROM queue_items WHERE queue_item_id = ?", [queue_item_id])
    row = _one(cur)
    if row is None:
        raise QueueNotFound(f"no queue item {queue_item_id}")
    return row


def item_id_of(cur: duckdb.DuckDBPyConnection, queue_id: int, target_type: str,
               target_id: str) -> int:
    cur.execute("SELECT max(queue_item_id) FROM queue_items WHERE queue_id = ? "
                "AND target_type = ? AND target_id = ?", [queue_id, target_type, target_id])
    found = fetch1(cur)[0]
    if found is None:
        raise QueueNotFound(f"queue {queue_id} has no {target_type} {target_id}")
    return int(found)


PURPOSES = ("review", "adjudication")


def insert_queue(cur: duckdb.DuckDBPyConnection, *, name: str, description: str,
                 target_type: str, frame: dict | None, window: tuple, population: int | None,
                 design: dict, rubric_name: str, rubric_version: str, reviewers: int,
                 created_by: str, now: datetime, purpose: str = "review",
                 criteria: list[str] | None = None) -> int:
    """Add a queue row; its id. Columns are named: later migrations add columns.
    ``criteria``: the rubric's criteria the queue asks (None: all of them)."""
    cur.execute("SELECT nextval('queue_seq')")
    queue_id = int(fetch1(cur)[0])
    cur.execute(
        """INSERT INTO queues (queue_id, name, description, target_type, frame_filter,
                               window_start, window_end, population_size, design, rubric_name,
                               rubric_version, reviewers_per_item, created_by, created_at,
                               status, purpose, criteria)
           VALUES (?, ?, ?, ?, ?::JSON, ?, ?, ?, ?::JSON, ?, ?, ?, ?, ?, 'open', ?, ?)""",
        [queue_id, name, description, target_type,
         None if frame is None else json.dumps(frame), window[0], window[1], population,
         json.dumps(design), rubric_name, rubric_version, reviewers, created_by, now, purpose,
         criteria],
    )
    audit.record(cur, created_by, "queue.create", f"queue:{queue_id}",
                 {"name": name, "population": population, "purpose": purpose,
                  "criteria": criteria})
    return queue_id


ITEM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("target_type", "VARCHAR"), ("target_id", "VARCHAR"), ("span_key", "BIGINT"),
    ("inclusion_prob", "DOUBLE"), ("stratum", "VARCHAR"), ("risk_score", "DOUBLE"),
    ("risk_reasons", "VARCHAR[]"), ("is_gold", "BOOLEAN"), ("reviewers_needed", "INTEGER"),
    ("position", "INTEGER"),
)


def insert_items(cur: duckdb.DuckDBPyConnection, queue_id: int, items: pa.Table,
                 now: datetime) -> int:
    """Add ``items`` (columns of ``ITEM_COLUMNS``; absent ones NULL) to a queue, skipping any
    target already in it or repeated in ``items``; return how many were added."""
    if items.num_rows == 0:
        return 0
    name = f"_items_in_{id(items)}"
    cur.register(name, items.append_column("_ord", pa.array(range(items.num_rows), pa.int64())))
    try:
        have = set(items.column_names)
        cast = {c: f"CAST(i.{c} AS {t})" if c in have else f"CAST(NULL AS {t})"
                for c, t in ITEM_COLUMNS}
        cast["is_gold"] = f"coalesce({cast['is_gold']}, false)"  # an explicit NULL skips the default
        sel = ", ".join(f"{expr} AS {c}" for c, expr in cast.items())
        cols = ", ".join(c for c, _ in ITEM_COLUMNS)
        cur.execute(
            f"""INSERT INTO queue_items (queue_item_id, queue_id, {cols}, status,
                                         reviewers_done, created_at)
                SELECT min(_nv) OVER () + _rn - 1, $q, {cols}, 'pending', 0, $now
                FROM (
                    SELECT nextval('queue_item_seq') AS _nv, row_number() OVER (ORDER BY _ord) AS _rn,
                           n.*
                    FROM (SELECT i._ord, {sel} FROM {name} i
                          QUALIFY row_number() OVER (PARTITION BY i.target_type, i.target_id
                                                     ORDER BY i._ord) = 1) n
                    WHERE NOT EXISTS (SELECT 1 FROM queue_items o
                                      WHERE o.queue_id = $q AND o.target_type = n.target_type
                                        AND o.target_id = n.target_id)
                )""",
            {"q": queue_id, "now": now},
        )
        return int(fetch1(cur)[0])
    finally:
        cur.unregister(name)


def max_position(cur: duckdb.DuckDBPyConnection, queue_id: int) -> int:
    cur.execute("SELECT coalesce(max(position), -1) FROM queue_items WHERE queue_id = ?",
                [queue_id])
    return int(fetch1(cur)[0])


def grading_counts(cur: duckdb.DuckDBPyConnection, queue_id: int, reviewer: str
                   ) -> tuple[int, int, int]:
    """(items this reviewer may still get, reviews done, reviews needed) of a queue: the
    grading screen's progress line, from the queue's items and this reviewer's own grades and
    skips only (the queue's full statistics are the Queues page's)."""
    cur.execute(
        """WITH mine AS (
                SELECT g.queue_item_id FROM live_grades g
                WHERE g.queue_id = $q AND g.author_id = $r
                UNION
                SELECT h.queue_item_id FROM queue_claims h
                WHERE h.queue_id = $q AND h.reviewer = $r AND h.outcome = 'skipped')
            SELECT count(*) FILTER (WHERE m.queue_item_id IS NULL AND (
                       c.reviewers_needed IS NULL OR c.reviewers_done < c.reviewers_needed)),
                   coalesce(sum(least(c.reviewers_done, c.reviewers_needed))
                            FILTER (WHERE NOT c.is_gold), 0),
                   coalesce(sum(c.reviewers_needed) FILTER (WHERE NOT c.is_gold), 0)
            FROM queue_items c LEFT JOIN (SELECT DISTINCT queue_item_id FROM mine) m
                 ON m.queue_item_id = c.queue_item_id
            WHERE c.queue_id = $q""", {"q": queue_id, "r": reviewer})
    left, done, needed = fetch1(cur)
    return int(left), int(done), int(needed)


# -- claims ------------------------------------------------------------------------------------
_SEEN_BY_ME = """(EXISTS (SELECT 1 FROM live_grades g WHERE g.queue_item_id = c.queue_item_id
                          AND g.author_id = $r)
               OR EXISTS (SELECT 1 FROM queue_claims h WHERE h.queue_item_id = c.queue_item_id
                          AND h.reviewer = $r AND h.outcome = 'skipped'))"""
_MINE_LIVE = "(c.claimed_by = $r AND c.claim_expires_at > $now)"


def claim_next(cur: duckdb.DuckDBPyConnection, queue_id: int, reviewer: str, claim_id: int,
               now: datetime, expires: datetime) -> dict[str, Any] | None:
    """Claim (or resume) the reviewer's next item; the item row, or None when nothing is left."""
    cur.execute(
        f"""UPDATE queue_items AS qi SET
                claim_id = CASE WHEN qi.claimed_by = $r AND qi.claim_expires_at > $now
                                THEN qi.claim_id ELSE $cid END,
                claimed_at = CASE WHEN qi.claimed_by = $r AND qi.claim_expires_at > $now
                                  THEN qi.claimed_at ELSE $now END,
                claimed_by = $r, claim_expires_at = $exp, status = 'claimed'
            WHERE qi.queue_item_id = (
                SELECT c.queue_item_id FROM queue_items c
                WHERE c.queue_id = $q
                  AND ({_MINE_LIVE} OR (
                      (c.claim_id IS NULL OR c.claim_expires_at <= $now)
                      AND (c.reviewers_needed IS NULL OR c.reviewers_done < c.reviewers_needed)
                      AND NOT {_SEEN_BY_ME}))
                ORDER BY {_MINE_LIVE} DESC,
                         EXISTS (SELECT 1 FROM queue_claims h
                                 WHERE h.queue_item_id = c.queue_item_id AND h.reviewer = $r
                                   AND h.outcome = 'later') ASC,
                         c.position, c.queue_item_id
                LIMIT 1)
            RETURNING *""",
        {"q": queue_id, "r": reviewer, "cid": claim_id, "now": now, "exp": expires},
    )
    return _one(cur)


def claim_item(cur: duckdb.DuckDBPyConnection, queue_item_id: int, reviewer: str, claim_id: int,
               now: datetime, expires: datetime) -> dict[str, Any] | None:
    """Claim one given item unless someone else holds it live (used to return an undone item)."""
    cur.execute(
        """UPDATE queue_items SET claim_id = $cid, claimed_at = $now, claimed_by = $r,
                                  claim_expires_at = $exp, status = 'claimed'
           WHERE queue_item_id = $i
             AND (claim_id IS NULL OR claim_expires_at <= $now OR claimed_by = $r)
           RETURNING *""",
        {"i": queue_item_id, "r": reviewer, "cid": claim_id, "now": now, "exp": expires})
    return _one(cur)


def record_claim(cur: duckdb.DuckDBPyConnection, row: dict[str, Any], now: datetime) -> None:
    """History: the new claim is open; older open claims of the item lost it by expiry."""
    cur.execute(
        """UPDATE queue_claims SET outcome = 'expired', ended_at = expires_at
           WHERE queue_item_id = ? AND outcome = 'open' AND claim_id <> ?""",
        [row["queue_item_id"], row["claim_id"]])
    cur.execute(
        """INSERT INTO queue_claims
           SELECT ?, ?, ?, ?, ?, ?, ?, NULL, 'open'
           WHERE NOT EXISTS (SELECT 1 FROM queue_claims WHERE claim_id = ?)""",
        [row["claim_id"], row["queue_id"], row["queue_item_id"], row["claimed_by"],
         row["claimed_at"], now, row["claim_expires_at"], row["claim_id"]])


def renew(cur: duckdb.DuckDBPyConnection, queue_item_id: int, claim_id: int, now: datetime,
          expires: datetime) -> bool:
    cur.execute(
        """UPDATE queue_items SET claim_expires_at = ?, status = 'claimed'
           WHERE queue_item_id = ? AND claim_id = ? RETURNING queue_item_id""",
        [expires, queue_item_id, claim_id])
    held = fetch1(cur) is not None
    if held:
        cur.execute("UPDATE queue_claims SET renewed_at = ?, expires_at = ? WHERE claim_id = ?",
                    [now, expires, claim_id])
    return held


def end_claim(cur: duckdb.DuckDBPyConnection, queue_item_id: int, claim_id: int, outcome: str,
              now: datetime) -> bool:
    """Close a claim with ``outcome``; free the item if the claim still held it. True if held."""
    cur.execute(
        """UPDATE queue_items SET claim_id = NULL, claimed_by = NULL, claimed_at = NULL,
                                  claim_expires_at = NULL
           WHERE queue_item_id = ? AND claim_id = ? RETURNING queue_item_id""",
        [queue_item_id, claim_id])
    held = fetch1(cur) is not None
    cur.execute("UPDATE queue_claims SET outcome = ?, ended_at = ? WHERE claim_id = ?",
                [outcome, now, claim_id])
    return held


def claimed_at(cur: duckdb.DuckDBPyConnection, claim_id: int) -> datetime | None:
    cur.execute("SELECT claimed_at FROM queue_claims WHERE claim_id = ?", [claim_id])
    row = fetch1(cur)
    return row[0] if row else None


def open_claims(cur: duckdb.DuckDBPyConnection, queue_id: int, reviewer: str,
                now: datetime) -> list[tuple[int, int]]:
    """(queue_item_id, claim_id) of the reviewer's live claims in a queue."""
    cur.execute(
        """SELECT queue_item_id, claim_id FROM queue_items
           WHERE queue_id = ? AND claimed_by = ? AND claim_expires_at > ?""",
        [queue_id, reviewer, now])
    return cur.fetchall()


def refresh_item(cur: duckdb.DuckDBPyConnection, queue_item_id: int, now: datetime) -> None:
    """``refresh_items`` for one item."""
    refresh_items(cur, [queue_item_id], now)


def refresh_items(cur: duckdb.DuckDBPyConnection, ids: list[int], now: datetime) -> None:
    """Recount the distinct reviewers with live grades (a late grade counts once, like any
    other) and set the status from it, for many items in one statement (an Argilla pull
    refreshes every item it touched at once)."""
    if not ids:
        return
    cur.execute(
        """UPDATE queue_items AS qi SET
                reviewers_done = n.done,
                status = CASE
                    WHEN qi.reviewers_needed IS NOT NULL AND n.done >= qi.reviewers_needed THEN 'done'
                    WHEN qi.claim_id IS NOT NULL AND qi.claim_expires_at > $now THEN 'claimed'
                    WHEN n.done = 0 AND n.skips > 0 THEN 'skipped'
                    ELSE 'pending' END
            FROM (SELECT ids.i AS queue_item_id, coalesce(d.done, 0) AS done,
                         coalesce(s.skips, 0) AS skips
                  FROM (SELECT unnest($ids::BIGINT[]) AS i) ids
                  LEFT JOIN (SELECT g.queue_item_id, count(DISTINCT g.author_id) AS done
                             FROM live_grades g
                             WHERE g.queue_item_id IN (SELECT unnest($ids::BIGINT[]))
                               AND g.source = 'human' AND NOT g.is_gold
                             GROUP BY 1) d ON d.queue_item_id = ids.i
                  LEFT JOIN (SELECT h.queue_item_id, count(*) AS skips FROM queue_claims h
                             WHERE h.queue_item_id IN (SELECT unnest($ids::BIGINT[]))
                               AND h.outcome = 'skipped'
                             GROUP BY 1) s ON s.queue_item_id = ids.i) n
            WHERE qi.queue_item_id = n.queue_item_id""",
        {"ids": ids, "now": now})


# -- grades ------------------------------------------------------------------------------------
HUMAN_GRADE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("target_type", "VARCHAR"), ("target_id", "VARCHAR"), ("span_key", "BIGINT"),
    ("criterion", "VARCHAR"), ("value_number", "DOUBLE"), ("value_label", "VARCHAR"),
    ("value_labels", "VARCHAR[]"), ("value_text", "VARCHAR"), ("not_applicable", "BOOLEAN"),
    ("flagged", "BOOLEAN"), ("source", "VARCHAR"), ("author_kind", "VARCHAR"),
    ("author_id", "VARCHAR"), ("rubric_name", "VARCHAR"), ("rubric_version", "VARCHAR"),
    ("queue_id", "BIGINT"), ("queue_item_id", "BIGINT"), ("is_gold", "BOOLEAN"),
    ("is_adjudication", "BOOLEAN"), ("comment", "VARCHAR"), ("raw", "JSON"),
    ("created_at", "TIMESTAMP"), ("supersedes", "BIGINT"), ("late", "BOOLEAN"), ("seconds_spent", "DOUBLE"),
    ("retracted", "BOOLEAN"),
)


def insert_human_grades(cur: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> list[int]:
    """Append grade rows (keys of ``HUMAN_GRADE_COLUMNS``); return their new ids in order."""
    if not rows:
        return []
    names = [c for c, _ in HUMAN_GRADE_COLUMNS]
    table = pa.Table.from_pylist([{c: r.get(c) for c in names} for r in rows]).append_column(
        "_ord", pa.array(range(len(rows)), pa.int64()))
    sel = ", ".join(f"CAST(t.{c} AS {typ}) AS {c}" for c, typ in HUMAN_GRADE_COLUMNS)
    cur.register("_human_grades_in", table)
    try:
        cur.execute(
            f"""INSERT INTO grades (grade_id, {', '.join(names)})
                SELECT nextval('grade_seq'), {sel} FROM _human_grades_in t ORDER BY t._ord
                RETURNING grade_id""")
        return sorted(int(g) for (g,) in cur.fetchall())
    finally:
        cur.unregister("_human_grades_in")


def live_grades(cur: duckdb.DuckDBPyConnection, queue_item_id: int, reviewer: str
                ) -> list[dict[str, Any]]:
    """The reviewer's live grades on one item (gold answers included)."""
    cur.execute(
        """SELECT * FROM live_grades g WHERE g.queue_item_id = ? AND g.author_id = ?
              AND g.source = 'human' ORDER BY g.grade_id""",
        [queue_item_id, reviewer])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def last_graded_item(cur: duckdb.DuckDBPyConnection, queue_id: int, reviewer: str) -> int | None:
    """The item of the reviewer's most recent live grade in a queue (gold answers excluded)."""
    cur.execute(
        """SELECT g.queue_item_id FROM live_grades g
            WHERE g.queue_id = ? AND g.author_id = ? AND g.source = 'human' AND NOT g.is_gold
            ORDER BY g.grade_id DESC LIMIT 1""", [queue_id, reviewer])
    row = fetch1(cur)
    return int(row[0]) if row else None


def insert_correction(cur: duckdb.DuckDBPyConnection, target: dict[str, Any], text: str | None,
                      author: str, queue_item_id: int, now: datetime, *,
                      retract: bool = False) -> int | None:
    """Add a correction (or a retraction of the author's live one), superseding the live one."""
    cur.execute(
        """SELECT correction_id FROM live_corrections c
           WHERE c.queue_item_id = ? AND c.author_id = ?
           ORDER BY correction_id DESC LIMIT 1""", [queue_item_id, author])
    row = fetch1(cur)
    previous = row[0] if row else None
    if retract and previous is None:
        return None
    cur.execute(
        """INSERT INTO corrections VALUES (nextval('correction_seq'), ?, ?, ?, ?, ?, ?, ?, ?, ?)
           RETURNING correction_id""",
        [target["target_type"], target["target_id"], target["span_key"],
         None if retract else text, author, queue_item_id, now, previous, retract])
    return int(fetch1(cur)[0])


def live_correction(cur: duckdb.DuckDBPyConnection, queue_item_id: int, author: str) -> str | None:
    """The author's live corrected answer on an item, or None."""
    cur.execute(
        """SELECT corrected_output FROM live_corrections c
           WHERE c.queue_item_id = ? AND c.author_id = ?
           ORDER BY correction_id DESC LIMIT 1""", [queue_item_id, author])
    row = fetch1(cur)
    return row[0] if row else None


def known_reviewers(store: Store) -> list[str]:
    """Everyone who has claimed an item or made a human grade, by name."""
    return [r for (r,) in store.rows(
        """SELECT reviewer FROM queue_claims WHERE reviewer IS NOT NULL
           UNION SELECT author_id FROM grades WHERE source = 'human' AND author_id IS NOT NULL
           ORDER BY 1""")]


def set_queue_criteria(cur: duckdb.DuckDBPyConnection, queue_id: int,
                       criteria: list[str] | None) -> None:
    cur.execute("UPDATE queues SET criteria = ? WHERE queue_id = ? RETURNING queue_id",
                [criteria, queue_id])
    if fetch1(cur) is None:
        raise QueueNotFound(f"no queue {queue_id}")


def set_queue_status(cur: duckdb.DuckDBPyConnection, queue_id: int, status: str) -> None:
    cur.execute("UPDATE queues SET status = ? WHERE queue_id = ? RETURNING queue_id",
                [status, queue_id])
    if fetch1(cur) is None:
        raise QueueNotFound(f"no queue {queue_id}")


def probability_queues(store: Store, start=None, end=None):
    """Review queues drawn by a sampling design (not by hand, not comparisons, not
    adjudication) whose window overlaps [start, end), newest first (a DataFrame)."""
    return store.df(
        """SELECT queue_id, name, rubric_name, rubric_version, window_start, window_end
           FROM queues
           WHERE coalesce(purpose, 'review') = 'review' AND target_type <> 'comparison'
             AND coalesce(CAST(design->>'probability' AS BOOLEAN), false)
             AND ($start IS NULL OR window_end IS NULL OR window_end > $start)
             AND ($end IS NULL OR window_start IS NULL OR window_start < $end)
           ORDER BY queue_id DESC""", {"start": start, "end": end})
