"""Reading queues (typed) and closing them. Queues are made by ``goldenloop.sampling``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from goldenloop.access import roles
from goldenloop.review import sql as review_sql
from goldenloop.store import Store, audit


@dataclass(frozen=True)
class Queue:
    queue_id: int
    name: str
    description: str | None
    target_type: str                # span, session, comparison
    design: dict[str, Any]          # kind, n, seed, probability, ...
    frame: dict[str, Any]           # the sampling frame (empty for a list of spans)
    population_size: int | None
    rubric_name: str
    rubric_version: str
    reviewers_per_item: int
    created_by: str
    created_at: datetime
    status: str                     # open, closed
    purpose: str = "review"         # review, adjudication (sees earlier grades)

    @property
    def is_probability_sample(self) -> bool:
        return bool(self.design.get("probability"))


def get_queue(store: Store, queue_id: int) -> Queue:
    q = review_sql.queue(store, queue_id)
    return Queue(queue_id=q["queue_id"], name=q["name"], description=q["description"],
                 target_type=q["target_type"], design=q["design"], frame=q["frame_filter"],
                 population_size=q["population_size"], rubric_name=q["rubric_name"],
                 rubric_version=q["rubric_version"], reviewers_per_item=q["reviewers_per_item"],
                 created_by=q["created_by"], created_at=q["created_at"], status=q["status"],
                 purpose=q.get("purpose") or "review")


def list_queues(store: Store) -> pd.DataFrame:
    """Every queue with its counts of items, done items and gold items, newest first."""
    return review_sql.queues(store)


def close_queue(store: Store, queue_id: int, closed_by: str, *, reopen: bool = False) -> None:
    """Stop (or resume) handing out items; grades already made stay."""
    who = roles.require(store, closed_by, roles.Action.CREATE_QUEUE)

    def write(cur) -> None:
        review_sql.set_queue_status(cur, queue_id, "open" if reopen else "closed")
        audit.record(cur, who, "queue.reopen" if reopen else "queue.close", f"queue:{queue_id}")

    store.write(write)


def known_reviewers(store: Store) -> list[str]:
    """The names a reviewer can pick from: everyone named in ``roles.yaml`` and everyone who
    has claimed or graded an item, sorted."""
    found = roles.load(store.path.parent)
    named = set(found.leads) | set(found.reviewers or ())
    return sorted(named | set(review_sql.known_reviewers(store)))
