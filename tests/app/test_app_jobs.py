"""Pages that start work hand a typed job to workers.submit: while serving, the Experiments
page's run becomes a queued job of the jobs table (read back typed by the owner); a bad form
value is a message naming the field, and nothing is queued."""

from __future__ import annotations

import json

import pytest
from app_support import app_page

from goldenloop import server
from goldenloop.schema import open_store
from goldenloop.store import jobs as job_sql
from goldenloop.workers import kinds
from goldenloop.workers import submit as submit_mod


@pytest.fixture
def serving(app_db, monkeypatch):
    """The app as `goldenloop serve` runs it: this process owns the store."""
    store = open_store(app_db)
    (app_db.parent / "targets").mkdir()
    (app_db.parent / "targets" / "bot.yaml").write_text(
        "name: bot\nmodel: m\nendpoint:\n  base_url: http://127.0.0.1:9/v1\n")
    monkeypatch.setattr(server, "_owned", store)
    calls = []
    real = submit_mod.submit

    def recording(job, **kw):
        calls.append((job, kw))
        return real(job, **kw)

    monkeypatch.setattr(submit_mod, "submit", recording)
    yield store, calls
    store.close()


def test_a_run_started_on_the_page_is_queued_through_submit(serving):
    store, calls = serving
    at = app_page("experiments", params={"reviewer": "lead"})
    at.text_input(key="exp_dataset").input("qa@1")
    at.number_input(key="exp_concurrency").set_value(3)
    at.button(key="exp_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [(type(j).kind, kw["serving"], kw["origin"]) for j, kw in calls] == [
        ("experiment_run", True, "app")]
    job = store.write(job_sql.claim_next)
    assert job.kind == "experiment_run" and job.origin == "app"
    typed = kinds.parse_job(job.kind, job.params)
    assert (typed.target, typed.dataset, typed.concurrency, typed.baseline) == ("bot", "qa@1", 3,
                                                                              False)
    assert json.dumps(job.params)  # stored as plain JSON


def test_a_bad_form_value_is_a_message_and_nothing_is_queued(serving):
    store, calls = serving
    at = app_page("experiments", params={"reviewer": "lead"})
    at.text_input(key="exp_dataset").input("   ")
    at.button(key="exp_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = "\n".join(str(t.value) for t in at.text)
    assert "experiment_run job: field dataset" in shown
    assert calls == [] and store.scalar("SELECT count(*) FROM jobs") == 0
