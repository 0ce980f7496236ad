"""`goldenloop alerts list|check|test`, the owner's alerts thread and its job, with rules from
a YAML file and a real loopback receiver."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
from alerts_support import load, minute_traffic, receiver
from typer.testing import CliRunner

from goldenloop import alerts
from goldenloop.alerts.engine import utcnow
from goldenloop.cli import app
from goldenloop.config import resolve_paths
from goldenloop.schema import open_store
from goldenloop.store import Store
from goldenloop.workers.handlers import HANDLERS
from goldenloop.workers.pool import AlertEvaluator, Workers

T0 = datetime(2025, 3, 3, 12, 0)
RULES = """
public_url: https://gl.example.org
rules:
  - name: support errors
    metric: error_rate
    filter: {{apps: [support]}}
    window: 10m
    condition: above
    warn: 0.1
    critical: 0.3
    interval: 1s
    channels: [{{type: webhook, url: "{url}"}}]
"""


@pytest.fixture
def db_with_errors(tmp_path):
    db = tmp_path / "goldenloop.duckdb"
    with open_store(db) as store:
        load(store, minute_traffic(T0, 30, 10, 0.5))
    return db


def test_check_list_and_test_commands(db_with_errors, tmp_path, monkeypatch):
    monkeypatch.delenv("GOLDENLOOP_PUBLIC_URL", raising=False)
    runner = CliRunner()
    with receiver() as rec:
        rules = tmp_path / "alerts.yaml"   # beside the database: found without --alerts-file
        rules.write_text(RULES.format(url=rec.url("/hook")))
        db = str(db_with_errors)
        at = (T0 + timedelta(minutes=20)).isoformat()
        out = runner.invoke(app, ["alerts", "check", "--db", db, "--at", at])
        assert out.exit_code == 0, out.output
        assert "ALERT    support errors: error_rate 50.0% over 10m" in out.output
        assert "1 state change(s), 1 notification(s) sent, 0 failed" in out.output
        (body,) = rec.bodies()
        assert body["link"] == "https://gl.example.org/alerts?rule=support%20errors"

        out = runner.invoke(app, ["alerts", "list", "--db", db])
        assert out.exit_code == 0, out.output
        assert out.output.startswith("ALERT         support errors  [error_rate above, file]")

        out = runner.invoke(app, ["alerts", "list", "--db", db, "--json"])
        assert out.exit_code == 0, out.output
        (line,) = [json.loads(x) for x in out.output.splitlines()]
        assert line == {"name": "support errors", "state": "ALERT",
                        "since": "2025-03-03T12:20:00", "metric": "error_rate",
                        "condition": "above", "value": 0.5, "checked_at": line["checked_at"],
                        "origin": "file", "enabled": True}

        out = runner.invoke(app, ["alerts", "test", "support errors", "--db", db])
        assert out.exit_code == 0, out.output
        assert "webhook:url: sent" in out.output
        assert [b["kind"] for b in rec.bodies()] == ["firing", "test"]


def test_check_exits_1_when_a_notification_fails(db_with_errors, tmp_path):
    rules = tmp_path / "elsewhere.yaml"
    rules.write_text("delivery: {attempts: 2, backoff: 0.1s}\n"
                     + RULES.format(url="http://127.0.0.1:9/nothing-listens"))
    out = CliRunner().invoke(app, ["alerts", "check", "--db", str(db_with_errors),
                                   "--alerts-file", str(rules), "--at",
                                   (T0 + timedelta(minutes=20)).isoformat()])
    assert out.exit_code == 1, out.output
    assert "0 notification(s) sent, 1 failed" in out.output


def test_a_bad_rules_file_is_one_message_not_a_traceback(db_with_errors, tmp_path):
    rules = tmp_path / "alerts.yaml"
    rules.write_text("rules:\n  - name: x\n    metric: error_rate\n    condition: over\n")
    out = subprocess.run([sys.executable, "-m", "goldenloop.cli", "alerts", "check", "--db",
                          str(db_with_errors)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    # (a fresh store's first writer is named its lead on a line before: see the CLI sign-in)
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(
        "error: alerts.yaml: rules[0] ('x'): condition: Input should be")
    assert "Traceback" not in out.stderr


def test_the_owner_loads_the_file_and_its_thread_notifies(tmp_path, monkeypatch):
    db = tmp_path / "goldenloop.duckdb"
    now = utcnow()
    with receiver() as rec, open_store(db) as store:
        load(store, minute_traffic(now - timedelta(minutes=10), 10, 10, 0.5))
        (tmp_path / "alerts.yaml").write_text(RULES.format(url=rec.url()))
        workers = Workers(store, resolve_paths(db))
        evaluator = next(t for t in workers.threads if isinstance(t, AlertEvaluator))
        assert [s.rule.name for s in alerts.stored_rules(store)] == ["support errors"]
        evaluator.interval = 0.2
        evaluator.start()
        try:
            deadline = time.monotonic() + 30
            while not rec.bodies() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.5)  # further ticks, past the rule's interval: still one message
        finally:
            evaluator.stop()
            evaluator.join(10)
        assert [(b["kind"], b["state"]) for b in rec.bodies()] == [("firing", "ALERT")]
        assert store.scalar("SELECT count(*) FROM alert_states") == 1


def test_the_owner_loads_the_file_again_when_it_changes(tmp_path):
    db = tmp_path / "goldenloop.duckdb"
    path = tmp_path / "alerts.yaml"
    path.write_text(RULES.format(url="http://127.0.0.1:9/x"))
    with open_store(db) as store:
        watched = alerts.RulesFile(store, path)
        assert watched.refresh().public_url == "https://gl.example.org"
        path.write_text(RULES.format(url="http://127.0.0.1:9/x").replace("0.3", "0.4")
                        .replace("https://gl.example.org", "https://other.example.org"))
        assert watched.refresh().public_url == "https://other.example.org"
        assert alerts.find_rule(store, "support errors").rule.critical == 0.4
        path.write_text("rules:\n  - name: broken\n")
        assert watched.refresh().public_url == "https://other.example.org"  # kept
        assert "rules[0] ('broken')" in watched.error
        assert [s.rule.name for s in alerts.stored_rules(store)] == ["support errors"]
        assert alerts.file_problem(path) == watched.error


def test_the_owner_refuses_to_start_with_a_bad_rules_file(tmp_path):
    db = tmp_path / "goldenloop.duckdb"
    (tmp_path / "alerts.yaml").write_text("rules:\n  - name: x\n")
    with open_store(db) as store, pytest.raises(alerts.RuleError, match=r"rules\[0\] \('x'\)"):
        Workers(store, resolve_paths(db))


def test_the_check_job_reloads_the_file_and_evaluates(db_with_errors, tmp_path):
    with receiver() as rec, open_store(db_with_errors) as store:
        rules = tmp_path / "alerts.yaml"
        rules.write_text(RULES.format(url=rec.url()))
        result = HANDLERS["alerts_check"](
            store, {"alerts_file": str(rules), "at": (T0 + timedelta(minutes=20)).isoformat()},
            lambda *_: None)
        assert result["summary"].startswith("1 rule(s) evaluated (1 ALERT): 1 state change(s), "
                                            "1 notification(s) sent")
        assert len(rec.bodies()) == 1


def test_a_running_server_evaluates_rules_and_takes_the_check_as_a_job(tmp_path):
    """`goldenloop serve` loads alerts.yaml and its thread notifies; `alerts check` while it
    runs becomes a job for it (the CLI cannot open the file the server holds)."""
    import signal

    import browser_support as bs

    db = tmp_path / "goldenloop.duckdb"
    with open_store(db) as store:
        load(store, minute_traffic(utcnow() - timedelta(minutes=10), 10, 10, 0.5))
    port = bs.free_port()
    with receiver() as rec:
        (tmp_path / "alerts.yaml").write_text(RULES.format(url=rec.url()))
        with open(tmp_path / "serve.log", "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "goldenloop.cli", "serve", "--db", str(db), "--port",
                 str(port), "--no-demo"], stdout=log, stderr=subprocess.STDOUT)
        try:
            bs.wait_healthy(f"http://127.0.0.1:{port}", server, tmp_path / "serve.log")
            deadline = time.monotonic() + 60
            while not rec.bodies() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert [(b["kind"], b["state"]) for b in rec.bodies()] == [("firing", "ALERT")]
            out = subprocess.run([sys.executable, "-m", "goldenloop.cli", "alerts", "check",
                                  "--db", str(db)], capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
            assert f"process {server.pid}" in out.stdout and "queued the alert check" in out.stdout
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:  # the server runs the job, then says so
                jobs = subprocess.run([sys.executable, "-m", "goldenloop.cli", "jobs", "--db",
                                       str(db)], capture_output=True, text=True, timeout=120)
                if "alerts_check" in jobs.stdout and " done " in jobs.stdout:
                    break
                time.sleep(1)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        assert len(rec.bodies()) == 1  # the job found nothing new to announce
    with Store(db, read_only=True, migrate_schema=False) as store:
        done = store.rows("SELECT status, result->>'summary' FROM jobs WHERE kind = 'alerts_check'")
    assert done and done[0][0] == "done", (tmp_path / "serve.log").read_text()[-2000:]
    assert done[0][1].startswith("1 rule(s) evaluated (1 ALERT): 0 state change(s)")
