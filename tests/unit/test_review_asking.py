"""What an item asks and what undo gives back: every missing criterion named at once, undo
returning the picks it retracted, optional criteria (a versioned rubric field), a queue
asking a subset of its rubric, adjudication asking only the disputed criteria, and the names
a reviewer can pick from. On a real store."""

from __future__ import annotations

import pytest
from review_support import FULL, opts, synthetic_spans

from goldenloop import review, rubric
from goldenloop.errors import GoldenloopError
from goldenloop.sampling import Uniform, create_hand_queue, create_queue, make_frame


@pytest.fixture
def queue(store):
    synthetic_spans(store, 300, seed=1)
    return create_queue(store, opts(), make_frame(), Uniform(12), seed=7)


def test_every_missing_required_criterion_is_named_at_once(store, queue):
    c = review.next_item(store, queue.queue_id, "ana")
    with pytest.raises(review.GradeError) as err:
        review.submit(store, c, {"tone": ["on-brand"], "note": "x"})
    assert err.value.missing == ["correctness", "conciseness", "safety"]  # the rubric's order
    assert "correctness, conciseness, safety" in str(err.value)
    assert store.scalar("SELECT count(*) FROM grades WHERE author_id = 'ana'") == 0


@pytest.mark.slow
def test_undo_hands_the_item_back_with_the_picks_it_had(store, queue):
    c = review.next_item(store, queue.queue_id, "ana")
    given = {**FULL, "tone": ["too formal", "on-brand"], "note": "see the refund policy",
             "safety": review.Answer(not_applicable=True, flagged=True)}
    _, nxt = review.submit_and_next(store, c, given, correction="Refunds take 5 days.")
    assert nxt.queue_item_id != c.queue_item_id
    back = review.undo(store, queue.queue_id, "ana")
    assert back.claim.queue_item_id == c.queue_item_id
    a = back.answers
    assert a["correctness"].value == 4 and isinstance(a["correctness"].value, int)
    assert a["tone"].value == ["on-brand", "too formal"]  # stored in the rubric's order
    assert a["conciseness"].value == "concise" and a["note"].value == "see the refund policy"
    assert a["safety"].not_applicable and a["safety"].flagged and a["safety"].value is None
    assert back.correction == "Refunds take 5 days."
    # the answers handed back submit again unchanged: the same values as the first time
    review.submit(store, back.claim, a, correction=back.correction)
    rows = store.rows("""SELECT criterion, value_number, value_label, value_labels, value_text,
                                not_applicable, flagged FROM live_grades
                         WHERE author_id = 'ana' AND queue_item_id = ? ORDER BY criterion""",
                      [c.queue_item_id])
    assert [r[0] for r in rows] == ["conciseness", "correctness", "note", "safety", "tone"]
    assert rows[1][1] == 4.0 and list(rows[4][3]) == ["on-brand", "too formal"]
    assert rows[3][5:] == (True, True)
    assert review.undo(store, queue.queue_id, "zed") is None  # nothing of theirs to undo


def test_an_optional_criterion_is_a_versioned_rubric_field(store):
    synthetic_spans(store, 200, seed=2)
    rubric.sync(store)
    base = rubric.current(store, "default")
    assert base.criterion("tone").required
    tone = base.criterion("tone").model_copy(update={"required": False})
    edited = base.model_copy(update={"criteria": tuple(
        tone if c.name == "tone" else c for c in base.criteria)})
    saved = rubric.save_edit(store, edited, "lead")
    assert saved.version != base.version and "required: false" in rubric.to_yaml(saved)
    q = create_queue(store, opts("optional tone"), make_frame(), Uniform(5), seed=3)
    c = review.next_item(store, q.queue_id, "ana")
    assert review.asked(store, c).required(saved) == ("correctness", "conciseness", "safety")
    without_tone = {k: v for k, v in FULL.items() if k != "tone"}
    assert len(review.submit(store, c, without_tone).grade_ids) == 3


def test_a_queue_asks_a_subset_of_its_rubric(store, queue):
    with pytest.raises(GoldenloopError, match="no criteria helpfulness, kindness"):
        review.set_criteria(store, queue.queue_id, ["safety", "helpfulness", "kindness"], "lead")
    review.set_criteria(store, queue.queue_id, ["safety", "correctness"], "lead")
    assert store.scalar("SELECT criteria FROM queues WHERE queue_id = ?",
                        [queue.queue_id]) == ["correctness", "safety"]  # the rubric's order
    c = review.next_item(store, queue.queue_id, "ana")
    assert review.asked(store, c).criteria == ("correctness", "safety")
    with pytest.raises(review.GradeError, match="not asked for this item: conciseness, tone"):
        review.submit(store, c, FULL)
    with pytest.raises(review.GradeError) as err:
        review.submit(store, c, {"correctness": 5})
    assert err.value.missing == ["safety"]  # conciseness is required, but not asked here
    assert len(review.submit(store, c, {"correctness": 5, "safety": "safe"}).grade_ids) == 2
    assert store.scalar("SELECT count(*) FROM audit_log WHERE action = 'queue.criteria'") == 1
    with pytest.raises(GoldenloopError):  # a reviewer cannot change what a queue asks
        (store.path.parent / "roles.yaml").write_text("leads: [lead]\n", encoding="utf-8")
        review.set_criteria(store, queue.queue_id, None, "ana")


def test_a_queue_is_created_asking_a_subset(store):
    synthetic_spans(store, 200, seed=4)
    with pytest.raises(GoldenloopError, match="no criteria kindness"):
        create_queue(store, opts("bad", criteria=("safety", "kindness")), make_frame(),
                     Uniform(5), seed=1)
    with pytest.raises(GoldenloopError, match="at least one criterion"):
        create_hand_queue(store, opts("none", criteria=()), span_keys=[1, 2])
    assert store.scalar("SELECT count(*) FROM queues") == 0  # nothing half made
    q = create_hand_queue(store, opts("two", criteria=("safety", "tone")), span_keys=[1, 2])
    assert store.scalar("SELECT criteria FROM queues WHERE queue_id = ?",
                        [q.queue_id]) == ["tone", "safety"]  # the rubric's order
    assert review.asked(store, review.next_item(store, q.queue_id, "ana")).criteria == (
        "tone", "safety")
    every = create_queue(store, opts("all"), make_frame(), Uniform(5), seed=1)
    assert store.scalar("SELECT criteria FROM queues WHERE queue_id = ?",
                        [every.queue_id]) is None


def test_adjudication_asks_only_the_disputed_criteria(store):
    synthetic_spans(store, 100, seed=3)
    q = create_queue(store, opts("double", reviewers_per_item=2), make_frame(), Uniform(3),
                     seed=1)
    first = review.next_item(store, q.queue_id, "ana")
    review.submit(store, first, {**FULL, "note": "ok"})
    second = review.next_item(store, q.queue_id, "ben")
    assert second.queue_item_id == first.queue_item_id
    review.submit(store, second, {**FULL, "correctness": 2, "note": "wrong total"})
    adj = create_hand_queue(store, opts("settle", purpose="adjudication"),
                            span_keys=[first.span_key])
    c = review.next_item(store, adj.queue_id, "chloe")
    asked = review.asked(store, c)
    assert asked.criteria == ("correctness",) and asked.disputed  # notes never dispute
    with pytest.raises(review.GradeError, match="not asked for this item: conciseness"):
        review.submit(store, c, {"correctness": 3, "conciseness": "concise"})
    review.submit(store, c, {"correctness": 3})
    rows = store.rows("SELECT criterion, value_number, is_adjudication FROM live_grades "
                      "WHERE author_id = 'chloe'")
    assert rows == [("correctness", 3.0, True)]
    shown = review.other_grades(store, c)
    assert {r["author_id"] for r in shown} == {"ana", "ben"}
    assert {r["reason"] for r in shown if r["criterion"] == "correctness"} == {None}


def test_an_adjudication_item_without_a_dispute_asks_the_queues_criteria(store):
    synthetic_spans(store, 50, seed=4)
    adj = create_hand_queue(store, opts("settle", purpose="adjudication"), span_keys=[1, 2])
    c = review.next_item(store, adj.queue_id, "chloe")
    asked = review.asked(store, c)
    assert not asked.disputed and asked.criteria == tuple(
        x.name for x in review.queue_rubric(store, adj.queue_id).criteria)


def test_known_reviewers_come_from_roles_claims_and_grades(store, queue):
    (store.path.parent / "roles.yaml").write_text("leads: [lee]\nreviewers: [kim, ana]\n",
                                                  encoding="utf-8")
    c = review.next_item(store, queue.queue_id, "ana")
    review.submit(store, c, FULL)
    review.next_item(store, queue.queue_id, "kim")
    assert review.known_reviewers(store) == ["ana", "kim", "lee"]
