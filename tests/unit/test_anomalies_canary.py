"""Detection watches canary scores. End to end: a loopback endpoint silently changes its answers
(and the model version it reports) between scheduled canary runs; detection reports one open
anomaly of ``canary_score`` for the suite and scorer with the regressed items' spans as
examples, an "anomaly" alert rule fires into a real loopback receiver, and when the answers
come back the anomaly is resolved. On synthetic histories (rows written as runs write them):
a sampled endpoint's noise raises nothing, a real drop in it is found, and the statistics
match an independent computation."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from alerts_support import receiver
from canary_support import NEW, OLD, Endpoint, add_suite, add_target
from openai_loopback import openai_server
from scipy import integrate, stats

from goldenloop import alerts
from goldenloop.alerts import records as alert_records
from goldenloop.anomalies import canary, detect, get_anomaly, list_anomalies, window_series
from goldenloop.experiments import canaries
from goldenloop.experiments.schema import ensure_tables

FAST = alerts.Settings(public_url="http://review.example:8501",
                       retry=alerts.RetryPolicy(attempts=2, base_s=0.05, factor=2.0))


def _suite(store, tmp_path, url):
    add_target(store, tmp_path, url)
    add_suite(store)


def _hourly(store):
    """Space the runs an hour apart, the latest now (the schedule's hourly runs)."""
    def write(cur):
        cur.execute("""UPDATE experiment_runs u SET started_at = now()::TIMESTAMP
                           - INTERVAL 1 HOUR * (x.k - 1)
                       FROM (SELECT run_id, row_number() OVER (ORDER BY run_id DESC) AS k
                             FROM experiment_runs) x WHERE x.run_id = u.run_id""")
    store.write(write)


@pytest.mark.slow
def test_a_silent_model_update_is_an_anomaly_that_alerts_and_resolves(store, tmp_path,
                                                                        monkeypatch):
    ep = Endpoint(monkeypatch)
    with openai_server(ep) as srv, receiver() as rec:
        _suite(store, tmp_path, srv.base_url)
        for _ in range(6):
            canaries.run_suite(store, "nightly")
        ep.set(NEW)  # the silent update
        for _ in range(2):
            canaries.run_suite(store, "nightly")
        _hourly(store)
        result = detect(store)
        rule = alerts.parse_rule({"name": "canary anomaly", "metric": "anomalies",
                                  "condition": "anomaly", "critical": 2, "window": "1h",
                                  "anomaly_metrics": ["canary_score"],
                                  "channels": [{"type": "webhook", "url": rec.url("/canary")}]})
        store.write(alert_records.save_rule, rule, "app", "ana")
        check = alerts.check(store, FAST, at=datetime.utcnow() + timedelta(minutes=1), wait=True)
        sent = rec.bodies()

        ep.set(OLD)  # the provider rolls back
        canaries.run_suite(store, "nightly")
        _hourly(store)
        detect(store)

    assert result.found == 1 and result.added == 1
    df = list_anomalies(store, metrics=["canary_score"])
    assert len(df) == 1
    a = get_anomaly(store, int(df["anomaly_id"].iloc[0]))
    assert (a.app, a.dimension, a.value, a.kind, a.direction) == (
        "canary:nightly", "scorer", "exact", "shift", "down")
    assert a.baseline == 1.0 and a.observed == pytest.approx(0.75) and a.n == 20
    assert a.details["regressed"] == 5 and a.details["runs"] == 1
    assert a.details["model_versions_before"] == ["model-2026-01"]
    assert a.details["model_versions_after"] == ["model-2026-03"]
    first_bad = store.scalar("SELECT started_at FROM experiment_runs ORDER BY run_id "
                             "LIMIT 1 OFFSET 6")
    assert a.window_start == first_bad
    # the examples are the canary spans of the five items that now refuse
    ex = store.rows("SELECT DISTINCT source, output FROM spans WHERE list_contains(?, span_key)",
                    [a.example_span_keys])
    assert ex == [("canary", "Sorry, I cannot help.")] and len(a.example_span_keys) == 5
    # the anomaly alert fired once into the receiver
    (ev,) = check.evaluations
    assert ev.state == "ALERT" and ev.value == a.severity >= 2
    assert [(b["kind"], b["state"]) for b in sent] == [("firing", "ALERT")]
    assert "Canary score (exact) fell for suite nightly" in sent[0]["reason"]
    # back to the old answers: the anomaly ended at the run that recovered
    a = get_anomaly(store, a.anomaly_id)
    recovered = store.scalar("SELECT max(started_at) FROM experiment_runs")
    assert a.status == "resolved" and a.window_end == recovered
    chart = window_series(store, a)  # the Anomalies page's chart: one point per run
    assert list(chart["observed"].round(2)) == [1.0] * 6 + [0.75, 0.75, 1.0]
    assert chart["baseline"].iloc[6] == 1.0 and chart["n"].eq(20).all()


# -- synthetic histories ---------------------------------------------------------------------
def _history(store, passes: np.ndarray, *, suite="s", scorer="exact", start=None):
    """Runs of one suite an hour apart: ``passes[run, item]`` is 1 (passed) or 0."""
    ensure_tables(store)
    start = start or datetime(2026, 11, 1)
    runs = passes.shape[0]

    def write(cur):
        base = int(cur.execute("SELECT coalesce(max(run_id), 0) FROM experiment_runs")
                   .fetchone()[0])
        cur.execute("""INSERT INTO experiment_runs (run_id, source, suite, status, started_at)
                       SELECT $base + r, 'canary', $suite, 'done', $start + INTERVAL 1 HOUR * r
                       FROM range($runs) t(r)""",
                    {"base": base + 1, "suite": suite, "start": start, "runs": runs})
        r, i = np.nonzero(np.ones_like(passes))
        cur.execute("""INSERT INTO experiment_scores (run_id, item_key, scorer, value, passed)
                       SELECT $base + unnest($r), 'i' || unnest($i), $scorer,
                              unnest($v)::DOUBLE, unnest($v) = 1""",
                    {"base": base + 1, "r": r.tolist(), "i": i.tolist(), "scorer": scorer,
                     "v": passes[r, i].astype(int).tolist()})
    store.write(write)


def _found(store, now):
    return canary.find(store, None, None, now, 1e-3)


@pytest.mark.slow
def test_a_sampled_endpoints_noise_raises_nothing_and_a_real_drop_is_found(store):
    rng = np.random.default_rng(7)
    runs, items, seeds = 40, 50, 12
    now = datetime(2026, 11, 1) + timedelta(hours=runs)
    false_alarms = found = 0
    for seed in range(seeds):
        p = rng.uniform(0.6, 1.0, items)  # each item's own chance to pass (temperature > 0)
        noise = (rng.random((runs, items)) < p).astype(int)
        drop = noise.copy()
        drop[30:] = (rng.random((runs - 30, items)) < p - 0.4).astype(int)
        _history(store, noise, suite=f"noise{seed}")
        _history(store, drop, suite=f"drop{seed}")
    res = _found(store, now)
    for f in res.found:
        if f.app.startswith("canary:noise"):
            false_alarms += 1
        else:
            found += 1
            # at the drop, or a few runs later when its first run's regressions were within
            # what the noisy level makes usual
            hours = (f.window_start - datetime(2026, 11, 1)) / timedelta(hours=1)
            assert 30 <= hours <= 35
    assert false_alarms == 0
    assert found >= seeds - 2  # the drop of 0.4 in pass chance, from a noisy level
    assert res.series == 2 * seeds and res.tests == 2 * seeds * (runs - 1 - canary.MIN_REFS)


def test_regressions_are_tested_against_what_the_references_predict(store):
    items = 40
    passes = np.ones((10, items), dtype=int)
    # before the drop: one item flips down (and back up) now and then
    for r in (2, 4, 6):
        passes[r, r] = 0
    passes[8:, :6] = 0  # the drop: six items stop passing at run 8
    _history(store, passes)
    (f,) = _found(store, datetime(2026, 11, 2)).found
    tr = canary.transitions(canary.scores(store, datetime(2026, 1, 1), datetime(2027, 1, 1)))
    # run 8 against the transitions of runs 1..7: 3 regressions in 7 x 40 pairs
    assert (tr["ref_k"].iloc[8], tr["ref_n"].iloc[8]) == (3, 7 * items)
    assert tr["regressed"].iloc[8] == 6 and tr["paired"].iloc[8] == items
    assert tr["regressed_items"].iloc[8] == [f"i{k}" for k in range(6)]
    # P(6 or more of 40) when the rate is unknown but Beta(3.5, 277.5) after the references,
    # integrated numerically (not through scipy's beta-binomial, which the code uses)
    a, b = 3 + 0.5, 7 * items - 3 + 0.5
    p, _ = integrate.quad(lambda r: stats.binom.sf(5, items, r) * stats.beta.pdf(r, a, b),
                          0, 1, points=[a / (a + b)], limit=200)
    assert f.score == pytest.approx(-np.log10(p), rel=1e-4)
    assert f.details["usual_regression_rate"] == pytest.approx(a / (a + b))
    assert f.ongoing and f.observed == pytest.approx(34 / 40) and f.baseline == 1.0


def test_a_drop_smaller_than_the_practical_minimum_or_one_item_is_not_reported(store):
    passes = np.ones((12, 40), dtype=int)
    passes[9:, 0] = 0  # one item of 40: a fall of 0.025
    _history(store, passes)
    assert _found(store, datetime(2026, 11, 2)).found == []


def test_detection_without_production_traffic_still_watches_canaries(store):
    assert detect(store).found == 0  # nothing at all: nothing to do
    passes = np.ones((10, 20), dtype=int)
    passes[8:, :5] = 0
    _history(store, passes, start=datetime.utcnow() - timedelta(hours=10))
    r = detect(store)
    assert r.found == 1 and r.series == 1
    (m,) = list_anomalies(store)["metric"]
    assert m == "canary_score"
