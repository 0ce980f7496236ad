"""Detection on a small synthetic store built through the importer: goldenloop's own traffic
never raises an anomaly, a production burst does, new failure kinds and a newly failing tool
are events, and the owner's scheduler queues detection jobs."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from goldenloop.anomalies import detect, list_anomalies
from goldenloop.ingest.loader import import_table
from goldenloop.store import jobs as job_sql

START = datetime(2026, 5, 4)  # a Monday
DAYS = 21
END = START + timedelta(days=DAYS)
BURST = START + timedelta(days=18, hours=14)  # production errors: 40% for two hours
INTERNAL = START + timedelta(days=16, hours=10)  # judge and experiment calls failing
NEW_ERROR = START + timedelta(days=19, hours=9)
TOOL_FAILS = START + timedelta(days=20, hours=3)
QUIET_DAY = START + timedelta(days=17)  # a quiet app (2 calls an hour) 5x slower all day


def spans(rng: np.random.Generator) -> pa.Table:
    rows = []
    for h in range(DAYS * 24):
        t0 = START + timedelta(hours=h)
        n = rng.poisson(40 if 8 <= t0.hour < 20 else 15)
        for i in range(n):
            t = t0 + timedelta(seconds=float(rng.uniform(0, 3600)))
            fail = rng.random() < (0.4 if BURST <= t0 < BURST + timedelta(hours=2) else 0.01)
            new = NEW_ERROR <= t0 < NEW_ERROR + timedelta(hours=1) and i < 6
            rows.append(dict(trace_id=f"t{h}-{i}", span_id="s", app="bot", kind="llm",
                             model_version="m1", start_time=t,
                             latency_ms=float(rng.lognormal(6.5, 0.4)), output_tokens=80,
                             status="error" if (fail or new) else "ok",
                             error_type=("DatabaseLockedError" if new else
                                         "InternalServerError" if fail else None),
                             output=None if (fail or new) else "an answer"))
            if rng.random() < 0.5:  # a tool call in the same trace
                broken = TOOL_FAILS <= t0 < TOOL_FAILS + timedelta(hours=2)
                rows.append(dict(trace_id=f"t{h}-{i}", span_id="tool", app="bot", kind="tool",
                                 name="crm_api", start_time=t, latency_ms=50.0,
                                 status="error" if broken else "ok",
                                 error_type="ConnectionError" if broken else None))
        for i in range(rng.poisson(2)):
            slow = 5.0 if QUIET_DAY <= t0 < QUIET_DAY + timedelta(days=1) else 1.0
            rows.append(dict(trace_id=f"q{h}-{i}", span_id="s", app="quiet", kind="llm",
                             start_time=t0 + timedelta(seconds=float(rng.uniform(0, 3600))),
                             latency_ms=float(rng.lognormal(6.5, 0.3)) * slow,
                             output_tokens=80, status="ok", output="an answer"))
        if t0 == INTERNAL:  # goldenloop's own calls: a judge run and an experiment, all failing
            for i in range(200):
                for app, source in (("goldenloop-judge", "judge"), ("bot", "experiment")):
                    rows.append(dict(trace_id=f"{source}{i}", span_id="s", app=app, kind="llm",
                                     start_time=t0 + timedelta(seconds=i), latency_ms=90000.0,
                                     status="error", error_type="JudgeBudgetError",
                                     source=source))
    cols = sorted({k for r in rows for k in r})
    return pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in rows])


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    from goldenloop.schema import open_store

    s = open_store(tmp_path_factory.mktemp("anom") / "s.duckdb")
    import_table(s, spans(np.random.default_rng(5)), source="test", origin="test")
    detect(s, now=END)
    yield s, list_anomalies(s, limit=1000)
    s.close()


@pytest.mark.slow
def test_own_traffic_raises_nothing(found):
    _, df = found
    assert "goldenloop-judge" not in set(df["app"])
    near = df[(df["window_start"] <= INTERNAL) & (df["window_end"] > INTERNAL)]
    assert near.empty, near[["metric", "kind", "description"]].to_string()
    assert "JudgeBudgetError" not in set(df["value"].dropna())


def test_a_production_burst_is_found(found):
    _, df = found
    hit = df[(df["metric"] == "error_rate") & (df["kind"] == "spike")]
    spans = set(zip(hit["window_start"], hit["window_end"], strict=True))
    # The burst; besides it, at most the hour of the new error kind (6 errors in a quiet hour
    # may be a rate spike too).
    assert (BURST, BURST + timedelta(hours=2)) in spans
    assert spans <= {(BURST, BURST + timedelta(hours=2)),
                     (NEW_ERROR, NEW_ERROR + timedelta(hours=1))}


def test_new_failure_kinds_and_a_failing_tool_are_events(found):
    _, df = found
    new = df[df["kind"] == "new_failure"]
    assert set(zip(new["dimension"], new["value"], strict=True)) == {
        ("error_type", "DatabaseLockedError"), ("component", "crm_api")}
    tool = new[new["dimension"] == "component"].iloc[0]
    assert tool["metric"] == "tool_error_rate" and tool["window_start"] == TOOL_FAILS


def test_a_quiet_app_is_tested_by_the_day(found):
    _, df = found
    quiet = df[df["app"] == "quiet"]
    assert len(quiet) >= 1
    slow = quiet[quiet["metric"].str.startswith("latency")]
    assert len(slow) >= 1 and (slow["window_start"] == QUIET_DAY).all()
    assert (slow["detector"].str.endswith(":daily")).all()
    assert (slow["observed"] > 3 * slow["baseline"]).all()


def test_few_anomalies_beyond_the_planted_ones(found):
    _, df = found
    planted = ((df["metric"] == "error_rate") & (df["kind"] == "spike")) | (
        df["kind"] == "new_failure") | ((df["metric"] == "tool_error_rate")
                                        & (df["window_start"] == TOOL_FAILS)) | (
        (df["app"] == "quiet") & (df["window_start"] == QUIET_DAY))
    extra = df[~planted]
    assert len(extra) <= 2, extra[["metric", "kind", "window_start", "description"]].to_string()


def test_the_scheduler_queues_detection_after_new_spans_and_on_its_timer(found):
    from goldenloop.workers.pool import DetectScheduler

    s, _ = found
    sched = DetectScheduler(s, gap=0.0, every=3600.0)
    sched.tick()  # spans are there and were never looked at: a job
    queued = job_sql.running_or_queued(s.cursor(), "detect")
    assert len(queued) == 1
    sched.tick()  # one already waiting: no second one
    assert len(job_sql.running_or_queued(s.cursor(), "detect")) == 1
    s.write(lambda cur: cur.execute("UPDATE jobs SET status = 'done' WHERE kind = 'detect'"))
    sched.every = 0.0  # the timer is due: a job even though no span arrived
    sched.tick()
    assert len(job_sql.running_or_queued(s.cursor(), "detect")) == 1


@pytest.mark.slow
def test_the_detect_job_runs_detection(found):
    from goldenloop.workers.handlers import HANDLERS

    s, before = found
    notes = []
    out = HANDLERS["detect"](s, {"sensitivity": "medium"}, lambda f, m: notes.append(f))
    assert out["added"] == 0 and out["updated"] == out["found"] > 0
    assert "anomalies" in out["summary"] and notes[-1] == 1.0
    assert len(list_anomalies(s, limit=1000)) == len(before)
