"""Alert rules end to end on a real store: a rule fires exactly once into a real loopback HTTP
receiver, again only after its cooldown, resolves with a message, and goes NO_DATA when spans
stop; deliveries are retried and recorded; apprise reaches the same kind of receiver."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pandas as pd
import pytest
from alerts_support import load, minute_traffic, receiver

from goldenloop import alerts
from goldenloop.alerts import records
from goldenloop.store import Store

T0 = datetime(2025, 3, 3, 12, 0)
MIN = timedelta(minutes=1)
FAST = alerts.Settings(public_url="http://review.example:8501",
                       retry=alerts.RetryPolicy(attempts=3, base_s=0.05, factor=2.0))


def add_rule(store: Store, **fields) -> alerts.Rule:
    rule = alerts.parse_rule(fields)
    store.write(records.save_rule, rule, "app", "ana")
    return rule


def error_bursts(store: Store) -> pd.DataFrame:
    """Minutes 0-199 at 10 calls a minute; half fail in minutes 60-69 and 90-139; none after."""
    parts = [
        minute_traffic(T0, 60, 10, 0.0, seed=1),
        minute_traffic(T0 + 60 * MIN, 10, 10, 0.5, seed=2),
        minute_traffic(T0 + 70 * MIN, 20, 10, 0.0, seed=3),
        minute_traffic(T0 + 90 * MIN, 50, 10, 0.5, seed=4),
        minute_traffic(T0 + 140 * MIN, 60, 10, 0.0, seed=5),
        # goldenloop's own calls failing all along must not count (source judge)
        minute_traffic(T0, 200, 2, 1.0, seed=6, source="judge"),
    ]
    df = pd.concat(parts, ignore_index=True)
    load(store, df)
    return df[df["source"] == "test"]


def expected_rate(df: pd.DataFrame, at: datetime, window: timedelta) -> float | None:
    """The error rate of the window ending at ``at``, computed with pandas from the rows."""
    inside = df[(df["start_time"] >= at - window) & (df["start_time"] < at)]
    return None if inside.empty else float((inside["status"] == "error").mean())


@pytest.mark.slow
def test_fires_once_again_after_cooldown_resolves_and_goes_no_data(store):
    df = error_bursts(store)
    with receiver() as rec:
        add_rule(store, name="errors", metric="error_rate", condition="above", critical=0.2,
                 window="10m", interval="1m", cooldown="45m",
                 channels=[{"type": "webhook", "url": rec.url("/hooks/ops")}])
        states = []
        for m in range(55, 216):
            at = T0 + m * MIN
            result = alerts.check(store, FAST, at=at)
            (ev,) = result.evaluations
            want = expected_rate(df, at, 10 * MIN)
            assert ev.value == pytest.approx(want) if want is not None else ev.value is None
            states.append((m, ev.state))
        sent = rec.bodies()

    # Independent expectation: ALERT where pandas' rate is above 0.2, NO_DATA with no rows.
    def expected_state(m: int) -> str:
        rate = expected_rate(df, T0 + m * MIN, 10 * MIN)
        return "NO_DATA" if rate is None else ("ALERT" if rate > 0.2 else "OK")

    assert states == [(m, expected_state(m)) for m in range(55, 216)]
    first_alert = next(m for m, s in states if s == "ALERT")
    assert [(b["kind"], b["state"], b["previous_state"]) for b in sent] == [
        ("firing", "ALERT", "OK"),        # burst 1
        ("resolved", "OK", "ALERT"),      # burst 1 over
        ("firing", "ALERT", "OK"),        # burst 2: held until the cooldown ran out
        ("resolved", "OK", "ALERT"),
        ("firing", "NO_DATA", "OK"),      # spans stopped
    ]
    fired_at = [datetime.fromisoformat(b["at"]) for b in sent if b["kind"] == "firing"]
    assert fired_at[0] == T0 + first_alert * MIN
    assert fired_at[1] == fired_at[0] + timedelta(minutes=45)  # first check after the cooldown
    assert all(p == "/hooks/ops" for p in rec.paths)
    first = sent[0]
    assert first["metric"] == "error_rate" and first["threshold"] == 0.2
    assert first["value"] == pytest.approx(expected_rate(df, fired_at[0], 10 * MIN))
    assert first["link"] == "http://review.example:8501/alerts?rule=errors"
    assert first["window"]["length"] == "10m"

    # The history holds every transition, the one within the cooldown with its suppression.
    history = alerts.transitions(store, "errors").sort_values("transition_id")
    changes = [(m, s) for (m, s), (_, prev) in zip(states[1:], states, strict=False) if s != prev]
    assert [str(s) for s in history["to_state"]] == [s for _, s in changes]
    suppressed = alerts.deliveries(store, "errors").query("status == 'suppressed'")
    assert len(suppressed) == 1 and "cooldown" in suppressed["last_error"].iloc[0]
    assert (alerts.deliveries(store, "errors").query("status != 'suppressed'")["status"]
            == "sent").all()


@pytest.mark.slow
def test_evaluating_again_without_change_sends_nothing(store):
    load(store, minute_traffic(T0, 30, 10, 0.5))
    with receiver() as rec:
        add_rule(store, name="e", metric="error_rate", condition="above", warn=0.1,
                 window="10m", channels=[{"type": "webhook", "url": rec.url()}])
        for m in (20, 21, 22, 25):
            alerts.check(store, FAST, at=T0 + m * MIN)
        assert [b["state"] for b in rec.bodies()] == ["WARN"]
    add_rule(store, name="new", metric="requests", condition="no_data")
    assert alerts.state_counts(store) == {"WARN": 1, "not evaluated": 1}


@pytest.mark.slow
def test_a_failing_receiver_is_retried_with_backoff_and_recorded(store):
    load(store, minute_traffic(T0, 30, 10, 0.5))
    with receiver() as rec:
        rec.fail_next = 2  # two HTTP 500s, then accepted
        add_rule(store, name="e", metric="error_rate", condition="above", critical=0.1,
                 window="10m", channels=[{"type": "webhook", "url": rec.url()}])
        t0 = time.monotonic()
        result = alerts.check(store, FAST, at=T0 + 20 * MIN, wait=True)
        waited = time.monotonic() - t0
        assert (result.sent, result.failed) == (1, 0)
        assert len(rec.bodies()) == 1
    # backoff: the second attempt waited base_s, the third base_s * factor more
    assert waited >= FAST.retry.base_s * (1 + FAST.retry.factor)
    row = alerts.deliveries(store, "e").iloc[0]
    assert (row["status"], row["attempts"]) == ("sent", 3)


@pytest.mark.slow
def test_a_receiver_that_is_down_fails_for_good_without_leaking_its_url(store):
    load(store, minute_traffic(T0, 30, 10, 0.5))
    with receiver() as rec:
        dead = rec.url("/secret-token-abc123")
    # the server is shut: nothing listens on that port any more
    add_rule(store, name="e", metric="error_rate", condition="above", critical=0.1,
             window="10m", channels=[{"type": "webhook", "name": "ops", "url": dead}])
    result = alerts.check(store, FAST, at=T0 + 20 * MIN, wait=True)
    assert (result.sent, result.failed) == (0, 1)
    row = alerts.deliveries(store, "e").iloc[0]
    assert (row["status"], row["attempts"]) == ("failed", FAST.retry.attempts)
    assert row["channel"] == "webhook:ops" and "cannot connect" in row["last_error"]
    assert "secret-token" not in row["last_error"] and str(rec.port) not in row["last_error"]
    assert alerts.failed_deliveries(store) == 1


@pytest.mark.slow
def test_url_from_the_environment_is_never_stored(store, monkeypatch):
    load(store, minute_traffic(T0, 30, 10, 0.5))
    with receiver() as rec:
        monkeypatch.setenv("OPS_HOOK_URL", rec.url("/token-xyz"))
        add_rule(store, name="e", metric="error_rate", condition="above", critical=0.1,
                 window="10m", channels=[{"type": "webhook", "url_env": "OPS_HOOK_URL"}])
        alerts.check(store, FAST, at=T0 + 20 * MIN)
        assert rec.paths == ["/token-xyz"]
    dump = " ".join(str(v) for table in ("alert_rules", "alert_deliveries", "alert_transitions",
                                         "audit_log")
                    for row in store.rows(f"SELECT * FROM {table}") for v in row)
    assert "token-xyz" not in dump and "OPS_HOOK_URL" in dump


@pytest.mark.slow
def test_an_unset_environment_variable_is_a_recorded_failure(store, monkeypatch):
    monkeypatch.delenv("NOT_SET_HOOK", raising=False)
    load(store, minute_traffic(T0, 30, 10, 0.5))
    add_rule(store, name="e", metric="error_rate", condition="above", critical=0.1,
             window="10m", channels=[{"type": "webhook", "url_env": "NOT_SET_HOOK"}])
    result = alerts.check(store, FAST, at=T0 + 20 * MIN, wait=True)
    assert result.failed == 1
    assert "NOT_SET_HOOK is not set" in alerts.deliveries(store, "e")["last_error"].iloc[0]


@pytest.mark.slow
def test_apprise_json_url_reaches_the_receiver(store):
    load(store, minute_traffic(T0, 30, 10, 0.5))
    with receiver() as rec:
        add_rule(store, name="chat", metric="error_rate", condition="above", critical=0.1,
                 window="10m",
                 channels=[{"type": "apprise", "url": f"json://127.0.0.1:{rec.port}/chat"}])
        result = alerts.check(store, FAST, at=T0 + 20 * MIN)
        assert result.sent == 1
        (body,) = rec.bodies()
    assert rec.paths == ["/chat"]
    assert body["title"] == "[ALERT] chat"
    assert body["type"] == "failure"
    assert "error_rate 50.0%" in body["message"]
    assert "http://review.example:8501/alerts?rule=chat" in body["message"]


@pytest.mark.slow
def test_apprise_failure_is_retried_and_recorded(store):
    load(store, minute_traffic(T0, 30, 10, 0.5))
    with receiver() as rec:
        rec.fail_next = 10
        add_rule(store, name="chat", metric="error_rate", condition="above", critical=0.1,
                 window="10m",
                 channels=[{"type": "apprise", "url": f"json://127.0.0.1:{rec.port}/k3y"}])
        result = alerts.check(store, FAST, at=T0 + 20 * MIN, wait=True)
    assert result.failed == 1 and rec.fail_next == 10 - FAST.retry.attempts
    row = alerts.deliveries(store, "chat").iloc[0]
    assert row["status"] == "failed" and "apprise could not deliver" in row["last_error"]
    assert "k3y" not in row["last_error"]


@pytest.mark.slow
def test_send_test_reaches_every_channel_and_reports_each(store):
    with receiver() as rec:
        rule = alerts.parse_rule({
            "name": "t", "metric": "latency_p95", "condition": "above", "warn": 2000,
            "channels": [{"type": "webhook", "url": rec.url()},
                         {"type": "webhook", "name": "down", "url": "http://127.0.0.1:9/x"}]})
        out = alerts.send_test(rule, FAST)
        assert [b["kind"] for b in rec.bodies()] == ["test"]
    assert out[0] == ("webhook:url", None)
    assert out[1][0] == "webhook:down" and "cannot connect" in out[1][1]
