"""Rule definitions and the values rules watch: validation messages name file, rule and field;
the YAML file syncs into the store; every metric's value matches pandas/numpy on the same rows;
change, anomaly and no-data conditions."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from alerts_support import load, minute_traffic

from goldenloop import alerts
from goldenloop.alerts import records

T0 = datetime(2025, 3, 3, 12, 0)
MIN = timedelta(minutes=1)

GOOD = """
public_url: https://goldenloop.example.org
rules:
  - name: support errors
    metric: error_rate
    filter: {apps: [support]}
    window: 15m
    condition: above
    warn: 0.05
    critical: 0.2
    cooldown: 2h
    channels:
      - {type: webhook, url_env: OPS_HOOK}
      - {type: apprise, name: slack, url_env: SLACK_WEBHOOK_URL}
  - name: anomalies
    metric: anomalies
    condition: anomaly
    warn: 2
    critical: 3
"""


def write(tmp_path, text: str):
    path = tmp_path / "alerts.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_file_loads_and_syncs_into_the_store(store, tmp_path, monkeypatch):
    monkeypatch.delenv("GOLDENLOOP_PUBLIC_URL", raising=False)
    path = write(tmp_path, GOOD)
    settings = alerts.load_and_sync(store, path)
    assert settings.public_url == "https://goldenloop.example.org"
    stored = {s.rule.name: s for s in alerts.stored_rules(store)}
    assert set(stored) == {"support errors", "anomalies"}
    rule = stored["support errors"].rule
    assert rule.window == timedelta(minutes=15) and rule.cooldown == timedelta(hours=2)
    assert [c.label for c in rule.channels] == ["webhook:OPS_HOOK", "apprise:slack"]
    assert stored["support errors"].origin == "file"

    # A page rule survives a reload; a rule taken out of the file goes; a changed one changes.
    page_rule = alerts.parse_rule({"name": "mine", "metric": "requests", "condition": "below",
                                   "warn": 5})
    store.write(records.save_rule, page_rule, "app", "ana")
    write(tmp_path, GOOD.split("  - name: anomalies")[0].replace("0.2", "0.3"))
    alerts.load_and_sync(store, path)
    stored = {s.rule.name: s for s in alerts.stored_rules(store)}
    assert set(stored) == {"support errors", "mine"}
    assert stored["support errors"].rule.critical == 0.3
    actions = [a for (a,) in store.rows("SELECT action FROM audit_log ORDER BY audit_id")]
    assert actions.count("alert_rule_deleted") == 1


@pytest.mark.parametrize(("text", "message"), [
    ("rules:\n  - name: x\n    metric: latency\n    condition: above\n    warn: 1\n",
     "alerts.yaml: rules[0] ('x'): metric: Input should be"),
    ("rules:\n  - name: x\n    metric: error_rate\n    condition: above\n    warn: 0.3\n"
     "    critical: 0.1\n", "rules[0] ('x'): rule: critical (0.1) must be beyond warn (0.3)"),
    ("rules:\n  - name: x\n    metric: error_rate\n    condition: above\n    warn: 0.1\n"
     "    window: soon\n", "rules[0] ('x'): window: 'soon' is not a duration"),
    ("rules:\n  - name: x\n    metric: error_rate\n    condition: above\n    warn: 0.1\n"
     "    channels: [{type: webhook}]\n", "rules[0] ('x'): channels.0: give exactly one of url_env"),
    ("rules:\n  - name: x\n    metric: error_rate\n    condition: above\n    warn: 0.1\n"
     "    channels: [{type: webhook, url_env: 'https://hooks.example/x'}]\n",
     "url_env must be an environment variable name"),
    ("rules:\n  - name: x\n    metric: anomalies\n    condition: anomaly\n    warn: 5\n",
     "anomaly levels are severities"),
    ("rules:\n  - name: x\n    metric: error_rate\n    condition: anomaly\n    warn: 2\n",
     "condition anomaly goes with metric anomalies"),
    ("rules:\n  - {name: a, metric: requests, condition: no_data}\n"
     "  - {name: a, metric: requests, condition: no_data}\n", "rule names must be unique: 'a'"),
    ("rules: [\n", "alerts.yaml: cannot read"),
    ("rule: []\n", "unknown keys rule"),
])
@pytest.mark.slow
def test_bad_files_say_file_rule_and_field(store, tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(alerts.RuleError) as err:
        alerts.load_and_sync(store, path)
    assert message in str(err.value)
    assert alerts.stored_rules(store) == []  # nothing half-loaded


def request_frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 600
    status = rng.choice(["ok", "error", "timeout", "empty"], n, p=[0.8, 0.1, 0.05, 0.05])
    return pd.DataFrame({
        "trace_id": [f"t{i}" for i in range(n)], "span_id": "llm", "kind": "llm",
        "app": np.where(rng.random(n) < 0.7, "support", "sql"), "environment": "production",
        "model_version": "v1", "start_time": [T0 + timedelta(seconds=float(s))
                                              for s in np.sort(rng.uniform(0, 3600, n))],
        "latency_ms": rng.lognormal(6.5, 0.6, n).round(3),
        "ttft_ms": np.where(rng.random(n) < 0.5, np.nan, rng.uniform(50, 500, n)),
        "input_tokens": rng.integers(50, 900, n), "output_tokens": rng.integers(5, 300, n),
        "cost_usd": rng.uniform(0.0001, 0.01, n), "status": status,
    })


@pytest.mark.slow
def test_every_request_metric_matches_pandas(store):
    df = request_frame()
    load(store, df)
    at, window = T0 + timedelta(minutes=50), timedelta(minutes=30)
    inside = df[(df.start_time >= at - window) & (df.start_time < at) & (df.app == "support")]
    ok = inside[inside.status == "ok"]
    want = {
        "requests": len(inside),
        "latency_p50": np.quantile(inside.latency_ms, 0.5),
        "latency_p95": np.quantile(inside.latency_ms, 0.95),
        "latency_p99": np.quantile(inside.latency_ms, 0.99),
        "ttft_p95": np.quantile(inside.ttft_ms.dropna(), 0.95),
        "error_rate": (inside.status == "error").mean(),
        "timeout_rate": (inside.status == "timeout").mean(),
        "empty_rate": (inside.status == "empty").mean(),
        "input_tokens": ok.input_tokens.mean(), "output_tokens": ok.output_tokens.mean(),
        "cost_usd": inside.cost_usd.mean(), "cost_total_usd": inside.cost_usd.sum(),
    }
    rules = [alerts.parse_rule({"name": m, "metric": m, "condition": "above", "warn": 1e12,
                                "window": "30m", "filter": {"apps": ["support"]}})
             for m in want]
    got = {ev.rule: ev for ev in alerts.evaluate(store, rules, at)}
    for metric, value in want.items():
        assert got[metric].value == pytest.approx(value, rel=1e-9), metric
        assert got[metric].state == "OK"
    assert got["requests"].samples == len(inside)


def test_change_against_the_previous_window_and_the_daily_baseline(store):
    # Three days at 5 calls a minute, 800 ms; the last hour at 1,600 ms and 10 calls a minute.
    days = [minute_traffic(T0 + timedelta(days=d), 60, 5, seed=d) for d in range(2)]
    slow = minute_traffic(T0 + timedelta(days=2), 60, 10, latency_ms=1600, seed=9)
    load(store, pd.concat([*days, minute_traffic(T0 + timedelta(days=2) - 60 * MIN, 60, 5,
                                                 seed=8), slow], ignore_index=True))
    at = T0 + timedelta(days=2, hours=1)
    rules = [
        alerts.parse_rule({"name": "p95 vs previous", "metric": "latency_p95",
                           "condition": "change", "warn": 0.5, "critical": 0.8, "window": "1h"}),
        alerts.parse_rule({"name": "volume vs baseline", "metric": "requests",
                           "condition": "change", "compare_to": "baseline", "baseline_days": 2,
                           "warn": 0.5, "critical": 0.9, "window": "1h"}),
        alerts.parse_rule({"name": "volume drop", "metric": "requests", "condition": "change",
                           "direction": "down", "warn": 0.3, "window": "1h"}),
    ]
    got = {ev.rule: ev for ev in alerts.evaluate(store, rules, at)}
    prev = minute_traffic(T0 + timedelta(days=2) - 60 * MIN, 60, 5, seed=8)
    cur = slow
    want = np.quantile(cur.latency_ms, 0.95) / np.quantile(prev.latency_ms, 0.95) - 1
    p95 = got["p95 vs previous"]
    assert p95.change == pytest.approx(want) and p95.state == ("ALERT" if want > 0.8 else "WARN")
    volume = got["volume vs baseline"]
    assert volume.reference == pytest.approx(300)  # the same hour on each of 2 days: 300 calls
    assert volume.change == pytest.approx(1.0) and volume.state == "ALERT"
    assert got["volume drop"].state == "OK"  # volume rose: a drop rule stays quiet


def test_anomaly_condition_counts_open_anomalies_by_severity(store):
    def anomaly(i, severity, status="open", app="support", muted_until=None):
        store.write(lambda cur: cur.execute(
            """INSERT INTO anomalies (anomaly_id, metric, app, severity, status, muted_until,
                                      first_detected_at, last_detected_at, description)
               VALUES (?, 'error_rate', ?, ?, ?, ?, ?, ?, ?)""",
            [i, app, severity, status, muted_until, T0, T0 + 50 * MIN, f"anomaly {i}"]))

    rule = alerts.parse_rule({"name": "a", "metric": "anomalies", "condition": "anomaly",
                              "warn": 2, "critical": 3, "filter": {"apps": ["support"]}})
    at = T0 + timedelta(hours=1)
    assert alerts.evaluate(store, [rule], at)[0].state == "OK"
    anomaly(1, 1)
    anomaly(2, 3, app="sql")                               # another app
    anomaly(3, 3, status="resolved")
    anomaly(4, 3, status="muted", muted_until=at + MIN)    # muted beyond the evaluation
    (ev,) = alerts.evaluate(store, [rule], at)
    assert (ev.state, ev.value, ev.samples) == ("OK", 1.0, 1)
    anomaly(5, 2, status="acknowledged")
    assert alerts.evaluate(store, [rule], at)[0].state == "WARN"
    anomaly(6, 3, status="muted", muted_until=at - MIN)    # the mute ran out
    (ev,) = alerts.evaluate(store, [rule], at)
    assert (ev.state, ev.value, ev.threshold) == ("ALERT", 3.0, 3)
    assert ev.reason.endswith("; most severe: anomaly 6")


def test_no_data_condition_and_minimum_samples(store):
    load(store, minute_traffic(T0, 10, 2, 0.5))
    rules = [
        alerts.parse_rule({"name": "silence", "metric": "requests", "condition": "no_data",
                           "window": "5m"}),
        alerts.parse_rule({"name": "errors", "metric": "error_rate", "condition": "above",
                           "warn": 0.1, "window": "5m", "min_samples": 20}),
        alerts.parse_rule({"name": "loud", "metric": "requests", "condition": "below",
                           "critical": 1, "window": "5m", "no_data_state": "ALERT"}),
    ]
    busy = {ev.rule: ev.state for ev in alerts.evaluate(store, rules, T0 + 10 * MIN)}
    # 10 samples < 20: too few to judge, which is not an absence of data
    assert busy == {"silence": "OK", "errors": "OK", "loud": "OK"}
    quiet = {ev.rule: ev.state for ev in alerts.evaluate(store, rules, T0 + 20 * MIN)}
    # No requests: "silence" has no data; "loud" counts zero requests, which is below 1.
    assert quiet == {"silence": "NO_DATA", "errors": "NO_DATA", "loud": "ALERT"}
