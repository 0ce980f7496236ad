"""Two reviewers grading one queue at once, each in its own thread with its own cursor (as the
app's sessions do): they never hold the same item and no grade is lost."""

from __future__ import annotations

import threading
import time

import pytest
from review_support import FULL, opts, synthetic_spans

from goldenloop import review
from goldenloop.sampling import Uniform, create_queue, make_frame

REVIEWERS = ("ana", "ben")


def _next(store, queue_id, reviewer, lock_seconds):
    """The next item; when none is free but some are held by the other reviewer (and still
    need this one), wait for them as the screen would."""
    while True:
        c = review.next_item(store, queue_id, reviewer, lock_seconds=lock_seconds)
        if c is not None or review.left_for(store, queue_id, reviewer) == 0:
            return c
        time.sleep(0.005)


def _work(store, queue_id, reviewer, held, guard, log, errors, lock_seconds):
    try:
        while (c := _next(store, queue_id, reviewer, lock_seconds)) is not None:
            with guard:
                holder = held.get(c.queue_item_id)
                if holder not in (None, reviewer) and lock_seconds > 1:
                    errors.append(f"{reviewer} got item {c.queue_item_id} held by {holder}")
                held[c.queue_item_id] = reviewer
            review.payload(store, c)  # a read on this thread's own cursor, between writes
            with guard:
                held.pop(c.queue_item_id, None)
            sub = review.submit(store, c, {**FULL, "correctness": 1 + len(log) % 5})
            with guard:
                log.append((reviewer, c.queue_item_id, sub.grade_ids, sub.late))
    except Exception as exc:  # surfaced in the main thread
        errors.append(repr(exc))


def _run(store, queue_id, lock_seconds=600.0):
    held, guard, log, errors = {}, threading.Lock(), [], []
    threads = [threading.Thread(target=_work, args=(store, queue_id, r, held, guard, log,
                                                    errors, lock_seconds)) for r in REVIEWERS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return log


def _overlapping_claims(store, queue_id) -> int:
    """Pairs of claims by different reviewers on one item whose holding times overlap."""
    return store.scalar(
        """SELECT count(*) FROM queue_claims a JOIN queue_claims b
             ON a.queue_item_id = b.queue_item_id AND a.reviewer < b.reviewer
           WHERE a.queue_id = ? AND a.claimed_at < coalesce(b.ended_at, b.expires_at)
             AND b.claimed_at < coalesce(a.ended_at, a.expires_at)""", [queue_id])


@pytest.mark.parametrize("iteration", range(3))
@pytest.mark.slow
def test_two_reviewers_never_hold_one_item_and_lose_no_grade(store, iteration):
    synthetic_spans(store, 400, seed=iteration)
    q = create_queue(store, opts(reviewers_per_item=2), make_frame(), Uniform(40), seed=iteration)
    log = _run(store, q.queue_id)
    assert len(log) == 2 * q.items  # every item graded by both, once each
    assert {(r, i) for r, i, _, _ in log} == {(r, i) for r in REVIEWERS
                                              for i in {i for _, i, _, _ in log}}
    ids = [g for _, _, grade_ids, _ in log for g in grade_ids]
    assert store.scalar("SELECT count(*) FROM grades WHERE list_contains(?, grade_id)",
                        [ids]) == len(ids) == 4 * len(log)
    assert not any(late for *_, late in log)
    assert _overlapping_claims(store, q.queue_id) == 0
    assert store.scalar("SELECT count(*) FROM queue_items WHERE queue_id = ? AND "
                        "(status <> 'done' OR reviewers_done <> 2)", [q.queue_id]) == 0


@pytest.mark.slow
def test_locks_expiring_under_load_keep_every_grade(store):
    """With locks that expire at once, items change hands mid-work: every submission is
    still stored (late where the lock was lost) and each reviewer counts once per item."""
    synthetic_spans(store, 300, seed=9)
    q = create_queue(store, opts(), make_frame(), Uniform(30), seed=9)
    log = _run(store, q.queue_id, lock_seconds=0.0)
    ids = [g for _, _, grade_ids, _ in log for g in grade_ids]
    assert store.scalar("SELECT count(*) FROM grades WHERE list_contains(?, grade_id)",
                        [ids]) == len(ids) == 4 * len(log)
    done = store.df("SELECT queue_item_id, reviewers_done FROM queue_items WHERE queue_id = ?",
                    [q.queue_id]).set_index("queue_item_id").reviewers_done
    authors = store.df("SELECT queue_item_id, count(DISTINCT author_id) AS n FROM grades "
                       "WHERE queue_id = ? GROUP BY ALL", [q.queue_id]).set_index(
                           "queue_item_id").n
    assert (done[authors.index] == authors).all() and (done >= 1).all()
    late = store.scalar("SELECT count(*) FROM grades WHERE queue_id = ? AND late", [q.queue_id])
    assert late == 4 * sum(1 for *_, is_late in log if is_late)
