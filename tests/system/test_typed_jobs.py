"""Typed jobs (workers.kinds) and the one function that decides where a job runs
(workers.submit): every kind round-trips through a job file, the inbox and the jobs table;
bad jobs fail with the file (or job) and the field named; jobs written by the previous version
still read; and the CLI and the app build jobs only through the typed models."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from goldenloop import access
from goldenloop.config import Paths
from goldenloop.errors import JobError
from goldenloop.store import jobs as job_sql
from goldenloop.store import owner as owner_file
from goldenloop.workers import inbox, kinds
from goldenloop.workers import submit as submit_mod
from goldenloop.workers.handlers import HANDLERS
from goldenloop.workers.jobs import run_job

ROOT = Path(__file__).resolve().parents[2]

# One job of every kind, as the CLI, the app or a scheduler writes it.
EXAMPLES: dict[str, dict] = {
    "import": {"files": ["/data/a.csv"], "format": "csv", "mapping": {"output": "answer"},
               "redact": True, "origin": "cli", "encoding": None, "batch_input": None,
               "request": "9f" * 16, "seen": [{"file": "/data/a.csv", "size": 10, "mtime_ns": 1}]},
    "demo": {"spans": 5000, "seed": 3},
    "snapshot": {"dest": "/data/snapshot.duckdb"},
    "score": {"rescore": True, "moderation_config": "/data/moderation.yaml"},
    "judge": {"judge": "correctness", "budget_usd": 1.5, "concurrency": 8, "use_cache": True,
              "origin": "cli", "judge_version": None, "human_graded": False,
              "disagreements_of": None, "frame": {"apps": ["support"], "model_versions": [],
                                                  "start": "2026-01-01T00:00:00", "end": None},
              "sample": 200, "seed": 7},
    "judge_online": {},
    "judge_configure": {"judge": "correctness", "fraction": 0.1, "budget_usd": None,
                        "enabled": False},
    "golden": {"name": "faq", "filter": {"criterion": "correctness"}, "author": "lead",
               "out": "/data/export", "formats": ["jsonl", "csv"]},
    "alerts_check": {"alerts_file": "/data/alerts.yaml", "at": "2026-01-02T03:04:05"},
    "detect": {"since": "2026-01-01T00:00:00", "until": None, "sensitivity": "high"},
    "experiment_run": {"target": "bot", "dataset": "faq@2", "scorers": ["exact"],
                       "concurrency": 4, "budget_usd": None, "baseline": True},
    "experiment_import": {"name": "faq", "file": "/data/faq.jsonl", "by": "cli"},
    "experiment_baseline": {"run_id": 12},
    "canary_save": {"name": "nightly", "target": "bot", "dataset": "faq", "scorers": ["exact"],
                    "every_minutes": 60, "concurrency": 2, "budget_usd": None},
    "canary_run": {"suite": "nightly"},
    "canary_remove": {"suite": "nightly"},
    "argilla_push": {"queue_id": None, "golden": "faq@1", "dataset": None,
                     "workspace": "argilla", "suggestions": None, "reviewers": 2,
                     "url_env": "ARGILLA_API_URL", "key_env": "ARGILLA_API_KEY",
                     "author": "lead"},
    "argilla_pull": {"queue_id": 3, "golden": None, "author": "lead"},
    "backup": {"dest": "/backups/b1", "request": "ab12", "by": "ops"},
    "forget": {"selector": "user_id", "value": "u-1", "by": "dpo", "erasure_id": "e1"},
    "retention": {"set": True, "app": "support", "days": 30, "by": "ops"},
}


def _paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "goldenloop.duckdb").ensure()


def test_every_kind_the_owner_runs_is_typed_and_has_an_example():
    assert set(kinds.JOB_TYPES) == set(HANDLERS)
    assert set(EXAMPLES) == set(HANDLERS)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_each_kind_round_trips_through_a_job_file_the_inbox_and_the_jobs_table(
        kind, store, tmp_path):
    paths = _paths(tmp_path)
    job = kinds.parse_job(kind, EXAMPLES[kind])
    assert type(job).kind == kind and job.params() == EXAMPLES[kind]
    f = access.submit_job(paths, job.kind, job.params())
    assert inbox.process_file(store, paths, f) == "done"
    stored = store.write(job_sql.claim_next)
    assert stored.kind == kind and stored.origin == "cli"
    assert stored.params == EXAMPLES[kind]
    assert kinds.parse_job(stored.kind, stored.params) == job


def test_a_bad_field_is_refused_when_the_job_is_made():
    with pytest.raises(JobError, match=r"judge job: field concurrency: .*greater than or equal to 1"):
        kinds.JudgeJob.of(judge="j", concurrency=0)
    with pytest.raises(JobError, match=r"field spans: .*integer"):
        kinds.DemoJob.of(spans="many")
    with pytest.raises(JobError, match=r"field colour: Extra inputs are not permitted"):
        kinds.DemoJob.of(colour="red")
    with pytest.raises(JobError, match=r"name one of queue_id or golden"):
        kinds.ArgillaPushJob.of(author="lead")
    with pytest.raises(JobError, match=r"canary suite: every_minutes"):
        kinds.CanarySaveJob.of(**{**EXAMPLES["canary_save"], "every_minutes": -5})


@pytest.mark.parametrize(("text", "says"), [
    ('{"kind": "judge", "params": {"judge": "j", "concurrency": "lots"}}',
     "judge job: field concurrency"),
    ('{"kind": "demo", "params": {"spans": 10, "sedd": 3}}', "demo job: field sedd"),
    ('{"kind": "launch_rockets", "params": {}}', "unknown job kind 'launch_rockets'"),
    ('{"kind": "demo", "params": [1, 2]}', "params must be an object"),
    ('{"params": {}}', 'holds {"kind"'),
    ('{"kind": "demo", ', "not JSON"),
])
def test_a_bad_job_file_is_set_aside_with_its_name_and_field(store, tmp_path, text, says):
    paths = _paths(tmp_path)
    f = paths.inbox / "broken-1.job.json"
    f.write_text(text)
    assert inbox.process_file(store, paths, f) == "failed"
    kept = paths.inbox_failed / f.name
    assert kept.read_text() == text  # nothing lost
    reason = (paths.inbox_failed / (f.name + ".reason.txt")).read_text()
    assert "job file broken-1.job.json" in reason and says in reason
    assert "Traceback" not in reason
    assert store.scalar("SELECT count(*) FROM jobs") == 0


def test_job_files_of_the_previous_version_still_read(store, tmp_path):
    """Byte for byte what the previous version's CLI wrote (json.dumps of kind, params,
    origin), with its None values and its request identity."""
    paths = _paths(tmp_path)
    old = {
        "import-0a1b2c3d4e5f.job.json":
            '{"kind": "import", "params": {"files": ["/srv/in/logs.jsonl"], "format": null, '
            '"mapping": {}, "redact": false, "origin": "cli", "encoding": null, '
            '"batch_input": null, "request": "5d41402abc4b2a76b9719d911017c592", "seen": '
            '[{"file": "/srv/in/logs.jsonl", "size": 2048, "mtime_ns": 1700000000000000000}]}, '
            '"origin": "cli"}',
        "judge-0a1b2c3d4e60.job.json":
            '{"kind": "judge", "params": {"judge": "correctness", "budget_usd": null, '
            '"concurrency": 8, "use_cache": true, "origin": "cli", "judge_version": null, '
            '"human_graded": false, "disagreements_of": null, "queue_id": 4}, "origin": "cli"}',
        "demo-0a1b2c3d4e61.job.json": '{"kind": "demo", "params": {"spans": 300, "seed": 7}}',
    }
    for name, text in old.items():
        (paths.inbox / name).write_text(text)
        assert inbox.process_file(store, paths, paths.inbox / name) == "done"
    rows = store.rows("SELECT kind, params, origin FROM jobs ORDER BY job_id")
    assert [(k, json.loads(p), o) for k, p, o in rows] == [
        (json.loads(t)["kind"], json.loads(t)["params"], json.loads(t).get("origin", "cli"))
        for t in old.values()]


def test_a_bad_job_already_in_the_table_fails_with_its_field_not_a_traceback(store):
    # Written around the typed models, as an older version or a hand edit could.
    jid = store.write(job_sql.create, "experiment_baseline", {"run_id": "latest"}, "test")
    run_job(store, store.write(job_sql.claim_next), HANDLERS)
    status, error = store.rows("SELECT status, error FROM jobs WHERE job_id = ?", [jid])[0]
    assert status == "failed"
    assert error.startswith(f"job {jid}: experiment_baseline job: field run_id")
    assert "Traceback" not in error


def test_the_owner_runs_a_typed_job_it_read_back(store):
    jid = submit_mod.submit(kinds.DemoJob.of(spans=300, seed=5), store=store, serving=True,
                            origin="test").job_id
    run_job(store, store.write(job_sql.claim_next), HANDLERS)
    status, result = store.rows("SELECT status, result FROM jobs WHERE job_id = ?", [jid])[0]
    assert status == "done" and json.loads(result)["spans"] > 0
    assert store.scalar("SELECT count(*) FROM spans") == json.loads(result)["spans"]


def test_submit_decides_between_the_jobs_table_an_owner_inbox_and_here(store, tmp_path):
    paths = _paths(tmp_path)
    job = kinds.CanaryRunJob.of(suite="nightly")
    # This process is the owner (an app page while serving): the jobs table.
    sent = submit_mod.submit(job, store=store, paths=paths, serving=True, origin="app")
    assert sent.queued and sent.file is None and sent.message == f"queued as job {sent.job_id}"
    assert store.rows("SELECT kind, params, origin FROM jobs") == [
        ("canary_run", '{"suite": "nightly"}', "app")]
    # Nobody owns the database: run it here.
    sent = submit_mod.submit(job, store=store, paths=paths, serving=False)
    assert not sent.queued and not list(paths.inbox.glob("*.job.json"))
    # Another live process owns it: a job file in its inbox, and the user is told which.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rec = owner_file.OwnerRecord(proc.pid, owner_file.process_command(proc.pid) or "",
                                     time.time())
        paths.owner_file.write_text(json.dumps(asdict(rec)))
        sent = submit_mod.submit(job, paths=paths)
    finally:
        proc.kill()
        proc.wait()
    assert sent.queued and sent.owner_pid == proc.pid and f"process {proc.pid}" in sent.message
    spec = json.loads(sent.file.read_text())
    assert spec == {"kind": "canary_run", "params": {"suite": "nightly"}, "origin": "cli"}


def test_the_cli_hands_its_typed_job_to_submit(tmp_path, monkeypatch):
    from goldenloop.cli import app

    seen = []

    def fake_submit(job, **kw):
        seen.append((job, kw))
        return submit_mod.Submitted(True, "queued", file=tmp_path / "x.job.json", owner_pid=42)

    monkeypatch.setattr("goldenloop.cli_support.submit", fake_submit)
    db = str(tmp_path / "g.duckdb")
    for args in (["demo", "--spans", "500", "--seed", "9"],
                 ["judge", "online", "correctness", "--fraction", "0.2"],
                 ["experiment", "canary", "run", "nightly"],
                 ["experiment", "baseline", "7"]):
        r = CliRunner().invoke(app, [*args, "--db", db])
        assert r.exit_code == 0, r.output
        assert "process 42" in r.output
    assert [type(j).kind for j, _ in seen] == ["demo", "judge_configure", "canary_run",
                                               "experiment_baseline"]
    assert seen[0][0].params() == {"spans": 500, "seed": 9}
    assert not (tmp_path / "g.duckdb").exists()  # nothing ran here


def test_a_bad_value_on_the_command_line_is_a_message_not_a_traceback(tmp_path):
    r = subprocess.run(["goldenloop", "judge", "online", "j", "--fraction", "3",
                        "--db", str(tmp_path / "g.duckdb")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "judge_configure job: field fraction" in r.stderr and "Traceback" not in r.stderr


# Job creation outside the one place: the jobs table written directly, a job file written
# with a raw dict, or the old CLI helper called with a kind string.
_RAW = re.compile(r"job_sql\.create\b|access\.submit_job\(|queued_to_server\([^,]+,\s*[\"']")
_ALLOWED = {"src/goldenloop/workers/submit.py", "src/goldenloop/access/__init__.py"}


def test_no_caller_builds_a_raw_job_dict():
    offenders = []
    for folder in ("src/goldenloop", "app"):
        for f in sorted((ROOT / folder).rglob("*.py")):
            rel = f.relative_to(ROOT).as_posix()
            if rel in _ALLOWED:
                continue
            for n, line in enumerate(f.read_text().splitlines(), 1):
                if _RAW.search(line) and "def " not in line:
                    offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == []
