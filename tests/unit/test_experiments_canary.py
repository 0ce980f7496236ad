"""Canaries: a simulated silent model update. A loopback endpoint changes its answers (and the
model version it reports) between two scheduled canary runs; the drop shows in the canary
series by model version, in the changed answers and in the run comparison. The schedule
queues jobs that the owner's job runner executes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from canary_support import NEW, Endpoint, add_target
from openai_loopback import openai_server

from goldenloop.errors import ExperimentError
from goldenloop.experiments import canaries, compare, results
from goldenloop.workers.handlers import HANDLERS
from goldenloop.workers.jobs import JobRunner


@pytest.fixture
def endpoint_server(monkeypatch):
    ep = Endpoint(monkeypatch)
    with openai_server(ep) as srv:
        yield ep, srv


def _run_queued(store):
    runner = JobRunner(store, HANDLERS)
    while runner.tick():
        pass
    assert canaries.wait_until_idle(store, 5)


@pytest.mark.slow
def test_silent_model_update_shows_in_series_changes_and_comparison(store, tmp_path,
                                                                    endpoint_server):
    ep, srv = endpoint_server
    add_target(store, tmp_path, srv.base_url)
    with pytest.raises(ExperimentError, match="no target named 'nope'"):
        canaries.save(store, canaries.parse({"name": "x", "target": "nope", "dataset": "a"}))
    suite = canaries.save(store, canaries.parse({
        "name": "nightly", "target": "live", "dataset": "canary-set",
        "scorers": ["exact", "token_f1"], "every_minutes": 60}))
    assert canaries.queue_due(store) == ["nightly"]
    assert canaries.queue_due(store) == []          # already queued: not twice
    _run_queued(store)
    assert canaries.due(store) == []               # ran just now: next in an hour

    ep.set(NEW)
    later = store.scalar("SELECT max(started_at) FROM experiment_runs") + timedelta(minutes=61)
    assert [s.name for s in canaries.due(store, later)] == ["nightly"]
    assert canaries.queue_due(store, later) == ["nightly"]
    _run_queued(store)

    runs = results.runs(store, suite="nightly")
    assert list(runs["source"]) == ["canary", "canary"] and list(runs["status"]) == ["done"] * 2
    assert store.scalar("SELECT count(*) FROM spans WHERE source = 'canary'") == 40
    s = canaries.series(store, suite.name)
    exact = s[s["scorer"] == "exact"].set_index("model_version")
    assert exact.loc["model-2026-01", "mean"] == 1.0
    assert exact.loc["model-2026-03", "mean"] == pytest.approx(15 / 20)
    changed = canaries.changed_answers(store, "nightly")
    assert sorted(changed["item_key"]) == [f"c{i:02d}" for i in range(0, 20, 4)]
    row = changed.iloc[0]
    assert row["previous"] == "answer 0" and row["current"] == "Sorry, I cannot help."
    assert (row["previous_model_version"], row["current_model_version"]) == \
        ("model-2026-01", "model-2026-03")
    new, old = [int(r) for r in runs["run_id"]]
    c = compare.compare(store, new, old)
    assert c.regressions == 5 and c.improvements == 0
    ex = c.scorers.set_index("scorer").loc["exact"]
    assert ex["mean_diff"] == pytest.approx(-0.25) and ex["ci_high"] < 0
    assert ex["passed_then_failed"] == 5


def test_suites_are_validated_listed_and_removed(store, tmp_path):
    add_target(store, tmp_path, "http://127.0.0.1:9/v1")
    with pytest.raises(ExperimentError, match="every_minutes"):
        canaries.parse({"name": "x", "target": "live", "dataset": "canary-set", "every_minutes": 0})
    with pytest.raises(ExperimentError, match="unknown scorer"):
        canaries.save(store, canaries.parse({"name": "x", "target": "live",
                                             "dataset": "canary-set", "scorers": ["bleu"]}))
    canaries.save(store, canaries.parse({"name": "x", "target": "live", "dataset": "canary-set",
                                         "enabled": False}))
    assert [s.name for s in canaries.suites(store)] == ["x"] and canaries.due(store) == []
    assert canaries.remove(store, "x") and canaries.suites(store) == []


def test_a_broken_suite_is_queued_once_per_interval(store, tmp_path):
    add_target(store, tmp_path, "http://127.0.0.1:9/v1")
    canaries.save(store, canaries.parse({"name": "b", "target": "live", "dataset": "canary-set",
                                         "every_minutes": 30}))
    (store.path.parent / "targets" / "live.yaml").unlink()     # the job will fail
    assert canaries.queue_due(store) == ["b"]
    _run_queued(store)
    assert store.scalar("SELECT status FROM jobs WHERE kind = 'canary_run'") == "failed"
    assert canaries.queue_due(store) == []                      # not again within 30 minutes
    later = store.scalar("SELECT max(created_at) FROM jobs") + timedelta(minutes=31)
    assert canaries.queue_due(store, later) == ["b"]
