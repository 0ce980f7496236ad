"""Canary results watched by alert rules: a loopback endpoint silently changes its answers (and
the model version it reports) between two scheduled canary runs, and "canary score below 0.8"
fires exactly once into a real loopback HTTP receiver; a "change" rule sees the drop against
the previous window; filters by suite and model version select runs; bad definitions say why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alerts_support import receiver
from canary_support import NEW, Endpoint, add_suite, add_target
from openai_loopback import openai_server

from goldenloop import alerts
from goldenloop.alerts import records
from goldenloop.experiments import canaries
from goldenloop.workers.handlers import HANDLERS
from goldenloop.workers.jobs import JobRunner

FAST = alerts.Settings(public_url="http://review.example:8501",
                       retry=alerts.RetryPolicy(attempts=2, base_s=0.05, factor=2.0))


def _setup(store, tmp_path, url):
    add_target(store, tmp_path, url)
    add_suite(store)


def _run_due(store, now=None):
    assert canaries.queue_due(store, now) == ["nightly"]
    runner = JobRunner(store, HANDLERS)
    while runner.tick():
        pass
    assert canaries.wait_until_idle(store, 5)


def _rule(store, **fields):
    rule = alerts.parse_rule(fields)
    store.write(records.save_rule, rule, "app", "ana")
    return rule


def test_canary_score_below_fires_once_into_the_receiver(store, tmp_path, monkeypatch):
    ep = Endpoint(monkeypatch)
    with openai_server(ep) as srv, receiver() as rec:
        _setup(store, tmp_path, srv.base_url)
        _run_due(store)
        # The first run took place 90 minutes before the second (the schedule is hourly).
        def earlier(cur):
            cur.execute("UPDATE experiment_runs SET started_at = started_at - INTERVAL 90 MINUTE")
            cur.execute("UPDATE jobs SET created_at = created_at - INTERVAL 90 MINUTE")

        store.write(earlier)
        t1 = store.scalar("SELECT max(started_at) FROM experiment_runs")
        hook = [{"type": "webhook", "url": rec.url("/hooks/canary")}]
        _rule(store, name="canary low", metric="canary_score", scorer="exact", condition="below",
              critical=0.8, window="1h", interval="1m", filter={"suites": ["nightly"]},
              channels=hook)
        _rule(store, name="canary drop", metric="canary_score", scorer="exact",
              condition="change", direction="down", warn=0.2, window="1h")
        _rule(store, name="old version", metric="canary_score", scorer="exact",
              condition="below", critical=0.8, window="1h",
              filter={"model_versions": ["model-2026-01"]})
        _rule(store, name="other suite", metric="canary_score", scorer="exact",
              condition="below", critical=0.8, window="1h", filter={"suites": ["weekly"]})

        first = {e.rule: e for e in alerts.check(store, FAST, at=t1 + timedelta(minutes=1))
                 .evaluations}
        assert first["canary low"].state == "OK" and first["canary low"].value == 1.0
        assert first["canary low"].samples == 20
        assert first["old version"].state == "OK"
        assert first["other suite"].state == "NO_DATA"

        ep.set(NEW)                                       # the silent update
        _run_due(store)
        t2 = store.scalar("SELECT max(started_at) FROM experiment_runs")
        checks = [alerts.check(store, FAST, at=t2 + timedelta(minutes=m), wait=True)
                  for m in (1, 2, 5)]
        sent = rec.bodies()

    now = {e.rule: e for e in checks[0].evaluations}
    # 5 of 20 answers changed to a refusal: exact match 15/20, only in the second run.
    assert now["canary low"].state == "ALERT"
    assert now["canary low"].value == pytest.approx(15 / 20) and now["canary low"].samples == 20
    assert now["canary drop"].state == "WARN"
    assert now["canary drop"].reference == 1.0
    assert now["canary drop"].change == pytest.approx(-0.25)
    assert now["old version"].state == "NO_DATA"        # no run answered by it in the hour
    assert [e.state for c in checks for e in c.evaluations if e.rule == "canary low"] == \
        ["ALERT"] * 3
    assert [(b["kind"], b["state"], b["previous_state"]) for b in sent] == \
        [("firing", "ALERT", "OK")]
    assert sent[0]["metric"] == "canary_score" and sent[0]["threshold"] == 0.8
    assert sent[0]["value"] == pytest.approx(0.75)
    assert rec.paths == ["/hooks/canary"]


def test_canary_score_on_a_database_without_experiments_is_no_data(store):
    _rule(store, name="c", metric="canary_score", scorer="exact", condition="below", warn=0.9)
    (ev,) = alerts.check(store, FAST).evaluations
    assert ev.state == "NO_DATA" and ev.value is None


@pytest.mark.parametrize(("fields", "message"), [
    ({"metric": "canary_score"}, "needs a scorer"),
    ({"metric": "canary_score", "scorer": "exact", "filter": {"apps": ["a"]}},
     "filters by suites and model_versions only, not apps"),
    ({"metric": "error_rate", "filter": {"suites": ["nightly"]}},
     "filter.suites applies to metric canary_score only"),
    ({"metric": "error_rate", "scorer": "exact"}, "scorer applies to metric canary_score only"),
])
def test_bad_canary_rules_say_why(fields, message):
    with pytest.raises(alerts.RuleError, match=message):
        alerts.parse_rule({"name": "x", "condition": "below", "warn": 0.5} | fields)


def test_a_lead_creates_a_canary_rule_on_the_alerts_page(app_db, tmp_path):
    from app_support import app_page

    from goldenloop.schema import open_store

    with open_store(app_db) as store:
        _setup(store, tmp_path, "http://127.0.0.1:9/v1")
    at = app_page("alerts", params={"reviewer": "ana"})
    at.text_input(key="gl_alert_name").input("nightly canary")
    at.selectbox(key="gl_alert_metric").set_value("canary_score").run()
    at.selectbox(key="gl_alert_condition").set_value("below")
    at.text_input(key="gl_alert_warn").input("")
    at.text_input(key="gl_alert_critical").input("0.8")
    at.text_input(key="gl_alert_scorer").input("token_f1")
    at.multiselect(key="gl_alert_suites").select("nightly")
    at.button(key="gl_alert_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success, [t.value for t in at.text]
    with open_store(app_db) as store:
        (stored,) = alerts.stored_rules(store)
    assert (stored.rule.metric, stored.rule.scorer, stored.rule.filter.suites) == \
        ("canary_score", "token_f1", ["nightly"])
    assert stored.rule.critical == 0.8
