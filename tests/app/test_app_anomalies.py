"""The Anomalies page, Home's open anomalies and the Monitor's detected-anomaly layer, run
in-process with AppTest over real DuckDB files whose anomalies are stored through the
detection package's own record writer (``store_findings``)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import altair as alt
import pandas as pd
import pytest
from app_support import app_page
from review_support import synthetic_spans

from goldenloop import anomalies
from goldenloop.anomalies.records import Finding, store_findings
from goldenloop.metrics import SpanFilter, overview
from goldenloop.schema import open_store

START = datetime(2026, 1, 1)
NOW = datetime(2026, 1, 2)


def finding(metric: str, app: str, severity: int, hours: tuple[int, int], *, keys=(),
            kind: str = "spike", dimension: str | None = None, value: str | None = None,
            ongoing: bool = True, description: str = "") -> Finding:
    return Finding(
        metric=metric, app=app, dimension=dimension, value=value, kind=kind, direction="up",
        window_start=START + timedelta(hours=hours[0]), window_end=START + timedelta(hours=hours[1]),
        baseline=0.01, baseline_low=0.0, baseline_high=0.03, observed=0.2, n=120,
        severity=severity, score=8.0, detector="test", detector_version="1",
        description=description or f"{metric} {kind} in {app}",
        example_span_keys=list(keys), ongoing=ongoing)


def seed(db: Path, findings: list[Finding] | None = None) -> list[int]:
    """Two hours of synthetic spans (apps a1 and a2) and the given anomalies; returns the
    span keys."""
    with open_store(db) as store:
        synthetic_spans(store, 7200, start=START)
        keys = [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]
        found = findings if findings is not None else default_findings(keys)
        store.write(lambda cur: store_findings(cur, found, since=START, until=NOW, now=NOW))
    return keys


def default_findings(keys: list[int]) -> list[Finding]:
    return [
        finding("error_rate", "a1", 2, (0, 1), keys=keys[:5]),
        finding("latency_p95", "a2", 3, (0, 2), keys=keys[10:14]),
        finding("latency_p95", "a1", 3, (1, 2), keys=keys[20:23]),
        finding("output_tokens", "a1", 1, (0, 1), kind="new_version", dimension="model_version",
                value="m2"),
        finding("requests", "a2", 2, (0, 1), ongoing=False),  # ended: resolved
    ]


def stored(db: Path) -> pd.DataFrame:
    with open_store(db) as store:
        return anomalies.list_anomalies(store, limit=100)


def page(params: dict | None = None):
    return app_page("anomalies", params={"reviewer": "lead", **(params or {})})


def test_empty_store_says_how_to_detect(app_db: Path) -> None:
    at = page()
    assert at.title[0].value == "Anomalies"
    assert "No anomaly has been detected yet" in at.info[0].value
    assert [c.value for c in at.code] == ["goldenloop anomalies detect"]


def test_list_sorted_by_severity_then_recency_and_filtered(app_db: Path) -> None:
    seed(app_db)
    truth = stored(app_db)
    at = page()
    listed = at.dataframe[0].value
    open_ = truth[truth["status"] != "resolved"]
    # Most severe first, then the window that ends last (a2's latency before a1's).
    assert listed["anomaly_id"].tolist() == open_.sort_values(
        ["severity", "window_end", "anomaly_id"], ascending=False)["anomaly_id"].tolist()
    assert listed["severity_name"].tolist() == ["high", "high", "medium", "low"]
    assert listed["where"].iloc[3] == "model_version = m2"
    assert "4 anomalies: 2 high, 1 medium, 1 low." in [t.value for t in at.text]
    # Filters: app a2 and status resolved give the ended one only.
    at = page({"app": "a2", "status": "resolved"})
    only = at.dataframe[0].value
    assert only["metric"].tolist() == ["Requests"] and only["status"].tolist() == ["resolved"]
    at = page({"metric": "latency_p95"})
    assert set(at.dataframe[0].value["app"]) == {"a1", "a2"}


def test_one_anomaly_with_chart_examples_and_actions(app_db: Path) -> None:
    keys = seed(app_db)
    target = int(stored(app_db).query("metric == 'error_rate'")["anomaly_id"].iloc[0])
    at = page({"anomaly": str(target)})
    assert at.selectbox(key="anomaly").value == target
    examples = at.dataframe[1].value
    assert examples["span_key"].tolist() == keys[:5]  # the anomaly's own examples, in order
    first = examples.iloc[0]
    assert first["link"] == "trace?" + urlencode({"trace": first["trace_id"],
                                                  "span": first["span_id"]})
    assert {m.label: m.value for m in at.metric}["Observed"] == "20.00%"
    at.button(key="an_ack").click().run()
    assert not at.exception
    after = stored(app_db).set_index("anomaly_id").loc[target]
    assert (after["status"], after["status_by"]) == ("acknowledged", "lead")
    # Muted for 6 hours from now, by the same name; then reopened.
    at.selectbox(key="an_mute_for").set_value("6 hours").run()
    at.button(key="an_mute").click().run()
    after = stored(app_db).set_index("anomaly_id").loc[target]
    assert after["status"] == "muted"
    assert abs(after["muted_until"] - (datetime.utcnow() + timedelta(hours=6))) < timedelta(minutes=5)
    at.button(key="an_reopen").click().run()
    assert stored(app_db).set_index("anomaly_id").loc[target, "status"] == "open"
    with open_store(app_db) as store:
        history = anomalies.anomaly_history(store, target)
    assert history["status"].tolist()[-3:] == ["acknowledged", "muted", "open"]
    shown = next(t.value for t in at.text if "UTC  open" in t.value)  # the page's history
    assert "acknowledged" in shown and "by lead: muted until" in shown


def test_examples_go_to_a_by_hand_queue(app_db: Path) -> None:
    keys = seed(app_db)
    target = int(stored(app_db).query("metric == 'error_rate'")["anomaly_id"].iloc[0])
    at = page({"anomaly": str(target)})
    at.text_input(key=f"an_queue_name_{target}").set_value("burst check")
    at.button(key="an_queue_send").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("holds the examples" in s.value for s in at.success)
    with open_store(app_db) as store:
        q = store.rows("SELECT queue_id, name, created_by, design FROM queues")
        items = store.rows("SELECT span_key FROM queue_items ORDER BY span_key")
    assert [(r[1], r[2]) for r in q] == [("burst check", "lead")]
    assert json.loads(q[0][3])["probability"] is False  # by hand: not a probability sample
    assert [k for (k,) in items] == sorted(keys[:5])


def test_actions_need_a_name_and_a_lead(app_db: Path) -> None:
    seed(app_db)
    (app_db.parent / "roles.yaml").write_text("leads: [boss]\nreviewers: [ana]\n")
    at = app_page("anomalies")
    assert any("Type your name in the sidebar" in c.value for c in at.caption)
    at = app_page("anomalies", params={"reviewer": "ana"})
    assert at.button(key="an_ack").disabled
    assert any("Only leads" in c.value for c in at.caption)


def test_outlier_spans_view(app_db: Path) -> None:
    with open_store(app_db) as store:
        synthetic_spans(store, 400, start=START)
        # Latencies spread by version (a robust scale to measure against), one far out.
        store.write(lambda cur: cur.execute(
            "UPDATE spans SET latency_ms = CASE WHEN span_key = 7 THEN 900000 "
            "ELSE 800 + (span_key * 37) % 400 END"))
    at = page({"view": "Outlier spans"})
    out = at.dataframe[0].value
    assert out["span_key"].tolist()[:1] == [7] and "extreme latency ms" in out["why"].iloc[0]


def test_home_shows_open_anomalies_first(app_db: Path) -> None:
    seed(app_db)
    at = app_page()
    assert at.subheader[0].value == "Open anomalies"
    tiles = {m.label: m.value for m in at.metric}
    assert (tiles["High severity"], tiles["Medium severity"], tiles["Low severity"]) == (
        "2", "1", "1")
    top = at.dataframe[0].value
    assert top["severity_name"].tolist() == ["high", "high", "medium", "low"]
    assert top["link"].iloc[0] == f"anomalies?anomaly={int(top['anomaly_id'].iloc[0])}"


def test_home_without_open_anomalies_has_no_section(app_db: Path) -> None:
    seed(app_db, [finding("requests", "a2", 2, (0, 1), ongoing=False)])
    at = app_page()
    assert "Open anomalies" not in [s.value for s in at.subheader]


def test_monitor_draws_detected_anomalies_apart_from_the_answer_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from goldenloop_app import state
    from goldenloop_app.monitor import charts as monitor_charts

    db = tmp_path / "m.duckdb"
    seed(db)
    with open_store(db) as store:
        f = SpanFilter(start=START, end=START + timedelta(hours=3))
        view = overview(store, f, None)
        detected = state.monitor_detected(store, f)
    latency = monitor_charts.build(view, "latency", None, detected).vega_spec(validate=True)
    assert sorted(latency["datasets"]["detected"]["severity"]) == ["high", "high"]
    assert set(latency["datasets"]["detected"]["label"]) == {"detected: spike"}
    requests = monitor_charts.build(view, "requests", None, detected).vega_spec()
    assert len(requests["datasets"]["detected"]) == 1  # the ended one is history: still drawn
    cost = monitor_charts.build(view, "cost_per_1k", None, detected).vega_spec()
    assert "detected" not in cost["datasets"]  # no cost anomaly
    # Labels closer than the given distance to a more severe or earlier one stay blank.
    rows = monitor_charts.detected_rows(detected, timedelta(hours=2))
    assert rows["label"].tolist() == ["detected: spike", "", "", "", ""]
    assert rows["severity"].tolist()[:2] == ["high", "high"]
    alt.LayerChart.from_dict({**latency, "datasets": {
        k: json.loads(d.to_json(orient="records", date_format="iso"))
        for k, d in latency["datasets"].items()}}, validate=True)


def test_long_chart_windows_are_merged_into_wider_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    from goldenloop_app.anomalies import panels as ap

    hours = pd.date_range("2026-01-01", periods=1000, freq="h")
    n = (pd.Series(range(1000)) % 5).astype(float)
    series = pd.DataFrame({"time": hours, "observed": (pd.Series(range(1000)) % 3 + 1.0).where(n > 0),
                           "baseline": 1.0, "low": 0.5, "high": 2.0, "n": n})
    out = ap.coarser(series, points=180)
    assert len(out) <= 180 and out["n"].sum() == n.sum()  # every request kept
    width = -(-1000 // 180)  # hours per bucket
    first = series.iloc[:width]
    assert out["observed"].iloc[0] == pytest.approx(
        (first["observed"].fillna(0) * first["n"]).sum() / first["n"].sum())
    assert ap.coarser(series.iloc[:100], points=180).equals(series.iloc[:100])  # short: hourly
