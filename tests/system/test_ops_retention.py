"""Retention: an app's spans older than its days are deleted with their signals and feedback;
reviewed spans are kept four times longer, golden-referenced ones while a version holds them,
apps without a policy for ever; each run is audited. The CLI sets, shows and runs policies."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from serve_support import serving

from goldenloop import spool
from goldenloop.ingest import ImportOptions, import_file
from goldenloop.ops import retention as R
from goldenloop.review import sql as review_sql
from goldenloop.schema import open_store
from goldenloop.store import Store, feedback

NOW = datetime(2026, 6, 1)
AGES = {"fresh": 10, "old": 40, "old-graded": 40, "ancient-graded": 200, "ancient-golden": 200,
        "other-ancient": 400}


def _load(store: Store, tmp_path: Path) -> dict[str, int]:
    f = tmp_path / "spans.jsonl"
    f.write_text("\n".join(json.dumps({
        "trace_id": name, "span_id": "s", "kind": "llm",
        "app": "other" if name.startswith("other") else "shop",
        "start_time": (NOW - timedelta(days=d)).isoformat(),
        "end_time": (NOW - timedelta(days=d, seconds=-1)).isoformat(), "output": name})
        for name, d in AGES.items()) + "\n")
    assert import_file(store, f, ImportOptions(origin="test")).imported == len(AGES)
    keys = dict(store.rows("SELECT trace_id, span_key FROM spans"))

    def write(cur) -> None:
        review_sql.insert_human_grades(cur, [
            {"target_type": "span", "target_id": str(keys[n]), "span_key": keys[n],
             "criterion": "correctness", "value_number": 4, "source": "human",
             "author_kind": "reviewer", "author_id": "ana", "rubric_name": "default",
             "rubric_version": "v1", "created_at": NOW} for n in ("old-graded", "ancient-graded")])
        cur.execute("INSERT INTO golden_rows (row_hash, row_key, span_key) VALUES ('h', 'k', ?)",
                    [keys["ancient-golden"]])
        cur.execute("INSERT INTO signals (span_key, output_chars) SELECT span_key, 1 FROM spans")
        feedback.insert_feedback(cur, spool.feedback_table([
            {"trace_id": n, "span_key": k, "kind": "thumbs", "value": 1.0, "created_at": NOW,
             "source": "test"} for n, k in keys.items()]))

    store.write(write)
    return keys


def test_retention_deletes_by_the_stated_rule(store: Store, tmp_path: Path) -> None:
    _load(store, tmp_path)
    R.set_policy(store, "shop", 30, by="lead")
    assert R.policies(store) == [R.Policy("shop", 30)]
    deleted = R.run(store, now=NOW)
    assert deleted == {"shop": 2}
    left = sorted(t for (t,) in store.rows("SELECT trace_id FROM spans"))
    assert left == ["ancient-golden", "fresh", "old-graded", "other-ancient"]
    for table in ("signals", "feedback"):
        assert store.scalar(f"SELECT count(*) FROM {table} WHERE span_key NOT IN "
                            "(SELECT span_key FROM spans)") == 0
        assert store.scalar(f"SELECT count(*) FROM {table}") == 4
    details = json.loads(store.scalar("SELECT details FROM audit_log WHERE action = 'retention.run'"))
    assert details["deleted"] == {"shop": 2}
    # Past four times the days the reviewed span goes too (and the fresh one by then); the
    # golden one stays.
    assert R.run(store, now=NOW + timedelta(days=119 - 40)) == {"shop": 1}
    assert R.run(store, now=NOW + timedelta(days=121 - 40)) == {"shop": 1}
    assert sorted(t for (t,) in store.rows("SELECT trace_id FROM spans")) == [
        "ancient-golden", "other-ancient"]
    assert R.run(store, now=NOW) == {"shop": 0}


def test_bad_policies_are_refused(store: Store) -> None:
    with pytest.raises(R.RetentionError, match="1 or more"):
        R.set_policy(store, "shop", 0, by="lead")
    with pytest.raises(R.RetentionError, match="name the app"):
        R.set_policy(store, " ", 3, by="lead")
    assert R.run(store) == {}


def test_retention_commands(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "goldenloop.cli"]
    db = tmp_path / "goldenloop.duckdb"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*cli, "retention", *args, "--db", str(db)], capture_output=True,
                              text=True, timeout=120)

    with open_store(db):
        pass
    assert "no retention policy" in run("show").stdout
    out = run("set", "shop", "30", "--by", "lead")
    assert out.returncode == 0 and "spans of shop kept 30 days" in out.stdout
    assert "shop: 30 days (reviewed spans 120 days" in run("show").stdout
    out = run("run")
    assert out.returncode == 0 and "0 expired spans deleted" in out.stdout
    bad = run("set", "shop", "0")
    assert bad.returncode == 2 and "days must be 1 or more" in bad.stderr


def test_retention_through_the_running_server(tmp_path: Path) -> None:
    """While a server owns the file, `retention set` and `run` become jobs it runs; both are
    audited as coming from the CLI."""
    cli = [sys.executable, "-m", "goldenloop.cli"]
    db = tmp_path / "data" / "goldenloop.duckdb"
    with open_store(db) as s:
        _load(s, tmp_path)
    log_path = tmp_path / "serve.log"
    with serving(db, log_path) as server:
        for args in (("set", "shop", "30", "--by", "lead"), ("run", "--by", "lead")):
            out = subprocess.run([*cli, "retention", *args, "--db", str(db)],
                                 capture_output=True, text=True, timeout=120)
            assert out.returncode == 0 and "as a job" in out.stdout, out.stdout + out.stderr
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            out = subprocess.run([*cli, "audit", "--action", "retention.run", "--db", str(db)],
                                 capture_output=True, text=True, timeout=120)
            if "retention.run" in out.stdout:
                break
            time.sleep(1)
        assert "lead  retention.run  spans  cli" in out.stdout, out.stdout
    assert server.returncode == 0, log_path.read_text()[-2000:]
    with Store(db, read_only=True, migrate_schema=False) as s:
        # Run now, not at NOW: everything of shop but the golden span is past 4 x 30 days.
        assert sorted(t for (t,) in s.rows("SELECT trace_id FROM spans")) == [
            "ancient-golden", "other-ancient"]
