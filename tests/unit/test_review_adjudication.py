"""Queue purpose: an adjudication queue's reviewer sees the earlier grades (no blind mode) and
their grades are marked ``is_adjudication``; review queues are unchanged."""

from __future__ import annotations

import pytest
from review_support import FULL, opts, synthetic_spans

from goldenloop import review
from goldenloop.sampling import SamplingError, Uniform, create_hand_queue, create_queue, make_frame


@pytest.fixture
def graded(store):
    """A review queue whose first three items ana and ben graded differently."""
    synthetic_spans(store, 200, seed=4)
    q = create_queue(store, opts("first pass", reviewers_per_item=2), make_frame(), Uniform(10),
                     seed=2)
    keys = []
    for _ in range(3):
        a = review.next_item(store, q.queue_id, "ana")
        review.submit(store, a, {**FULL, "correctness": 5})
        b = review.next_item(store, q.queue_id, "ben")
        assert b.queue_item_id == a.queue_item_id  # two reviewers per item: ben gets it too
        review.submit(store, b, {**FULL, "correctness": 1})
        keys.append(a.span_key)
    return q, keys


def adjudication_flags(store, queue_id):
    return store.rows("SELECT DISTINCT is_adjudication FROM grades WHERE queue_id = ?",
                      [queue_id])


@pytest.mark.slow
def test_purpose_is_stored_and_defaults_to_review(store, graded):
    q, keys = graded
    adj = create_hand_queue(store, opts("settle", purpose="adjudication"), span_keys=keys)
    assert review.get_queue(store, q.queue_id).purpose == "review"
    assert review.get_queue(store, adj.queue_id).purpose == "adjudication"
    assert store.rows("SELECT queue_id, purpose FROM queues ORDER BY queue_id") == [
        (q.queue_id, "review"), (adj.queue_id, "adjudication")]
    listed = review.list_queues(store).set_index("queue_id")["purpose"].to_dict()
    assert listed == {q.queue_id: "review", adj.queue_id: "adjudication"}
    assert not review.is_adjudication(store, q.queue_id)
    assert review.is_adjudication(store, adj.queue_id)


@pytest.mark.slow
def test_a_bad_purpose_is_refused(store, graded):
    with pytest.raises(SamplingError, match="purpose is one of review, adjudication"):
        create_hand_queue(store, opts("x", purpose="arbitration"), span_keys=graded[1])


@pytest.mark.slow
def test_adjudication_grades_are_marked_and_see_the_earlier_grades(store, graded):
    q, keys = graded
    adj = create_hand_queue(store, opts("settle", purpose="adjudication"), span_keys=keys)
    c = review.next_item(store, adj.queue_id, "cat")
    earlier = review.other_grades(store, c)
    seen = {(g["author_id"], g["value_number"]) for g in earlier if g["criterion"] == "correctness"}
    assert seen == {("ana", 5.0), ("ben", 1.0)}  # both sides of the disagreement
    # Only the disputed criterion is asked: ana and ben agreed on every other one.
    assert review.asked(store, c).criteria == ("correctness",)
    sub = review.submit(store, c, {"correctness": 3})
    assert adjudication_flags(store, adj.queue_id) == [(True,)]
    assert adjudication_flags(store, q.queue_id) == [(False,)]
    marked = store.rows(f"SELECT count(*) FROM grades WHERE grade_id IN "
                        f"({', '.join(map(str, sub.grade_ids))}) AND is_adjudication")
    assert marked == [(len(sub.grade_ids),)]


@pytest.mark.slow
def test_undo_in_an_adjudication_queue_keeps_the_mark(store, graded):
    adj = create_hand_queue(store, opts("settle", purpose="adjudication"), span_keys=graded[1])
    c = review.next_item(store, adj.queue_id, "cat")
    review.submit(store, c, {"correctness": FULL["correctness"]})
    back = review.undo_last(store, adj.queue_id, "cat")
    assert back.queue_item_id == c.queue_item_id
    review.submit(store, back, {"correctness": 2})
    live = store.rows(
        """SELECT value_number, is_adjudication FROM grades g
           WHERE queue_id = ? AND criterion = 'correctness' AND NOT g.retracted
             AND NOT EXISTS (SELECT 1 FROM grades s WHERE s.supersedes = g.grade_id)""",
        [adj.queue_id])
    assert live == [(2.0, True)]
