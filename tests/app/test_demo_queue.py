"""The demo's review queue: its stated design and frame, its items and probabilities, the
reviewers' grades linked to it, the estimate it gives, and a judge run on it giving the
prediction-powered estimate and judge–human pairs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from app_support import app_page
from openai_loopback import judged_text, openai_server, verdict
from review_support import DEMO_END
from streamlit.testing.v1 import AppTest

from goldenloop import agreement, estimation, judge, review
from goldenloop import rubric as rubrics
from goldenloop.agreement import fitness
from goldenloop.demo import generate
from goldenloop.demo import grades as demo_grades
from goldenloop.demo.queue import NAME
from goldenloop.estimation import ppi
from goldenloop.sampling import frame_from_dict
from goldenloop.schema import open_store
from goldenloop.store import Store
from goldenloop.store.span_filter import where as span_where


@pytest.fixture(scope="module")
def demo_template(demo_files) -> Path:
    """A 5,000-span demo history with its queue, generated once per run (tests copy it)."""
    return demo_files.template(spans=5000, end=DEMO_END)


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path):
    path = tmp_path / "goldenloop.duckdb"
    shutil.copy(demo_template, path)
    with open_store(path) as s:
        yield s, int(s.scalar("SELECT queue_id FROM queues WHERE name = ?", [NAME]))


def _eligible(s: Store, q: dict) -> int:
    """The frame counted independently from the stored spans: LLM calls that answered and
    ended before the queue's cutoff."""
    return s.scalar("""SELECT count(*) FROM spans WHERE kind = 'llm' AND status = 'ok'
                       AND end_time < ?""", [q["window_end"]])


def test_one_queue_states_its_frame_and_design(demo):
    s, qid = demo
    assert s.scalar("SELECT count(*) FROM queues") == 1
    q = review.get_queue(s, qid)
    raw = s.rows("SELECT population_size, window_start, window_end, frame_filter, design "
                 "FROM queues WHERE queue_id = ?", [qid])[0]
    population, start, cutoff = raw[0], raw[1], raw[2]
    assert q.is_probability_sample and q.design["kind"] == "uniform" and q.target_type == "span"
    assert cutoff == DEMO_END.replace(hour=DEMO_END.hour - 3)
    assert population == _eligible(s, {"window_end": cutoff})
    # The stored frame (by start time) holds the same spans: none started before the cutoff
    # and ended after it in this history.
    where, params = span_where(frame_from_dict(q.frame))
    assert s.scalar(f"SELECT count(*) FROM spans s WHERE {where}", params) == population
    assert start <= s.scalar("SELECT min(start_time) FROM spans")
    assert q.design["n"] == q.design["expected_size"] == s.scalar(
        "SELECT count(*) FROM queue_items WHERE queue_id = ?", [qid])
    # Its rubric loads, as the Grade and Queues pages load it.
    assert rubrics.get(s, q.rubric_name, q.rubric_version).criterion("correctness").scale == (1, 5)


def test_items_are_the_judged_spans_with_probability_n_over_population(demo):
    s, qid = demo
    items = s.df("SELECT * FROM queue_items WHERE queue_id = ?", [qid])
    population = s.scalar("SELECT population_size FROM queues WHERE queue_id = ?", [qid])
    assert np.allclose(items["inclusion_prob"], len(items) / population)
    judged = set(s.df("SELECT DISTINCT span_key FROM grades WHERE source = 'judge'").span_key)
    assert set(items["span_key"]) == judged
    assert sorted(items["position"]) == list(range(len(items)))  # a random serving order
    assert not (items["position"].to_numpy() == np.argsort(items["span_key"])).all()
    # Items are eligible spans: answered, and ended before the cutoff.
    bad = s.scalar("""SELECT count(*) FROM queue_items i JOIN spans s USING (span_key)
                      JOIN queues q USING (queue_id)
                      WHERE i.queue_id = ? AND (s.status <> 'ok' OR s.kind <> 'llm'
                                                OR s.end_time >= q.window_end)""", [qid])
    assert bad == 0
    # Strata as a drawn queue names them: app / model version.
    strata = s.df("""SELECT i.stratum, s.app || ' / ' || s.model_version AS expected
                     FROM queue_items i JOIN spans s USING (span_key) WHERE i.queue_id = ?""",
                  [qid])
    assert (strata["stratum"] == strata["expected"]).all()


def test_reviewers_grades_are_linked_and_counted(demo):
    s, qid = demo
    unlinked = s.scalar("SELECT count(*) FROM grades WHERE source = 'human' AND queue_id IS NULL")
    assert unlinked == 0
    assert s.scalar("SELECT count(*) FROM grades WHERE source = 'judge' "
                    "AND (queue_id IS NOT NULL OR queue_item_id IS NOT NULL)") == 0
    wrong_item = s.scalar("""SELECT count(*) FROM grades g JOIN queue_items i USING (queue_item_id)
                             WHERE g.source = 'human'
                               AND (i.span_key <> g.span_key OR i.queue_id <> g.queue_id)""")
    assert wrong_item == 0
    counts = s.df("""SELECT i.queue_item_id, i.status, i.reviewers_done,
                            count(DISTINCT g.author_id) AS authors
                     FROM queue_items i LEFT JOIN grades g
                          ON g.queue_item_id = i.queue_item_id AND g.source = 'human'
                     WHERE i.queue_id = ? GROUP BY ALL""", [qid])
    assert (counts["reviewers_done"] == counts["authors"]).all()
    assert set(counts.loc[counts["authors"] > 0, "status"]) == {"done"}
    assert set(counts.loc[counts["authors"] == 0, "status"]) == {"pending"}
    assert counts["authors"].max() == 2 and (counts["authors"] == 0).sum() > 0
    # A newcomer is served a pending item, and grading it counts.
    claim = review.next_item(s, qid, "newcomer")
    assert claim is not None
    assert counts.set_index("queue_item_id").loc[claim.queue_item_id, "status"] == "pending"


def test_the_queue_estimate_matches_an_independent_computation(demo):
    s, qid = demo
    e = estimation.estimate(s, qid, "correctness", at_least=4)
    assert e.ci_low < e.value < e.ci_high and e.ci_high - e.ci_low < 0.4
    # Independent: each graded item's share of its reviewers' latest grades >= 4, Hájek with
    # equal probabilities is the plain mean over graded items (response rates are close
    # across strata, so the stratum adjustment moves it only a little).
    per_item = s.df("""SELECT queue_item_id, avg(CAST(value_number >= 4 AS DOUBLE)) AS y
                       FROM grades WHERE queue_id = ? AND criterion = 'correctness'
                       GROUP BY queue_item_id""", [qid])
    assert e.n_graded == len(per_item) and e.n_nonresponse == e.n_sampled - len(per_item)
    assert abs(e.value - per_item["y"].mean()) < 2 * e.se
    assert e.population_estimate == pytest.approx(e.population_size)


def test_generating_again_writes_no_second_queue(tmp_path: Path):
    with open_store(tmp_path / "g.duckdb") as s:
        a = generate(s, spans=3_000, days=7, end=DEMO_END)
        b = generate(s, spans=3_000, days=7, end=DEMO_END)
        assert a.queue_id == b.queue_id and s.scalar("SELECT count(*) FROM queues") == 1
        assert s.scalar("SELECT count(*) FROM queue_items") == s.scalar(
            "SELECT count(DISTINCT span_key) FROM grades WHERE source = 'judge'")


def test_without_the_queue_the_same_grades_carry_no_queue_ids(tmp_path: Path):
    """``queue=False`` (stores for tests that make their own queues) writes the same history
    and grades, with no queue and no queue ids."""
    rows = "SELECT * EXCLUDE (grade_id, queue_id, queue_item_id) FROM grades ORDER BY grade_id"
    with open_store(tmp_path / "a.duckdb") as a, open_store(tmp_path / "b.duckdb") as b:
        generate(a, spans=3_000, days=7, end=DEMO_END)
        summary = generate(b, spans=3_000, days=7, end=DEMO_END, queue=False)
        assert summary.queue_id == 0 and b.scalar("SELECT count(*) FROM queues") == 0
        assert b.scalar("SELECT count(*) FROM grades WHERE queue_id IS NOT NULL") == 0
        assert a.df(rows).equals(b.df(rows))


def _by_length(body: dict):
    """A judge that calls long answers correct: informative about the demo's answers, not
    their truth (the scripted verdict knows only the text it is shown)."""
    return verdict(reason="scripted", score=5 if len(judged_text(body, "output") or "") > 120 else 2)


def test_a_judge_run_on_the_demo_queue_gives_ppi_and_agreement_pairs(demo, monkeypatch):
    s, qid = demo
    # Before any run, the demo judge's own grades (no queue ids) already give PPI rows.
    assert set(ppi.queue_estimates(s, qid)["judge_version"]) == {demo_grades.JUDGE_VERSION}
    with openai_server(_by_length) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        j = judge.get(s, "correctness")
        r = judge.run(s, j, judge.from_queue(s, j, qid),
                      judge.RunOptions(concurrency=8, retry=judge.Retry(max_attempts=1)))
    items = s.scalar("SELECT count(*) FROM queue_items WHERE queue_id = ?", [qid])
    assert r.judged == items and r.failed == 0
    # By default only judge versions fit for use count; "any" takes the one that graded most.
    fit = fitness.choose(s, "correctness").versions
    assert set(ppi.queue_estimates(s, qid)["judge_version"]) <= set(fit)
    rows = ppi.queue_estimates(s, qid, judges="any")
    assert not rows.empty and set(rows["judge_version"]) == {j.version}
    share = rows[(rows["criterion"] == "correctness") & rows["measure"].str.startswith("share")]
    assert len(share) == 1
    row = share.iloc[0]
    assert row["ci_low"] <= row["value"] <= row["ci_high"]
    assert row["n_judged"] == items
    assert row["n_human"] == s.scalar("SELECT count(DISTINCT queue_item_id) FROM grades "
                                      "WHERE queue_id = ? AND source = 'human'", [qid])
    human = estimation.estimate(s, qid, "correctness", at_least=4)
    assert row["human_value"] == pytest.approx(human.value)
    # Agreement: the new judge's grades meet the demo reviewers' (rubric versions differ:
    # the judge grades under the packaged rubric's hash version, the reviewers under demo-1).
    found = agreement.criterion_agreement(s, "correctness")
    mine = found.pairs[found.pairs["judge_version"] == j.version]
    assert len(mine) >= row["n_human"]  # every item a reviewer graded, once per reviewer
    assert set(mine["span_key"]) <= set(s.df(
        "SELECT span_key FROM queue_items WHERE queue_id = ?", [qid]).span_key)


# -- the pages, in-process (AppTest) ------------------------------------------------------------
@pytest.fixture
def demo_db(app_db: Path, demo_template: Path) -> Path:
    shutil.copy(demo_template, app_db)
    return app_db


def _page(path: str, reviewer: str) -> AppTest:
    return app_page(path, params={"reviewer": reviewer})


def test_the_queues_page_shows_the_demo_queue_and_its_estimates(demo_db: Path):
    with open_store(demo_db) as s:
        qid = int(s.scalar("SELECT queue_id FROM queues WHERE name = ?", [NAME]))
        human = estimation.estimate(s, qid, "correctness", at_least=4)
        with_judge = ppi.queue_estimates(s, qid)  # the demo judge graded every item
        # Each estimate's notes, from the library: the page names the estimates a note
        # concerns unless it concerns every one.
        noted: dict[str, list[str]] = {}
        estimated = 0
        for name, what, kw in estimation.measures(review.queue_rubric(s, qid)):
            try:
                e = estimation.estimate(s, qid, name, **kw)
            except estimation.EstimationError:  # nothing graded: no row, no notes
                continue
            estimated += 1
            for n in e.notes:
                noted.setdefault(n, []).append(f"{name} {what}")
    at = _page("queues", "ana")
    captions = [c.value for c in at.caption]
    assert noted
    from goldenloop_app.untrusted import md  # notes name criteria: the page escapes them as Markdown

    for n, where in noted.items():
        want = n if len(where) == estimated else f"{', '.join(where)}: {n}"
        assert md(want, 2000) in captions, (want, captions)
    assert at.selectbox(key="queue").value == qid
    queues = next(d.value for d in at.dataframe if "name" in d.value.columns)  # after the preview
    assert NAME in queues["name"].tolist()
    assert "Estimated over all traffic in the frame" in [h.value for h in at.subheader]
    est = next(d.value for d in at.dataframe if "measure" in d.value.columns
               and "judge_mean" not in d.value.columns)
    row = est[(est["criterion"] == "correctness") & est["measure"].str.startswith("share")].iloc[0]
    assert row["value"] == pytest.approx(human.value)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((human.ci_low, human.ci_high))
    shown = next(d.value for d in at.dataframe if "judge_mean" in d.value.columns)
    assert shown["value"].tolist() == pytest.approx(with_judge["value"].tolist())


def test_a_newcomer_grades_a_pending_demo_item_on_the_grade_page(demo_db: Path):
    at = _page("grade", "newcomer")
    with open_store(demo_db) as s:
        qid = int(s.scalar("SELECT queue_id FROM queues WHERE name = ?", [NAME]))
    claim = at.session_state[f"gl_claim_{qid}_newcomer"]
    assert claim is not None
    for key, value in {"correctness": 4, "tone": ["on-brand"], "conciseness": "concise",
                       "safety": "safe"}.items():
        at.segmented_control(key=f"gl_{claim.claim_id}_{key}").set_value(value)
    at.button(key="gl_submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with open_store(demo_db) as s:
        status, done = s.rows("SELECT status, reviewers_done FROM queue_items "
                              "WHERE queue_item_id = ?", [claim.queue_item_id])[0]
        assert (status, done) == ("done", 1)
        graded = s.scalar("SELECT count(DISTINCT queue_item_id) FROM grades WHERE queue_id = ? "
                          "AND source = 'human' AND criterion = 'correctness'", [qid])
        assert estimation.estimate(s, qid, "correctness").n_graded == graded
