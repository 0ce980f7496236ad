"""Claims: a reviewer holds one item at a time per queue, under a lock that expires.

``next_item`` resumes the reviewer's live claim or claims the next item, in one
``UPDATE … RETURNING`` under the store's write lock. Every interaction (``renew``, opening
the item again) pushes the expiry forward; an abandoned claim expires and the item goes to
the next reviewer. ``skip`` means "not for me": this reviewer never gets the item again,
others still do. ``later`` puts it back, and it comes back to this reviewer after the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from goldenloop.access import roles
from goldenloop.errors import GoldenloopError
from goldenloop.review import sql as review_sql
from goldenloop.store import Store, audit
from goldenloop.store.shared_sql import fetch1

DEFAULT_LOCK_SECONDS = 600


class ClaimLost(GoldenloopError):
    """The claim expired and another reviewer took the item (a grade is still kept, as late)."""


class QueueClosed(GoldenloopError):
    """The queue no longer hands out items."""


@dataclass(frozen=True)
class Claim:
    """What a reviewer holds. Whether the item is a gold item is deliberately not shown."""

    claim_id: int
    queue_id: int
    queue_item_id: int
    reviewer: str
    target_type: str          # span, session, comparison, item
    target_id: str
    span_key: int | None
    claimed_at: datetime
    expires_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Claim:
        return cls(claim_id=int(row["claim_id"]), queue_id=int(row["queue_id"]),
                   queue_item_id=int(row["queue_item_id"]), reviewer=row["claimed_by"],
                   target_type=row["target_type"], target_id=row["target_id"],
                   span_key=None if row["span_key"] is None else int(row["span_key"]),
                   claimed_at=row["claimed_at"], expires_at=row["claim_expires_at"])


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _new_claim_id(cur) -> int:
    cur.execute("SELECT nextval('claim_seq')")
    return int(fetch1(cur)[0])


def next_item(store: Store, queue_id: int, reviewer: str, *,
              lock_seconds: float = DEFAULT_LOCK_SECONDS) -> Claim | None:
    """The reviewer's current item, or a newly claimed one. None when no item is free for
    them now: ``left_for`` then tells whether items held by others may still come to them."""
    who = roles.require(store, reviewer, roles.Action.GRADE)
    if review_sql.queue(store, queue_id)["status"] != "open":
        raise QueueClosed(f"queue {queue_id} is closed")
    return store.write(claim_next, queue_id, who, lock_seconds)


def claim_next(cur, queue_id: int, reviewer: str, lock_seconds: float) -> Claim | None:
    """Inside a transaction: the reviewer's live claim or the next item (see ``next_item``)."""
    now = utcnow()
    row = review_sql.claim_next(cur, queue_id, reviewer, _new_claim_id(cur), now,
                                now + timedelta(seconds=lock_seconds))
    return _recorded(cur, row, now)


def claim_item(cur, queue_item_id: int, reviewer: str, lock_seconds: float) -> Claim | None:
    """Claim a given item inside a transaction unless another reviewer holds it live."""
    now = utcnow()
    row = review_sql.claim_item(cur, queue_item_id, reviewer, _new_claim_id(cur), now,
                                now + timedelta(seconds=lock_seconds))
    return _recorded(cur, row, now)


def _recorded(cur, row: dict[str, Any] | None, now: datetime) -> Claim | None:
    """The claim a claiming UPDATE returned, recorded in the claims log (None if none)."""
    if row is None:
        return None
    review_sql.record_claim(cur, row, now)
    return Claim.from_row(row)


def renew(store: Store, claim: Claim, *, lock_seconds: float = DEFAULT_LOCK_SECONDS,
          unless_renewed_within: float = 0.0) -> Claim:
    """Push the claim's expiry forward (call it on every interaction). A claim that expired
    but that nobody took is still held; one another reviewer took raises ClaimLost.

    ``unless_renewed_within`` (seconds) skips the write when the claim was taken or renewed
    that recently: an item is only handed to someone else after its lock expired, so a claim
    with most of its lock left is surely still held, and a screen that renews on every click
    need not queue a write behind the store's lock for each one."""
    left = (claim.expires_at - utcnow()).total_seconds()
    if unless_renewed_within > 0 and left > lock_seconds - unless_renewed_within:
        return claim
    def write(cur) -> datetime | None:
        now = utcnow()
        expires = now + timedelta(seconds=lock_seconds)
        return expires if review_sql.renew(cur, claim.queue_item_id, claim.claim_id, now,
                                           expires) else None

    expires = store.write(write)
    if expires is None:
        raise ClaimLost(f"item {claim.queue_item_id} went to another reviewer after your lock "
                        "expired; a grade you submit is still kept, marked late")
    return replace(claim, expires_at=expires)


def _end(store: Store, claim: Claim, outcome: str) -> None:
    def write(cur) -> None:
        now = utcnow()
        review_sql.end_claim(cur, claim.queue_item_id, claim.claim_id, outcome, now)
        review_sql.refresh_item(cur, claim.queue_item_id, now)
        audit.record(cur, claim.reviewer, f"review.{outcome}", f"queue_item:{claim.queue_item_id}")

    store.write(write)


def skip(store: Store, claim: Claim) -> None:
    """Not for this reviewer: they will not get the item again; others still may."""
    _end(store, claim, "skipped")


def later(store: Store, claim: Claim) -> None:
    """Come back later: the item is freed and returns to this reviewer after the others."""
    _end(store, claim, "later")


def release(store: Store, claim: Claim) -> None:
    """Give the item back with no judgement (e.g. the reviewer signs out)."""
    _end(store, claim, "released")
