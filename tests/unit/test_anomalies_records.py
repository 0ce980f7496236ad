"""The anomaly record in a real DuckDB file: found again means updated (never duplicated),
continuing means extended, ended means resolved; status changes keep their history."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from goldenloop.anomalies import (
    AnomalyError,
    AnomalyNotFoundError,
    anomaly_history,
    get_anomaly,
    list_anomalies,
    open_summary,
    set_status,
)
from goldenloop.anomalies.records import Finding, store_findings

T0 = datetime(2026, 3, 1, 10)
H = timedelta(hours=1)


def finding(start=T0, end=T0 + 2 * H, *, ongoing=True, observed=0.3, app="bot",
            metric="error_rate", kind="spike", severity=3) -> Finding:
    return Finding(metric=metric, app=app, dimension=None, value=None, kind=kind,
                   direction="up", window_start=start, window_end=end, baseline=0.01,
                   baseline_low=0.0, baseline_high=0.03, observed=observed, n=200,
                   severity=severity, score=12.0, detector="spike:rate", detector_version="1",
                   description="Error rate rose.", example_span_keys=[3, 1, 2], ongoing=ongoing)


def write(store, found, until, now=None):
    return store.write(store_findings, found, since=until - timedelta(days=30), until=until,
                       now=now or until)


def test_new_update_extend_resolve_without_duplicates(store):
    assert write(store, [finding()], T0 + 2 * H) == (1, 0, 0)
    (aid,) = list_anomalies(store)["anomaly_id"]
    a = get_anomaly(store, aid)
    assert (a.status, a.window_end, a.example_span_keys) == ("open", T0 + 2 * H, [3, 1, 2])

    # The same anomaly found again an hour later, still going: extended, not duplicated.
    assert write(store, [finding(end=T0 + 3 * H, observed=0.35)], T0 + 3 * H) == (0, 1, 0)
    a = get_anomaly(store, aid)
    assert (a.window_start, a.window_end, a.observed, a.status) == (T0, T0 + 3 * H, 0.35, "open")

    # Found again, but its last bucket is behind the newest data: it ended.
    assert write(store, [finding(end=T0 + 3 * H, ongoing=False)], T0 + 5 * H) == (0, 1, 0)
    a = get_anomaly(store, aid)
    assert a.status == "resolved" and a.resolved_at == T0 + 5 * H
    assert len(list_anomalies(store)) == 1
    assert anomaly_history(store, aid)["status"].tolist() == ["open", "resolved"]


def test_an_open_anomaly_not_found_again_is_resolved(store):
    write(store, [finding()], T0 + 2 * H)
    assert write(store, [], T0 + 6 * H) == (0, 0, 1)
    assert list_anomalies(store)["status"].tolist() == ["resolved"]


def test_a_later_episode_of_the_same_series_is_a_new_anomaly(store):
    write(store, [finding(ongoing=False)], T0 + 4 * H)
    write(store, [finding(T0 + 30 * H, T0 + 31 * H)], T0 + 31 * H)
    df = list_anomalies(store)
    assert len(df) == 2 and sorted(df["status"]) == ["open", "resolved"]


def test_list_filters_and_order(store):
    write(store, [finding(severity=1), finding(app="other", severity=3),
                  finding(metric="latency_p95", kind="spike", severity=2)], T0 + 2 * H)
    assert list_anomalies(store)["severity"].tolist() == [3, 2, 1]
    assert list_anomalies(store, apps=["other"])["app"].tolist() == ["other"]
    assert list_anomalies(store, metrics=["latency_p95"])["metric"].tolist() == ["latency_p95"]
    assert len(list_anomalies(store, min_severity=2)) == 2
    assert len(list_anomalies(store, status=["open", "muted"])) == 3
    summary = open_summary(store)
    assert summary["anomalies"].sum() == 3
    assert set(summary.columns) >= {"app", "severity", "severity_name", "anomalies", "latest"}
    with pytest.raises(AnomalyError, match="unknown status"):
        list_anomalies(store, status="closed")


def test_status_changes_keep_who_and_when(store):
    write(store, [finding()], T0 + 2 * H)
    aid = int(list_anomalies(store)["anomaly_id"][0])
    a = set_status(store, aid, "acknowledged", by="lead", note="looking")
    assert (a.status, a.status_by) == ("acknowledged", "lead")
    until = datetime.now() + timedelta(days=1)
    a = set_status(store, aid, "muted", by="lead", muted_until=until)
    assert a.status == "muted" and a.muted_until == until
    assert open_summary(store).empty  # muted until tomorrow: not open
    a = set_status(store, aid, "open", by="lead")
    assert a.status == "open" and a.muted_until is None
    hist = anomaly_history(store, aid)
    assert hist["status"].tolist() == ["open", "acknowledged", "muted", "open"]
    assert hist["by"].tolist() == ["detection", "lead", "lead", "lead"]
    # Re-detection keeps a person's acknowledgement.
    set_status(store, aid, "acknowledged", by="lead")
    write(store, [finding(end=T0 + 3 * H)], T0 + 3 * H)
    assert get_anomaly(store, aid).status == "acknowledged"


def test_bad_status_changes_are_named_errors(store):
    write(store, [finding()], T0 + 2 * H)
    aid = int(list_anomalies(store)["anomaly_id"][0])
    with pytest.raises(AnomalyNotFoundError):
        get_anomaly(store, 999)
    with pytest.raises(AnomalyNotFoundError):
        set_status(store, 999, "acknowledged", by="lead")
    with pytest.raises(AnomalyError, match="future"):
        set_status(store, aid, "muted", by="lead", muted_until=datetime(2000, 1, 1))
    with pytest.raises(AnomalyError, match="who"):
        set_status(store, aid, "acknowledged", by=" ")
    with pytest.raises(AnomalyError, match="unknown status"):
        set_status(store, aid, "done", by="lead")
