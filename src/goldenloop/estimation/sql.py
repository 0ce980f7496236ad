"""SQL that turns a queue's grades into one row per sampled item for estimation.

Per item: its inclusion probability and stratum, how many reviewers graded it, and ``y``:
the mean over its reviewers of their latest live grade's value (NULL when none has a value:
not graded, not applicable, or a flag without a value). Gold items are left out.
"""

from __future__ import annotations

import pandas as pd

from goldenloop.store.store import Store

# What ``y`` is for one grade, by estimation mode (human grades here; judge grades in the
# prediction-powered estimate below use the same definition).
_Y = {
    "mean": "g.value_number",
    "at_least": "CASE WHEN g.value_number IS NULL THEN NULL "
                "ELSE CAST(g.value_number >= $threshold AS DOUBLE) END",
    "label": "CASE WHEN g.value_label IS NULL AND g.value_labels IS NULL THEN NULL "
             "ELSE CAST(coalesce(g.value_label = $label, false) "
             "OR coalesce(list_contains(g.value_labels, $label), false) AS DOUBLE) END",
}
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


# -- the judge's side of a prediction-powered estimate (ppi) ---------------------------------
def queue_judge_version(store: Store, queue_id: int, criterion: str,
                        among: list[str] | None = None) -> str | None:
    """The judge version that graded most of the queue's (non-gold) items on ``criterion``,
    of the versions ``among`` (None: any)."""
    return store.scalar(
        """SELECT g.judge_version FROM live_grades g
           JOIN queue_items i ON i.target_type = g.target_type AND i.target_id = g.target_id
           WHERE i.queue_id = $q AND NOT i.is_gold AND g.source = 'judge' AND g.criterion = $c
             AND ($among::VARCHAR[] IS NULL
                  OR list_contains($among::VARCHAR[], coalesce(g.judge_version, '(no version)')))
           GROUP BY g.judge_version ORDER BY count(DISTINCT i.queue_item_id) DESC,
                    max(g.created_at) DESC LIMIT 1""",
        {"q": queue_id, "c": criterion, "among": among})


def queue_judge_values(store: Store, queue_id: int, criterion: str, judge_version: str,
                       mode: str, params: dict) -> pd.DataFrame:
    """(queue_item_id, f): the judge version's latest value on each queue item, as ``y`` is
    defined for human grades in estimation (a mean, a share at least a threshold, a label)."""
    return store.df(
        f"""SELECT i.queue_item_id, arg_max({_Y[mode]}, g.created_at) AS f
            FROM queue_items i
            JOIN live_grades g ON g.target_type = i.target_type AND g.target_id = i.target_id
            WHERE i.queue_id = $q AND NOT i.is_gold AND g.source = 'judge'
              AND g.criterion = $c AND g.judge_version = $v
              AND NOT coalesce(g.not_applicable, false)
            GROUP BY i.queue_item_id""",
        {"q": queue_id, "c": criterion, "v": judge_version, **params})
