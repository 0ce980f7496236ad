"""SQL that turns a queue's grades into one row per sampled item for estimation.

Per item: its inclusion probability and stratum, how many reviewers graded it, and ``y``:
the mean over its reviewers of their latest live grade's value (NULL when none has a value:
not graded, not applicable, or a flag without a value). Gold items are left out.
"""

from __future__ import annotations

import pandas as pd

from goldenloop.store.shared_sql import GRADE_OUTCOME as _Y  # what ``y`` is for one grade
from goldenloop.store.store import Store

_GROUP_COLUMNS = ("app", "model_version", "environment", "prompt_version")


def item_values(store: Store, queue_id: int, criterion: str, mode: str,
                params: dict) -> pd.DataFrame:
    return store.df(
        f"""WITH g AS (
                SELECT g.*, CASE WHEN coalesce(g.not_applicable, false) THEN NULL
                                 ELSE {_Y[mode]} END AS y
                FROM live_grades g
                WHERE g.queue_id = $q AND g.criterion = $c AND g.source = 'human'
                  AND NOT g.is_gold
                QUALIFY row_number() OVER (PARTITION BY g.queue_item_id, g.author_id
                                           ORDER BY g.created_at DESC, g.grade_id DESC) = 1),
            per AS (SELECT queue_item_id, count(*) AS grades, avg(y) AS y
                    FROM g GROUP BY queue_item_id)
            SELECT i.queue_item_id, i.inclusion_prob, coalesce(i.stratum, 'all') AS stratum,
                   coalesce(per.grades, 0) AS grades, per.y
            FROM queue_items i LEFT JOIN per USING (queue_item_id)
            WHERE i.queue_id = $q AND NOT i.is_gold
            ORDER BY i.queue_item_id""",
        {"q": queue_id, "c": criterion, **params})


def item_groups(store: Store, queue_id: int, by: str) -> pd.DataFrame:
    """(queue_item_id, group): the span column ``by`` of each item (for a session, of its
    first span; comparisons have none)."""
    if by not in _GROUP_COLUMNS:
        raise ValueError(f"group by one of {', '.join(_GROUP_COLUMNS)}")
    return store.df(
        f"""SELECT i.queue_item_id,
                   coalesce(s.{by}, (SELECT arg_min(x.{by}, x.start_time) FROM spans x
                                     WHERE i.target_type = 'session'
                                       AND x.session_id = i.target_id)) AS "group"
            FROM queue_items i LEFT JOIN spans s ON s.span_key = i.span_key
            WHERE i.queue_id = ? AND NOT i.is_gold""", [queue_id])
