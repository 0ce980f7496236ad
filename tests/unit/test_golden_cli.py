"""`goldenloop golden build|export|diff|list` on a real database file (no server running),
the owner job that runs the same work while a server does, and the job file the CLI writes
for it."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from review_support import synthetic_spans
from typer.testing import CliRunner

from goldenloop import golden
from goldenloop.cli import app
from goldenloop.review import sql as review_sql
from goldenloop.schema import open_store
from goldenloop.store import owner as owner_file

T0 = datetime(2026, 2, 1)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "goldenloop.duckdb"
    with open_store(path) as s:
        synthetic_spans(s, 12, seed=3)
        keys = [k for (k,) in s.rows("SELECT span_key FROM spans ORDER BY span_key")]
        s.write(lambda cur: review_sql.insert_human_grades(cur, [{
            "target_type": "span", "target_id": str(k), "span_key": k,
            "criterion": "correctness", "value_number": 5.0 if i % 3 else 2.0,
            "source": "human", "author_kind": "reviewer", "author_id": "ana",
            "rubric_name": "default", "rubric_version": "v1", "created_at": T0}
            for i, k in enumerate(keys)]))
    return path


def run(*args: str) -> str:
    r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.slow
def test_build_export_list_and_diff(db, tmp_path):
    out = run("golden", "build", "cli-set", "--db", str(db), "--correct-at", "4",
              "--author", "lead", "--preview")
    assert "would hold 8 rows" in out and "left out, no acceptable expected output: 4" in out
    out = run("golden", "build", "cli-set", "--db", str(db), "--correct-at", "4",
              "--author", "lead", "--description", "CLI test")
    assert "cli-set v1: new version, 8 rows" in out
    assert "unchanged, no new version" in run("golden", "build", "cli-set", "--db", str(db),
                                              "--correct-at", "4", "--author", "lead")
    exports = tmp_path / "exports"
    out = run("golden", "export", "cli-set", "--db", str(db), "--out", str(exports),
              "--format", "jsonl", "--format", "openai_chat", "--author", "lead")
    assert "exported to" in out and "openai_chat" in out
    folder = exports / "cli-set" / "v1"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "golden.jsonl",
                                                         "openai_chat.jsonl"]
    assert len((folder / "golden.jsonl").read_text().splitlines()) == 8
    # A reviewer corrects a wrong answer; export --rebuild makes version 2 with the same
    # filter, and says what changed.
    with open_store(db) as s:
        key = s.scalar("SELECT span_key FROM grades ORDER BY grade_id LIMIT 1")  # graded 2
        s.write(lambda cur: review_sql.insert_correction(
            cur, {"target_type": "span", "target_id": str(key), "span_key": key},
            "fixed", "ben", None, T0))
    out = run("golden", "export", "cli-set", "--db", str(db), "--out", str(exports),
              "--rebuild", "--format", "parquet", "--author", "lead")
    assert "v2 (new version, 9 rows" in out and "1 added, 0 removed" in out
    out = run("golden", "diff", "cli-set", "1", "2", "--db", str(db))
    assert f"added    span:{key}" in out
    out = run("golden", "list", "--db", str(db))
    assert "cli-set" in out and "v2" in out and "CLI test" in out
    out = run("golden", "list", "cli-set", "--db", str(db))
    assert out.splitlines()[0].startswith("v2") and "by lead" in out


def test_errors_are_messages(db):
    r = CliRunner().invoke(app, ["golden", "diff", "nothing", "1", "--db", str(db)])
    assert r.exit_code != 0 and "no golden dataset named 'nothing'" in str(r.exception)


@pytest.mark.slow
def test_a_running_server_gets_a_job_file(db, tmp_path, monkeypatch):
    # The owner's record as `goldenloop serve` leaves it; no real server is needed to see
    # what the command hands over.
    record = owner_file.OwnerRecord(pid=1, command="goldenloop serve", started_at=0.0)
    monkeypatch.setattr("goldenloop.access.running_owner", lambda paths: record)
    out = run("golden", "build", "via-job", "--db", str(db), "--correct-at", "4",
              "--author", "lead")
    assert "queued the build as a job" in out
    jobs = list((db.parent / "inbox").glob("golden-*.job.json"))
    assert len(jobs) == 1
    spec = json.loads(jobs[0].read_text())
    assert spec["kind"] == "golden" and spec["params"]["build_only"]
    # What the owner runs for it (goldenloop.golden.golden_job), here on the store itself.
    with open_store(db) as s:
        result = golden.golden_job(s, spec["params"], lambda f, m: None)
        assert result["created"] and golden.get_version(s, "via-job").rows == 8
        full = golden.golden_job(s, {**spec["params"], "build_only": False,
                                     "out": str(tmp_path / "x"), "formats": ["csv"]},
                                 lambda f, m: None)
        assert not full["created"] and (tmp_path / "x" / "via-job" / "v1" / "golden.csv").exists()


@pytest.mark.slow
def test_curation_options_exclusions_and_only_the_format_asked(db, tmp_path):
    out = run("golden", "build", "cur", "--db", str(db), "--correct-at", "4", "--author",
              "lead", "--min-agreeing", "1", "--dedupe", "--split", "50/25/25",
              "--split-seed", "9", "--where", "correctness>=4")
    assert "cur v1: new version, 8 rows" in out and "split (seed 9)" in out
    assert "duplicate inputs merged: 0" in out
    out = run("golden", "exclude", "cur", "span:2", "--reason", "a private address",
              "--db", str(db), "--author", "lead")
    assert "excluded from cur" in out
    assert "a private address" in run("golden", "excluded", "cur", "--db", str(db))
    out = run("golden", "build", "cur", "--db", str(db), "--correct-at", "4", "--author",
              "lead", "--min-agreeing", "1", "--dedupe", "--split", "50/25/25",
              "--split-seed", "9", "--where", "correctness>=4")
    assert "cur v2: new version, 7 rows" in out and "left out, excluded by a curator: 1" in out
    run("golden", "export", "cur", "--db", str(db), "--out", str(tmp_path / "x"), "--format",
        "jsonl", "--author", "lead")
    assert sorted(p.name for p in (tmp_path / "x" / "cur" / "v2").iterdir()) == [
        "README.md", "golden.jsonl"]
    r = CliRunner().invoke(app, ["golden", "build", "cur", "--db", str(db), "--split", "1/2",
                                 "--author", "lead"])
    # main() turns the library's FilterError into one line (exit 2) at the edge
    assert r.exit_code != 0 and "split: three shares" in str(r.exception)
