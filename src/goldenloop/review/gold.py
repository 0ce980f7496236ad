"""Gold items: a lead seeds items with known answers; every reviewer grades them once, unaware
which they are, and leads see each reviewer's accuracy on them.

A gold item is an extra queue item (``is_gold``) with no inclusion probability: it is not
part of the sample, so estimates leave it out. Its known answers are grades flagged
``is_gold`` by the lead; the lead who seeded it is never given it to grade.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from goldenloop.access import roles
from goldenloop.review import sql as review_sql
from goldenloop.review import sql_payload as payload_sql
from goldenloop.review import sql_stats as review_stats_sql
from goldenloop.review.answers import Answer, GradeError, Value
from goldenloop.review.claims import utcnow
from goldenloop.review.submit import check_answers, grade_rows, queue_rubric
from goldenloop.store import Store, audit

TARGET_TYPES = ("span", "session", "item")


def _check_target(cur, target_type: str, target_id: str) -> int | None:
    """The span key for a span target; raises GradeError when the target does not exist."""
    if target_type not in TARGET_TYPES:
        raise GradeError(f"a gold item is one of {', '.join(TARGET_TYPES)}")
    found = {"span": lambda: payload_sql.span(cur, int(target_id)),
             "session": lambda: payload_sql.session_turns(cur, target_id),
             "item": lambda: payload_sql.item(cur, target_id)}[target_type]()
    if not found:
        raise GradeError(f"no {target_type} {target_id!r} to make a gold item of")
    return int(target_id) if target_type == "span" else None


def add_gold(store: Store, queue_id: int, target_type: str, target_id: str | int,
             answers: Mapping[str, Answer | Value], seeded_by: str) -> int:
    """Add a gold item with its known answers to a queue; returns its queue item id."""
    who = roles.require(store, seeded_by, roles.Action.SEED_GOLD)
    q = review_sql.queue(store, queue_id)
    if target_type != q["target_type"] and target_type != "item":
        raise GradeError(f"queue {queue_id} grades {q['target_type']}s, not {target_type}s")
    rubric = queue_rubric(store, queue_id)
    checked = check_answers(rubric, answers)
    target_id = str(target_id)

    def write(cur) -> int:
        span_key = _check_target(cur, target_type, target_id)
        top = review_sql.max_position(cur, queue_id)
        position = int(np.random.default_rng().integers(0, top + 2))  # somewhere among the rest
        now = utcnow()
        added = review_sql.insert_items(cur, queue_id, pa.table({
            "target_type": [target_type], "target_id": [target_id],
            "span_key": pa.array([span_key], pa.int64()), "is_gold": [True],
            "reviewers_needed": pa.array([None], pa.int32()),  # every reviewer, once
            "position": pa.array([position], pa.int32()),
        }), now)
        if not added:
            raise GradeError(f"{target_type} {target_id} is already in queue {queue_id}")
        item = review_sql.item(cur, review_sql.item_id_of(cur, queue_id, target_type, target_id))
        rows = grade_rows(item, who, rubric, checked, "AB", now, False, None, {}, is_gold=True)
        review_sql.insert_human_grades(cur, rows)
        audit.record(cur, who, "gold.add", f"queue_item:{item['queue_item_id']}",
                     {"answers": sorted(checked)})
        return int(item["queue_item_id"])

    return store.write(write)


def gold_accuracy(store: Store, queue_id: int | None = None) -> pd.DataFrame:
    """For leads: per reviewer and criterion, gold items graded, accuracy (share matching the
    known answer) and mean absolute error on numeric criteria; all queues unless one is named."""
    return review_stats_sql.gold_accuracy(store, queue_id)
