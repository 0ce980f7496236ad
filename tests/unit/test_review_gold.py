"""Gold items: seeded by a lead with known answers, graded by every reviewer once without
being told, kept out of progress and estimates, and scored per reviewer for leads."""

from __future__ import annotations

import pytest
from review_support import FULL, opts, synthetic_spans, write_roles

from goldenloop import review
from goldenloop.access.roles import PermissionDenied
from goldenloop.sampling import Uniform, create_queue, make_frame


@pytest.fixture
def queue(store):
    synthetic_spans(store, 200, seed=3)
    return create_queue(store, opts(), make_frame(), Uniform(6), seed=2)


def _outside(store, queue_id, k=1):
    return store.df("SELECT span_key FROM spans WHERE span_key NOT IN (SELECT span_key FROM "
                    "queue_items WHERE queue_id = ?) ORDER BY span_key LIMIT ?",
                    [queue_id, k]).span_key.tolist()


def _grade_everything(store, queue_id, reviewer, answer):
    got = []
    while (c := review.next_item(store, queue_id, reviewer)) is not None:
        got.append(c)
        review.submit(store, c, answer(c))
    return got


@pytest.mark.slow
def test_gold_accuracy_per_reviewer(store, queue):
    g1, g2 = _outside(store, queue.queue_id, 2)
    gold = {g1: {**FULL, "correctness": 2, "tone": ["too casual", "rude"]},
            g2: {**FULL, "correctness": 5}}
    ids = [review.add_gold(store, queue.queue_id, "span", k, a, "lead") for k, a in gold.items()]
    # ana answers gold items exactly; ben always says 4 and on-brand.
    ana = _grade_everything(store, queue.queue_id, "ana",
                            lambda c: gold.get(c.span_key, FULL))
    ben = _grade_everything(store, queue.queue_id, "ben", lambda c: FULL)
    for got in (ana, ben):
        assert {c.queue_item_id for c in got} >= set(ids)  # every reviewer sees every gold item
        assert all(not hasattr(c, "is_gold") for c in got)
    acc = review.gold_accuracy(store, queue.queue_id).set_index(["reviewer", "criterion"])
    assert acc.loc[("ana", "correctness"), "accuracy"] == 1.0
    assert acc.loc[("ana", "tone"), "accuracy"] == 1.0
    assert acc.loc[("ben", "correctness"), "accuracy"] == 0.0
    assert acc.loc[("ben", "correctness"), "mean_abs_error"] == pytest.approx(1.5)  # |4-2|, |4-5|
    assert acc.loc[("ben", "tone"), "accuracy"] == 0.5
    assert set(acc.index.get_level_values("reviewer")) == {"ana", "ben"}  # not the gold answers
    assert "note" not in acc.index.get_level_values("criterion")  # free text has no answer
    p = review.queue_progress(store, queue.queue_id)
    assert p.gold_items == 2 and p.items == queue.items  # the sample's count is untouched


@pytest.mark.slow
def test_the_lead_who_seeded_a_gold_item_never_gets_it(store, queue):
    (g,) = _outside(store, queue.queue_id)
    item = review.add_gold(store, queue.queue_id, "span", g, FULL, "lead")
    got = _grade_everything(store, queue.queue_id, "lead", lambda c: FULL)
    assert item not in {c.queue_item_id for c in got} and len(got) == queue.items


def test_gold_items_need_a_lead_known_answers_and_a_new_target(store, queue):
    write_roles(store, "leads: [lead]\n")
    (g,) = _outside(store, queue.queue_id)
    with pytest.raises(PermissionDenied):
        review.add_gold(store, queue.queue_id, "span", g, FULL, "ana")
    with pytest.raises(review.GradeError, match="not answered: correctness, conciseness, safety;"):
        review.add_gold(store, queue.queue_id, "span", g, {"tone": ["rude"]}, "lead")
    sampled = store.scalar("SELECT min(span_key) FROM queue_items WHERE queue_id = ?",
                           [queue.queue_id])
    with pytest.raises(review.GradeError, match="already in queue"):
        review.add_gold(store, queue.queue_id, "span", sampled, FULL, "lead")
    with pytest.raises(review.GradeError, match="no span"):
        review.add_gold(store, queue.queue_id, "span", 10**9, FULL, "lead")
    assert store.scalar("SELECT count(*) FROM grades WHERE is_gold") == 0


@pytest.mark.slow
def test_an_imported_example_can_be_a_gold_item(store, queue):
    store.cursor().execute("INSERT INTO items (item_id, dataset, input, output, reference) "
                           "VALUES ('ex1', 'seed', 'What is 2+2?', '5', '4')")
    item = review.add_gold(store, queue.queue_id, "item", "ex1",
                           {**FULL, "correctness": 1}, "lead")
    got = _grade_everything(store, queue.queue_id, "ana", lambda c: {**FULL, "correctness": 1})
    (claim,) = [c for c in got if c.queue_item_id == item]
    p = review.payload(store, claim)
    assert isinstance(p, review.ItemPayload) and (p.input, p.output) == ("What is 2+2?", "5")
    assert not hasattr(p, "reference")  # the known answer is not shown
    acc = review.gold_accuracy(store).set_index(["reviewer", "criterion"])
    assert acc.loc[("ana", "correctness"), "accuracy"] == 1.0
