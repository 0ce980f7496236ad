"""SQL of review statistics: progress per queue and per reviewer, time spent, and reviewers'
accuracy on gold items. Only live grades count (not retracted, not superseded); a gold
item's known answers are grades flagged ``is_gold``, and the reviewers' own grades on gold
items are ordinary grades."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from goldenloop.store.shared_sql import fetch1
from goldenloop.store.store import Store

_REVIEWER_GRADES = """
    SELECT g.* FROM live_grades g
    WHERE g.queue_id = $q AND g.source = 'human' AND NOT g.is_gold"""


def queue_counts(store: Store, queue_id: int, now: datetime) -> dict:
    cur = store.cursor()
    cur.execute(
        f"""WITH i AS (SELECT * FROM queue_items WHERE queue_id = $q),
                 g AS ({_REVIEWER_GRADES}),
                 per_item AS (SELECT queue_item_id, author_id, bool_or(late) AS late,
                                     max(seconds_spent) AS seconds
                              FROM g GROUP BY ALL)
            SELECT
              (SELECT count(*) FROM i WHERE NOT is_gold) AS items,
              (SELECT count(*) FROM i WHERE NOT is_gold AND status = 'done') AS done,
              (SELECT count(*) FROM i WHERE NOT is_gold AND claim_expires_at > $now) AS claimed,
              (SELECT count(*) FROM i WHERE NOT is_gold AND status = 'skipped') AS skipped,
              (SELECT count(*) FROM i WHERE NOT is_gold AND reviewers_done > 0) AS graded_at_least_once,
              (SELECT coalesce(sum(reviewers_needed), 0) FROM i WHERE NOT is_gold) AS reviews_needed,
              (SELECT coalesce(sum(least(reviewers_done, reviewers_needed)), 0)
                 FROM i WHERE NOT is_gold) AS reviews_done,
              (SELECT count(*) FROM i WHERE is_gold) AS gold_items,
              (SELECT count(*) FILTER (WHERE late) FROM per_item) AS late_reviews,
              (SELECT median(seconds) FROM per_item) AS median_seconds""",
        {"q": queue_id, "now": now})
    cols = [d[0] for d in cur.description]
    return dict(zip(cols, fetch1(cur), strict=True))


def reviewer_table(store: Store, queue_id: int) -> pd.DataFrame:
    """One row per reviewer who touched the queue."""
    return store.df(
        f"""WITH g AS ({_REVIEWER_GRADES}),
                 gi AS (SELECT g.author_id AS reviewer, g.queue_item_id, bool_or(g.late) AS late,
                               max(g.seconds_spent) AS seconds, max(g.created_at) AS graded_at,
                               bool_or(i.is_gold) AS gold
                        FROM g JOIN queue_items i USING (queue_item_id) GROUP BY ALL),
                 c AS (SELECT reviewer,
                              count(DISTINCT queue_item_id) FILTER (WHERE outcome = 'skipped')
                                  AS skipped,
                              count(DISTINCT queue_item_id) FILTER (WHERE outcome = 'later')
                                  AS put_off
                       FROM queue_claims WHERE queue_id = $q GROUP BY reviewer),
                 r AS (SELECT reviewer, count(*) FILTER (WHERE NOT gold) AS graded,
                              count(*) FILTER (WHERE gold) AS gold_graded,
                              count(*) FILTER (WHERE late) AS late,
                              median(seconds) AS median_seconds, sum(seconds) AS total_seconds,
                              max(graded_at) AS last_graded_at
                       FROM gi GROUP BY reviewer)
            SELECT reviewer, coalesce(r.graded, 0) AS graded,
                   coalesce(r.gold_graded, 0) AS gold_graded, coalesce(r.late, 0) AS late,
                   coalesce(c.skipped, 0) AS skipped, coalesce(c.put_off, 0) AS put_off,
                   r.median_seconds, r.total_seconds, r.last_graded_at
            FROM r FULL JOIN c USING (reviewer)
            ORDER BY graded DESC, reviewer""", {"q": queue_id})


def left_for(store: Store, queue_id: int, reviewer: str) -> int:
    """Items this reviewer may still get: not done, not graded or skipped by them."""
    return int(store.scalar(
        """SELECT count(*) FROM queue_items c
            WHERE c.queue_id = $q
              AND (c.reviewers_needed IS NULL OR c.reviewers_done < c.reviewers_needed)
              AND NOT EXISTS (SELECT 1 FROM live_grades g WHERE g.queue_item_id = c.queue_item_id
                              AND g.author_id = $r)
              AND NOT EXISTS (SELECT 1 FROM queue_claims h
                              WHERE h.queue_item_id = c.queue_item_id AND h.reviewer = $r
                                AND h.outcome = 'skipped')""", {"q": queue_id, "r": reviewer}))


def gold_accuracy(store: Store, queue_id: int | None) -> pd.DataFrame:
    """Per reviewer and criterion: gold items graded, share matching the known answer
    (same label, labels, number, or not-applicable), and mean absolute error of numbers.
    Free-text criteria have no right answer and are left out."""
    return store.df(
        """WITH live AS (
                SELECT g.* FROM live_grades g JOIN queue_items i USING (queue_item_id)
                WHERE i.is_gold AND g.source = 'human' AND ($q IS NULL OR g.queue_id = $q)
                  AND g.value_text IS NULL),
            gold AS (SELECT * FROM live WHERE is_gold),
            rev AS (SELECT * FROM live WHERE NOT is_gold)
            SELECT r.author_id AS reviewer, r.criterion, count(*) AS gold_items,
                   avg(CASE WHEN coalesce(r.not_applicable, false) = coalesce(k.not_applicable, false)
                             AND r.value_label IS NOT DISTINCT FROM k.value_label
                             AND r.value_number IS NOT DISTINCT FROM k.value_number
                             AND list_sort(r.value_labels) IS NOT DISTINCT FROM list_sort(k.value_labels)
                            THEN 1.0 ELSE 0.0 END) AS accuracy,
                   avg(abs(r.value_number - k.value_number)) AS mean_abs_error
            FROM rev r JOIN gold k ON k.queue_item_id = r.queue_item_id
                                  AND k.criterion = r.criterion
            GROUP BY ALL ORDER BY reviewer, r.criterion""", {"q": queue_id})
