"""The Judges page's "fix a judge that diverges" panel, in-process (AppTest) over a real
database and the loopback judge: a lead reads the prompt, edits it into a new version, sees
the cost estimate, runs it on the human-graded items and makes it the production version; a
reviewer sees none of it."""

from __future__ import annotations

import pytest
from app_support import app_db, app_page  # noqa: F401 (app_db is a fixture)
from judge_support import FAST, STRICT, _script
from openai_loopback import openai_server
from review_support import FULL, opts, synthetic_spans

from goldenloop import judge, review
from goldenloop.sampling import Uniform, create_queue, make_frame
from goldenloop.schema import open_store
from goldenloop.store import audit


@pytest.fixture
def judged_db(app_db, monkeypatch):  # noqa: F811
    """The app's database: 200 spans, a queue of 80 judged by the packaged judge, 40 graded."""
    with openai_server(_script) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        with open_store(app_db) as s:
            truth = synthetic_spans(s, 200, seed=11)
            good = dict(zip(s.df("SELECT span_key FROM spans ORDER BY span_key").span_key, truth,
                            strict=True))
            q = create_queue(s, opts(), make_frame(), Uniform(80), seed=2)
            old = judge.get(s, "correctness")
            judge.run(s, old, judge.from_queue(s, old, q.queue_id), judge.RunOptions(retry=FAST))
            for _ in range(40):
                claim = review.next_item(s, q.queue_id, "ben")
                review.submit(s, claim, {**FULL, "correctness": 5 if good[claim.span_key] else 1})
            s.checkpoint()
        srv.requests.clear()
        yield app_db, old, srv


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def test_a_lead_edits_prices_runs_and_promotes_a_version(judged_db):
    db, old, srv = judged_db
    at = app_page("judges", params={"reviewer": "lead"})
    codes = [c.value for c in at.code]
    assert old.judge.template.strip() in codes and "model: gpt-4o-mini" in "\n".join(codes)
    system = next(t for t in at.text_area if t.label == "System prompt")
    system.set_value(old.judge.system + STRICT)
    _button(at, "Make a new version").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with open_store(db) as s:
        made = s.rows("SELECT judge_version FROM judge_versions WHERE origin = 'edit'")
        log = audit.entries(s, action="judge.edit")
    assert len(made) == 1 and len(log) == 1 and log.interface[0] == "app"
    new = made[0][0]
    assert at.selectbox(key="judge_edit_base").value == new  # the new version, chosen
    assert STRICT in "\n".join(c.value for c in at.code)
    estimate = next(t.value for t in at.text if t.value.startswith("Cost estimate"))
    assert "40 calls for 40 targets (0 already graded" in estimate and "$" in estimate
    at.button(key="judge_edit_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(srv.requests) == 40  # the human-graded items only
    estimate = next(t.value for t in at.text if t.value.startswith("Cost estimate"))
    assert "0 calls for 40 targets (40 already graded" in estimate
    assert any(t.value.startswith("Run ") and "40 of 40 judged" in t.value for t in at.text)
    links = [p.proto for p in at.page_link]
    assert any("Agreement" in link.label and "paired intervals" in link.label
               and "agreement" in link.page for link in links)
    at.button(key="judge_edit_prod").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with open_store(db) as s:
        assert judge.production_versions(s) == {"correctness": new}
    assert any(f"use: version {new} while it passes" in t.value for t in at.text)


def test_a_reviewer_cannot_edit(judged_db):
    db, old, _ = judged_db
    (db.parent / "roles.yaml").write_text("leads: [ana]\nreviewers: [ben]\n")
    at = app_page("judges", params={"reviewer": "ben"})
    assert any("Leads edit judges" in i.value for i in at.info)
    assert not any(t.label == "System prompt" for t in at.text_area)
    assert old.judge.template.strip() not in [c.value for c in at.code]
