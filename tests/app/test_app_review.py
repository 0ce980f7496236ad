"""The Review pages in-process with AppTest over a real demo database: the sidebar identity,
empty states, a lead creating a queue, grading with the buttons, skip, undo, blind mode and
the estimate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from app_support import app_page
from review_support import demo_template, opts  # noqa: F401  (fixture)
from streamlit.testing.v1 import AppTest

from goldenloop import review, sampling
from goldenloop.schema import open_store

OTHERS = "Earlier grades: judge scores and other reviewers'"


@pytest.fixture
def demo_db(app_db: Path, demo_template: Path) -> Path:  # noqa: F811
    shutil.copy(demo_template, app_db)
    return app_db


def page(path: str, reviewer: str | None = "ana") -> AppTest:
    return app_page(path, params={"reviewer": reviewer} if reviewer else None)


def texts(at: AppTest) -> str:
    kinds = ("caption", "text", "info", "warning", "error", "success", "markdown", "code")
    return "\n".join(str(e.value) for k in kinds for e in at.get(k))


def make_queue(db: Path, n: int = 12, **kw) -> int:
    with open_store(db) as s:
        q = sampling.create_queue(s, opts("checks", **kw), sampling.make_frame(),
                                  sampling.Stratified(n), seed=3)
    return q.queue_id


def test_grade_without_a_name_asks_for_one(app_db: Path) -> None:
    at = page("grade", reviewer=None)
    assert "Type your name in the sidebar" in texts(at)
    assert at.sidebar.text_input[0].label == "Your name"


def test_empty_states(app_db: Path) -> None:
    at = page("grade")
    assert "No open review queues" in texts(at)
    assert "ana · lead" in [t.value for t in at.sidebar.text]
    at = page("queues")
    assert "No review queues yet" in texts(at)


def test_reviewer_role_cannot_create_queues(demo_db: Path) -> None:
    (demo_db.parent / "roles.yaml").write_text("leads: [lee]\n")
    at = page("queues", reviewer="Ben")
    assert "ben · reviewer" in [t.value for t in at.sidebar.text]
    assert not [b for b in at.button if b.label == "Create queue"]


def test_lead_creates_a_stratified_queue(demo_db: Path) -> None:
    at = page("queues")
    at.text_input(key="gl_queue_name").input("weekly")
    at.number_input(key="gl_queue_n").set_value(20)
    at.button(key="gl_create").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Queue 1 created" in texts(at)
    with open_store(demo_db) as s:
        q = review.get_queue(s, 1)
        assert (q.name, q.design["kind"], q.created_by, q.is_probability_sample) == (
            "weekly", "stratified", "ana", True)


def _grade_current(at: AppTest, claim_id: int) -> None:
    at.segmented_control(key=f"gl_{claim_id}_correctness").set_value(4)
    at.segmented_control(key=f"gl_{claim_id}_tone").set_value(["on-brand"])
    at.segmented_control(key=f"gl_{claim_id}_conciseness").set_value("concise")
    at.segmented_control(key=f"gl_{claim_id}_safety").set_value("safe")


def _claim(at: AppTest, qid: int) -> review.Claim:
    return at.session_state[f"gl_claim_{qid}_ana"]


def test_grade_submit_skip_undo_and_estimate(demo_db: Path) -> None:
    qid = make_queue(demo_db)
    at = page("grade")
    first = _claim(at, qid)
    assert first is not None
    assert "Submit · Ctrl+Enter" in [b.label for b in at.button]
    # Submitting without answers keeps the item and says why.
    at.button(key="gl_submit").click().run()
    assert "required" in texts(at)
    assert _claim(at, qid).queue_item_id == first.queue_item_id
    _grade_current(at, first.claim_id)
    at.button(key="gl_submit").click().run()
    assert "Saved 4 grades" in texts(at)
    second = _claim(at, qid)
    assert second.queue_item_id != first.queue_item_id
    # Blind mode: what others said is shown only for the item just graded.
    assert "of the item you just graded" in " ".join(e.label for e in at.expander)
    at.button(key="gl_skip").click().run()
    third = _claim(at, qid)
    assert third.queue_item_id not in (first.queue_item_id, second.queue_item_id)
    at.button(key="gl_undo").click().run()
    assert _claim(at, qid).queue_item_id == first.queue_item_id
    with open_store(demo_db) as s:
        live = s.scalar("SELECT count(*) FROM grades g WHERE queue_id = ? AND NOT retracted "
                        "AND NOT EXISTS (SELECT 1 FROM grades x WHERE x.supersedes = "
                        "g.grade_id)", [qid])
        assert live == 0  # undone
    _grade_current(at, _claim(at, qid).claim_id)
    at.button(key="gl_submit").click().run()
    assert "Saved 4 grades" in texts(at)
    q = page("queues")
    assert "Estimated over all traffic in the frame" in [h.value for h in q.subheader]
    est = next(d.value for d in q.dataframe if "measure" in d.value.columns)
    row = est[(est["criterion"] == "correctness") & est["measure"].str.startswith("mean")].iloc[0]
    assert 1 <= row["ci_low"] <= row["value"] <= row["ci_high"] <= 5
    assert row["n_graded"] == 1  # the first item, graded again after the undo


def test_blind_mode_off_shows_other_grades_while_grading(demo_db: Path) -> None:
    make_queue(demo_db)
    at = page("grade")
    assert not any(e.label == OTHERS for e in at.expander)
    at.toggle(key="gl_blind").set_value(False).run()
    assert any(e.label == OTHERS for e in at.expander)


def test_adjudication_shows_the_earlier_grades_in_blind_mode(demo_db: Path) -> None:
    with open_store(demo_db) as s:
        q = sampling.create_queue(s, opts("first pass", reviewers_per_item=2), sampling.make_frame(),
                                  sampling.Uniform(5), seed=3)
        for who, score in (("ben", 5), ("cat", 1)):
            c = review.next_item(s, q.queue_id, who)
            review.submit(s, c, {"correctness": score, "tone": ["on-brand"],
                                 "conciseness": "concise", "safety": "safe"})
        adj = sampling.create_hand_queue(s, opts("settle", purpose="adjudication"),
                                         span_keys=[c.span_key])
    at = page("grade")
    at.selectbox(key="queue").set_value(adj.queue_id).run()
    switch = at.toggle(key="gl_blind_adj")  # blind mode says plainly it does not apply here
    assert switch.disabled and "does not apply" in switch.label and not switch.value
    # only the disputed criterion is asked: correctness (5 against 1), not the agreed ones
    assert "Adjudication: settle the criteria the earlier grades dispute (1 of 5)" in texts(at)
    assert "1 required · 1 of the rubric's 5 criteria asked" in texts(at)
    drawn = [c.key for c in at.get("segmented_control")]
    assert [k.rsplit("_", 1)[1] for k in drawn] == ["correctness"], drawn
    shown = [e for e in at.expander if e.label == OTHERS]
    assert shown, [e.label for e in at.expander]
    lines = shown[0].text[0].value.splitlines()
    picked = sorted(line.split()[1:] for line in lines if line.split()[2] == "correctness")
    assert picked == [["ben", "correctness", "5"], ["cat", "correctness", "1"]]
    at.button(key="gl_submit")  # the adjudicator grades with the same controls


def test_hostile_output_is_plain_text(demo_db: Path) -> None:
    hostile = "**bold** ![x](http://example.invalid/x.png)"
    with open_store(demo_db) as s:
        key = s.scalar("SELECT min(span_key) FROM spans WHERE kind = 'llm'")
        s.write(lambda cur: cur.execute("UPDATE spans SET output = ? WHERE span_key = ?",
                                        [hostile, key]))
        sampling.create_hand_queue(s, opts("hand"), span_keys=[key])
    at = page("grade")
    assert hostile in [t.value for t in at.text]
    assert not any(hostile in m.value for m in at.markdown)


def test_queue_summary_shows_the_judge_assisted_estimate(demo_db: Path, monkeypatch) -> None:
    """Once a judge graded a drawn queue and reviewers graded some of it, the Queues page shows
    the PPI estimate beside the human-only one, as the library computes it."""
    from openai_loopback import judged_text, openai_server, verdict
    from review_support import FULL

    from goldenloop import judge
    from goldenloop.estimation import ppi

    qid = make_queue(demo_db, n=40)
    with openai_server(lambda body: verdict(reason="scripted", score=5 if len(
            judged_text(body, "output") or "") > 150 else 2)) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        with open_store(demo_db) as s:
            j = judge.get(s, "correctness")
            judge.run(s, j, judge.from_queue(s, j, qid),
                      judge.RunOptions(concurrency=4, retry=judge.Retry(max_attempts=1)))
            for _ in range(8):
                claim = review.next_item(s, qid, "ben")
                review.submit(s, claim, FULL)
            expected = ppi.queue_estimates(s, qid)
            traffic = ppi.traffic_estimates(s).set_index("queue_id").loc[qid]
    assert not expected.empty
    # The Monitor's panel: the same queue's headline measure, human-only and with the judge.
    head = expected[(expected["criterion"] == "correctness")
                    & expected["measure"].str.startswith("share")].iloc[0]
    assert traffic["measure"] == head["measure"]
    assert traffic["value"] == pytest.approx(head["value"])
    assert traffic["human_value"] == pytest.approx(head["human_value"])
    q = page("queues")
    assert "With the judge" in texts(q)
    shown = next(d.value for d in q.dataframe if "judge_mean" in d.value.columns)
    assert shown["value"].tolist() == pytest.approx(expected["value"].tolist())
