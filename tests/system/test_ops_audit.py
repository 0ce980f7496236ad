"""The audit log as commands write it: each entry names its interface, `goldenloop audit`
exports a time range (text or JSON), and a job's writes are logged under the job's origin."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from goldenloop.store import Store, audit
from goldenloop.store import jobs as job_sql
from goldenloop.workers.jobs import run_job

CLI = [sys.executable, "-m", "goldenloop.cli"]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


def test_cli_writes_are_audited_and_exported(tmp_path: Path) -> None:
    db = tmp_path / "goldenloop.duckdb"
    csv = tmp_path / "calls.csv"
    csv.write_text("timestamp,model,prompt_tokens,completion_tokens,response\n"
                   "2025-05-01T10:00:00Z,gpt-4o-mini,100,20,hello\n")
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=5)
    assert cli("import", str(csv), "--db", str(db)).returncode == 0
    (tmp_path / "roles.yaml").write_text("leads: [olga]\n")  # a backup is a lead's action
    out = cli("backup", str(tmp_path / "b.duckdb"), "--db", str(db), "--by", "olga")
    assert out.returncode == 0, out.stderr

    out = cli("audit", "--since", start.isoformat(timespec="seconds"), "--json", "--db", str(db))
    assert out.returncode == 0, out.stderr
    entries = [json.loads(line) for line in out.stdout.splitlines()]
    # The first import on a fresh store names its user the first lead (roles.yaml, audited).
    assert [(e["action"], e["interface"]) for e in entries] == [("roles.bootstrap", "cli"),
                                                                ("import", "cli"),
                                                                ("backup", "cli")]
    assert entries[1]["details"]["file"] == "calls.csv" and entries[1]["details"]["imported"] == 1
    assert entries[0]["actor"] == entries[1]["actor"] and entries[2]["actor"] == "olga"

    later = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None)
    out = cli("audit", "--since", later.isoformat(timespec="seconds"), "--db", str(db))
    assert "no audit entries in that range" in out.stdout
    out = cli("audit", "--action", "back", "--db", str(db))
    assert "olga  backup  b.duckdb  cli" in out.stdout and "import" not in out.stdout


def test_a_jobs_writes_carry_its_origin(store: Store) -> None:
    def handler(s, params, progress):
        s.write(lambda cur: audit.record(cur, "ana", "probe", "x"))
        return {"summary": "ok"}

    store.write(lambda cur: job_sql.create(cur, "probe", {}, "app"))
    run_job(store, store.write(job_sql.claim_next), {"probe": handler})
    store.write(lambda cur: audit.record(cur, "ana", "probe", "y"))  # outside any job
    assert store.rows("SELECT target, interface FROM audit_log ORDER BY audit_id") == [
        ("x", "app"), ("y", "library")]
