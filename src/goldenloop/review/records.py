"""The review part's records that other parts and the pages read and write: queues and their
items (sampling makes them, the demo and Argilla fill them), human grades and corrections
(Argilla pulls them in), and the rows a grade may target (comparisons).

This is the public surface of ``review.sql`` and ``review.sql_payload``: other features use
these names and never import review's SQL modules, so review may change its SQL freely
behind them.
"""

from __future__ import annotations

from goldenloop.review.sql import (
    HUMAN_GRADE_COLUMNS,
    ITEM_COLUMNS,
    PURPOSES,
    insert_correction,
    insert_human_grades,
    insert_items,
    insert_queue,
    live_grades,
    max_position,
    probability_queues,
    queue,
    queue_count,
    queues,
    refresh_item,
    refresh_items,
)
from goldenloop.review.sql_payload import comparison

__all__ = [
    "HUMAN_GRADE_COLUMNS", "ITEM_COLUMNS", "PURPOSES", "comparison", "insert_correction",
    "insert_human_grades", "insert_items", "insert_queue", "live_grades", "max_position",
    "probability_queues", "queue", "queue_count", "queues", "refresh_item",
    "refresh_items",
]
