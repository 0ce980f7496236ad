"""Review mechanics: claims with expiring locks, submissions, late grades, several reviewers
per item, skip and later, undo, validation and durability."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import review_support as rs
from review_support import FULL, opts, synthetic_spans

from goldenloop import review, rubric
from goldenloop.sampling import Uniform, create_hand_queue, create_queue, make_frame
from goldenloop.schema import open_store

demo_template, demo_store = rs.demo_template, rs.demo_store  # shared fixtures


@pytest.fixture
def queue(store):
    synthetic_spans(store, 300, seed=1)
    return create_queue(store, opts(), make_frame(), Uniform(12), seed=7)


def expire(store, claim):
    """Move a claim's expiry into the past, as if the reviewer walked away."""
    store.cursor().execute("UPDATE queue_items SET claim_expires_at = claim_expires_at - "
                           "INTERVAL 1 DAY WHERE queue_item_id = ?", [claim.queue_item_id])


def live_grades(store, queue_id):
    return store.df(
        """SELECT * FROM grades g WHERE queue_id = ? AND NOT g.retracted
           AND NOT EXISTS (SELECT 1 FROM grades s WHERE s.supersedes = g.grade_id)""",
        [queue_id])


def test_claim_resume_renew_and_submit(store, queue):
    c = review.next_item(store, queue.queue_id, "ana")
    resumed = review.next_item(store, queue.queue_id, "ana")  # the same claim, renewed
    assert (resumed.claim_id, resumed.queue_item_id) == (c.claim_id, c.queue_item_id)
    assert resumed.expires_at >= c.expires_at
    other = review.next_item(store, queue.queue_id, "ben")
    assert other.queue_item_id != c.queue_item_id
    renewed = review.renew(store, c, lock_seconds=3600)
    assert renewed.expires_at > c.expires_at and renewed.claim_id == c.claim_id
    sub = review.submit(store, c, {**FULL, "note": "fine"}, correction="A better answer.")
    assert not sub.late and len(sub.grade_ids) == 5 and sub.seconds_spent >= 0
    g = live_grades(store, queue.queue_id).set_index("criterion")
    version = rubric.current(store, "default").version
    assert (g.rubric_version == version).all() and (g.author_id == "ana").all()
    assert g.loc["correctness", "value_number"] == 4
    assert list(g.loc["tone", "value_labels"]) == ["on-brand"]
    assert g.loc["conciseness", "value_label"] == "concise"
    assert g.loc["conciseness", "value_number"] == 3  # rank of the ordered label
    assert g.loc["note", "value_text"] == "fine"
    assert (g.span_key == c.span_key).all() and (g.target_id == str(c.span_key)).all()
    assert store.scalar("SELECT corrected_output FROM corrections WHERE queue_item_id = ?",
                        [c.queue_item_id]) == "A better answer."
    assert store.rows("SELECT status, reviewers_done, claimed_by FROM queue_items "
                      "WHERE queue_item_id = ?", [c.queue_item_id]) == [("done", 1, None)]
    assert store.scalar("SELECT count(*) FROM audit_log WHERE action = 'grade.submit'") == 1
    p = review.queue_progress(store, queue.queue_id)
    assert (p.items, p.done, p.claimed, p.reviews_done) == (queue.items, 1, 1, 1)
    assert review.left_for(store, queue.queue_id, "ana") == queue.items - 1


def test_a_grade_is_committed_when_submit_returns(tmp_path):
    path = tmp_path / "durable.duckdb"
    with open_store(path) as s:
        synthetic_spans(s, 50)
        q = create_queue(s, opts(), make_frame(), Uniform(3), seed=1)
        c = review.next_item(s, q.queue_id, "ana")
        ids = review.submit(s, c, FULL).grade_ids
    with open_store(path) as s:  # a fresh process would see exactly this
        assert s.scalar("SELECT count(*) FROM grades WHERE list_contains(?, grade_id)",
                        [ids]) == 4


@pytest.mark.slow
def test_expired_claim_goes_to_the_next_reviewer_and_a_late_grade_is_kept(store, queue):
    a = review.next_item(store, queue.queue_id, "ana")
    expire(store, a)
    b = review.next_item(store, queue.queue_id, "ben")
    assert b.queue_item_id == a.queue_item_id and b.claim_id != a.claim_id
    with pytest.raises(review.ClaimLost):
        review.renew(store, a)
    late = review.submit(store, a, FULL)
    assert late.late
    assert not review.submit(store, b, {**FULL, "correctness": 2}).late
    g = live_grades(store, queue.queue_id)
    assert sorted(zip(g.author_id, g.late, strict=True))[::4] == [("ana", True), ("ben", False)]
    item = store.rows("SELECT status, reviewers_done FROM queue_items WHERE queue_item_id = ?",
                      [a.queue_item_id])
    assert item == [("done", 2)]  # two distinct reviewers, each counted once
    assert review.queue_progress(store, queue.queue_id).late_reviews == 1


def test_an_expired_claim_nobody_took_is_still_held(store, queue):
    a = review.next_item(store, queue.queue_id, "ana")
    expire(store, a)
    assert review.renew(store, a).expires_at > a.expires_at
    assert not review.submit(store, a, FULL).late


@pytest.mark.slow
def test_n_reviewers_per_item_and_nobody_sees_an_item_twice(store):
    synthetic_spans(store, 300, seed=2)
    q = create_queue(store, opts(reviewers_per_item=2), make_frame(), Uniform(10), seed=3)
    seen: dict[str, list[int]] = {"ana": [], "ben": [], "chloe": []}
    progress = True
    while progress:
        progress = False
        for who, items in seen.items():
            c = review.next_item(store, q.queue_id, who)
            if c is not None:
                items.append(c.queue_item_id)
                review.submit(store, c, FULL)
                progress = True
    for items in seen.values():
        assert len(items) == len(set(items))
    per_item = store.df("SELECT queue_item_id, count(DISTINCT author_id) AS n, count(*) AS g "
                        "FROM grades WHERE queue_id = ? AND criterion = 'correctness' "
                        "GROUP BY ALL", [q.queue_id])
    assert len(per_item) == q.items and (per_item.n == 2).all() and (per_item.g == 2).all()
    assert review.queue_progress(store, q.queue_id).fraction_done == 1.0


@pytest.mark.slow
def test_skip_is_for_this_reviewer_only_and_later_comes_back_last(store, queue):
    first = review.next_item(store, queue.queue_id, "ana")
    review.skip(store, first)
    assert store.scalar("SELECT status FROM queue_items WHERE queue_item_id = ?",
                        [first.queue_item_id]) == "skipped"
    second = review.next_item(store, queue.queue_id, "ana")
    review.later(store, second)
    order = []
    while (c := review.next_item(store, queue.queue_id, "ana")) is not None:
        order.append(c.queue_item_id)
        review.submit(store, c, FULL)
    assert first.queue_item_id not in order
    assert order[-1] == second.queue_item_id and len(order) == queue.items - 1
    assert review.next_item(store, queue.queue_id, "ben").queue_item_id == first.queue_item_id
    table = review.reviewer_progress(store, queue.queue_id).set_index("reviewer")
    assert table.loc["ana", ["graded", "skipped", "put_off"]].tolist() == [queue.items - 1, 1, 1]


@pytest.mark.slow
def test_undo_supersedes_and_hands_the_item_back(store, queue):
    c1 = review.next_item(store, queue.queue_id, "ana")
    review.submit(store, c1, FULL, correction="Fixed.")
    c2 = review.next_item(store, queue.queue_id, "ana")
    review.submit(store, c2, FULL)
    c3 = review.next_item(store, queue.queue_id, "ana")  # moved on to a third item
    back = review.undo_last(store, queue.queue_id, "ana")
    assert back.queue_item_id == c2.queue_item_id
    assert store.scalar("SELECT claimed_by FROM queue_items WHERE queue_item_id = ?",
                        [c3.queue_item_id]) is None  # the one they moved on to went back
    assert set(live_grades(store, queue.queue_id).queue_item_id) == {c1.queue_item_id}
    assert store.scalar("SELECT count(*) FROM grades WHERE queue_item_id = ?",
                        [c2.queue_item_id]) == 8  # four grades, four retractions: none deleted
    assert store.rows("SELECT status, reviewers_done FROM queue_items WHERE queue_item_id = ?",
                      [c2.queue_item_id]) == [("claimed", 0)]
    back_again = review.undo_last(store, queue.queue_id, "ana")
    assert back_again.queue_item_id == c1.queue_item_id
    assert store.rows("SELECT corrected_output, retracted FROM corrections "
                      "ORDER BY correction_id") == [("Fixed.", False), (None, True)]
    assert review.undo_last(store, queue.queue_id, "ana") is None
    review.submit(store, back_again, {**FULL, "correctness": 2})
    g = live_grades(store, queue.queue_id)
    assert g[g.criterion == "correctness"].value_number.tolist() == [2.0]


def test_submitting_twice_supersedes_instead_of_double_counting(store, queue):
    c = review.next_item(store, queue.queue_id, "ana")
    review.submit(store, c, {**FULL, "note": "first"})
    review.submit(store, c, {**FULL, "correctness": 5})  # a double click, then an edit
    g = live_grades(store, queue.queue_id)
    assert sorted(g.criterion) == ["conciseness", "correctness", "safety", "tone"]
    assert g.set_index("criterion").loc["correctness", "value_number"] == 5
    assert store.scalar("SELECT reviewers_done FROM queue_items WHERE queue_item_id = ?",
                        [c.queue_item_id]) == 1


@pytest.mark.parametrize(("answers", "message"), [
    ({"tone": ["on-brand"]}, "not answered: correctness, conciseness, safety;"),
    ({**FULL, "correctness": 7}, "outside the scale 1 to 5"),
    ({**FULL, "correctness": 3.5}, "whole-number levels"),
    ({**FULL, "tone": ["sarcastic"]}, "'sarcastic' is not one of"),
    ({**FULL, "safety": "fine"}, "safety: 'fine' is not one of"),
    ({**FULL, "correctness": review.Answer(value=4, not_applicable=True)}, "takes no value"),
    ({**FULL, "helpfulness": 3}, "no criteria helpfulness"),
])
def test_answers_are_checked_against_the_rubric(store, queue, answers, message):
    c = review.next_item(store, queue.queue_id, "ana")
    with pytest.raises(review.GradeError, match=message):
        review.submit(store, c, answers)
    assert store.scalar("SELECT count(*) FROM grades WHERE queue_id = ?", [queue.queue_id]) == 0


def test_not_applicable_and_flag_are_not_scores(store, queue):
    c = review.next_item(store, queue.queue_id, "ana")
    answers = {**FULL, "correctness": review.Answer(not_applicable=True),
               "safety": review.Answer(flagged=True, comment="leaks an e-mail address")}
    review.submit(store, c, answers)
    g = live_grades(store, queue.queue_id).set_index("criterion")
    assert g.loc["correctness", "not_applicable"] and g.loc["safety", "flagged"]
    assert g.loc["correctness", ["value_number", "value_label"]].isna().all()
    assert g.loc["safety", "comment"] == "leaks an e-mail address"


def test_grades_keep_the_rubric_version_of_their_queue(store, queue):
    old = rubric.current(store, "default")
    data = old.model_dump(mode="json")
    data["criteria"][0]["instructions"] = "New wording."
    new = rubric.save_edit(store, rubric.parse(data, "edit"), "lead")
    c = review.next_item(store, queue.queue_id, "ana")
    review.submit(store, c, FULL)
    assert set(live_grades(store, queue.queue_id).rubric_version) == {old.version}
    assert review.queue_rubric(store, queue.queue_id) == old
    later_q = create_queue(store, opts(), make_frame(), Uniform(3), seed=1)
    assert review.get_queue(store, later_q.queue_id).rubric_version == new.version


def test_a_closed_queue_hands_out_nothing(store, queue):
    review.close_queue(store, queue.queue_id, "lead")
    with pytest.raises(review.QueueClosed):
        review.next_item(store, queue.queue_id, "ana")
    review.close_queue(store, queue.queue_id, "lead", reopen=True)
    assert review.next_item(store, queue.queue_id, "ana") is not None


def test_span_payload_has_the_conversation_context_and_tools(demo_store):
    key = demo_store.scalar(
        """SELECT l.span_key FROM spans l WHERE l.kind = 'llm' AND l.turn_index >= 2
           AND EXISTS (SELECT 1 FROM spans t WHERE t.trace_id = l.trace_id AND t.kind = 'tool')
           ORDER BY l.span_key LIMIT 1""")
    q = create_hand_queue(demo_store, opts(), span_keys=[key])
    c = review.next_item(demo_store, q.queue_id, "ana")
    p = review.payload(demo_store, c)
    assert isinstance(p, review.SpanPayload) and p.span_key == key
    turn = demo_store.scalar("SELECT turn_index FROM spans WHERE span_key = ?", [key])
    assert [m.role for m in p.earlier] == ["user", "assistant"] * turn
    assert p.user_message == demo_store.scalar(
        "SELECT last_user_message FROM spans WHERE span_key = ?", [key])
    assert p.output and p.system and p.retrieved_context and p.tool_results
    assert {"id", "content"} <= set(p.retrieved_context[0])
    assert "result" in p.tool_results[0]


def test_session_and_comparison_payloads(demo_store):
    s = create_queue(demo_store, opts(), make_frame(apps=["support-bot"]), Uniform(3),
                     unit="session", seed=1)
    c = review.next_item(demo_store, s.queue_id, "ana")
    p = review.payload(demo_store, c)
    assert isinstance(p, review.SessionPayload) and p.session_id == c.target_id
    assert [t.turn_index for t in p.turns] == list(range(len(p.turns)))
    review.submit(demo_store, c, FULL)  # a session is graded as one conversation
    assert demo_store.scalar("SELECT count(*) FROM grades WHERE target_type = 'session' "
                             "AND target_id = ?", [c.target_id]) == 4


@pytest.mark.slow
def test_comparison_answers_are_stored_in_the_pairs_terms(demo_store):
    from goldenloop.sampling import create_version_comparison

    q = create_version_comparison(demo_store, opts(), make_frame(apps=["sql-assistant"]),
                                  "gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", 20, seed=3)
    seen = set()
    while (c := review.next_item(demo_store, q.queue_id, "ana")) is not None:
        p = review.payload(demo_store, c)
        row = demo_store.rows("SELECT shown_order, a_output, b_output FROM comparisons "
                              "WHERE comparison_id = ?", [c.target_id])[0]
        shown, a_out, b_out = row
        assert (p.first, p.second) == ((a_out, b_out) if shown == "AB" else (b_out, a_out))
        review.submit(demo_store, c, {"preference": "A better"})  # always the first shown
        stored = demo_store.scalar("SELECT value_label FROM grades WHERE queue_item_id = ?",
                                   [c.queue_item_id])
        assert stored == ("A better" if shown == "AB" else "B better")
        seen.add(shown)
    assert seen == {"AB", "BA"}


def test_canary_answers_against_references_by_hand(store):
    from goldenloop.sampling import create_pair_queue, item_reference_pairs

    store.cursor().execute(
        """INSERT INTO items (item_id, dataset, input, output, reference) VALUES
           ('c1', 'canary', 'Refund window?', 'Thirty days.', '30 days from delivery.'),
           ('c2', 'canary', 'Ship to Peru?', 'No.', 'Yes, to 28 countries including Peru.')""")
    pairs = item_reference_pairs(store, ["c1", "c2"])
    q = create_pair_queue(store, opts(), pairs, seed=4)
    assert q.items == 2 and q.design == "by_hand"
    shown = {}
    while (c := review.next_item(store, q.queue_id, "ana")) is not None:
        p = review.payload(store, c)
        assert p.input in ("Refund window?", "Ship to Peru?")
        shown[p.input] = (p.first, p.second)
        review.submit(store, c, {"preference": "tie"})
    assert set(shown["Ship to Peru?"]) == {"No.", "Yes, to 28 countries including Peru."}
    assert store.scalar("SELECT count(*) FROM grades WHERE target_type = 'comparison' "
                        "AND value_label = 'tie'") == 2
    # Creating the same pairs again reuses the stored comparisons.
    again = create_pair_queue(store, opts("again"), pairs, seed=5)
    assert again.items == 2 and store.scalar("SELECT count(*) FROM comparisons") == 2
    with pytest.raises(review.GradeError, match="no corrected answer"):
        c = review.next_item(store, again.queue_id, "ben")
        review.submit(store, c, {"preference": "tie"}, correction="x")


def test_migration_5_keeps_old_grades_live(tmp_path):
    import duckdb

    from goldenloop.schema import migrate

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, target=4)
    con.execute("INSERT INTO grades (grade_id, target_type, target_id, criterion, value_number, "
                "source, author_id) VALUES (nextval('grade_seq'), 'span', '1', 'correctness', "
                "4, 'human', 'ana')")
    con.close()
    with open_store(path) as s:
        assert s.rows("SELECT late, retracted, seconds_spent FROM grades") == [
            (False, False, None)]
        assert s.scalar("SELECT count(*) FROM queue_claims") == 0
        assert s.scalar("SELECT nextval('claim_seq')") == 1


def test_submit_and_next_commits_the_grade_and_claims_the_next_item(store, queue):
    c = review.next_item(store, queue.queue_id, "ana")
    done, nxt = review.submit_and_next(store, c, FULL)
    assert not done.late and len(done.grade_ids) == 4
    assert nxt is not None and nxt.queue_item_id != c.queue_item_id
    assert review.next_item(store, queue.queue_id, "ana").claim_id == nxt.claim_id  # resumed
    assert store.rows("SELECT status FROM queue_items WHERE queue_item_id = ?",
                      [c.queue_item_id]) == [("done",)]
    review.close_queue(store, queue.queue_id, "lead")
    assert review.submit_and_next(store, nxt, FULL)[1] is None  # a closed queue: no next


@pytest.mark.slow
def test_grading_progress_agrees_with_the_queue_statistics(store, queue):
    for who in ("ana", "ana", "ben"):
        review.submit(store, review.next_item(store, queue.queue_id, who), FULL)
    review.skip(store, review.next_item(store, queue.queue_id, "ana"))
    for who in ("ana", "ben", "cy"):
        g = review.grading_progress(store, queue.queue_id, who)
        full = review.queue_progress(store, queue.queue_id)
        assert g.left_for_me == review.left_for(store, queue.queue_id, who)
        assert (g.reviews_done, g.reviews_needed) == (full.reviews_done, full.reviews_needed)
        assert g.fraction_done == full.fraction_done
    # three items done (one reviewer each), one skipped by ana
    assert review.grading_progress(store, queue.queue_id, "ana").left_for_me == queue.items - 4


def test_renew_unless_renewed_within_skips_the_write_for_a_fresh_claim(store, queue):
    c = review.next_item(store, queue.queue_id, "ana")
    assert review.renew(store, c, unless_renewed_within=30) is c  # just claimed: no write
    old = store.scalar("SELECT claim_expires_at FROM queue_items WHERE queue_item_id = ?",
                       [c.queue_item_id])
    aged = dataclasses.replace(c, expires_at=c.expires_at - timedelta(seconds=45))
    renewed = review.renew(store, aged, unless_renewed_within=30)  # renewed 45 s ago: write
    assert renewed.expires_at > c.expires_at
    assert store.scalar("SELECT claim_expires_at FROM queue_items WHERE queue_item_id = ?",
                        [c.queue_item_id]) > old
