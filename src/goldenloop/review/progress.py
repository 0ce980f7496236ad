"""Progress of a queue and of each reviewer in it, and time spent per item.

Gold items are counted apart: they are extra items every reviewer grades, not part of the
sample. Time spent is from claiming the item to submitting its grades.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from goldenloop.access import roles
from goldenloop.review import sql as review_sql
from goldenloop.review import sql_stats as review_stats_sql
from goldenloop.review.claims import utcnow
from goldenloop.store import Store


@dataclass(frozen=True)
class QueueProgress:
    queue_id: int
    items: int                      # sampled items (gold items apart)
    done: int                       # items with all the reviewers they need
    claimed: int                    # held by someone right now
    skipped: int                    # skipped and not graded by anyone yet
    graded_at_least_once: int
    reviews_needed: int             # items × reviewers per item
    reviews_done: int
    gold_items: int
    late_reviews: int
    median_seconds: float | None

    @property
    def fraction_done(self) -> float:
        return self.reviews_done / self.reviews_needed if self.reviews_needed else 1.0


@dataclass(frozen=True)
class GradingProgress:
    """The grading screen's progress line: cheap enough for every submission."""

    left_for_me: int                # items this reviewer may still get (as ``left_for``)
    reviews_done: int
    reviews_needed: int

    @property
    def fraction_done(self) -> float:
        return min(1.0, self.reviews_done / self.reviews_needed) if self.reviews_needed else 1.0


def grading_progress(store: Store, queue_id: int, reviewer: str) -> GradingProgress:
    left, done, needed = review_sql.grading_counts(store.cursor(), queue_id,
                                                   roles.normalize_name(reviewer))
    return GradingProgress(left, done, needed)


def queue_progress(store: Store, queue_id: int) -> QueueProgress:
    counts = review_stats_sql.queue_counts(store, queue_id, utcnow())
    return QueueProgress(queue_id=queue_id, **{k: (v if k == "median_seconds" else int(v or 0))
                                               for k, v in counts.items()})


def reviewer_progress(store: Store, queue_id: int) -> pd.DataFrame:
    """Per reviewer: graded, gold graded, late, skipped, put off, median and total seconds,
    last graded time."""
    return review_stats_sql.reviewer_table(store, queue_id)


def left_for(store: Store, queue_id: int, reviewer: str) -> int:
    """How many items this reviewer may still be given in the queue (including items others
    hold now that still need this reviewer)."""
    return review_stats_sql.left_for(store, queue_id, roles.normalize_name(reviewer))
