"""`goldenloop serve` as users run it: it owns the file, runs jobs that CLI commands hand it,
publishes snapshots for readers, and on stop releases the file cleanly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import browser_support as bs
from serve_support import serving

from goldenloop.config import resolve_paths
from goldenloop.store import Store
from goldenloop.store import owner as owner_file

CLI = [sys.executable, "-m", "goldenloop.cli"]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def wait_for(check, timeout: float = 60, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError("condition not met in time")


def test_cli_hands_writes_to_the_server_and_reads_its_snapshot(tmp_path: Path) -> None:
    db = tmp_path / "goldenloop.duckdb"
    paths = resolve_paths(db)
    csv = tmp_path / "calls.csv"
    csv.write_text("timestamp,model,prompt_tokens,completion_tokens,response\n"
                   "2025-05-01T10:00:00Z,gpt-4o-mini,100,20,hello\n"
                   "2025-05-01T10:01:00Z,gpt-4o-mini,-1,20,bad\n")
    with serving(db, tmp_path / "serve.log") as server:
        rec = owner_file.read_owner(paths.owner_file)
        assert rec is not None and rec.pid == server.pid

        out = cli("import", str(csv), "--db", str(db))
        assert out.returncode == 0, out.stderr
        assert f"process {server.pid}" in out.stdout and "queued the import" in out.stdout

        def job_done() -> str | None:
            r = cli("jobs", "--db", str(db))
            # The server also runs jobs of its own (detection): wait for the import's line.
            done = [ln for ln in r.stdout.splitlines() if re.match(r"#\d+ import +done ", ln)]
            return r.stdout if done else None

        listing = wait_for(job_done)
        assert "read from the server's snapshot" in listing
        assert "1 imported, 0 duplicates, 1 quarantined" in listing
        def one_span() -> str | None:
            r = cli("status", "--db", str(db))
            return r.stdout if "\nspans: 1\n" in r.stdout else None

        status = wait_for(one_span)
        assert f"server: process {server.pid}" in status
    # Stopped cleanly: the owner record is gone and the file opens directly, with the data.
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()[-2000:]
    assert not paths.owner_file.exists()
    status = cli("status", "--db", str(db))
    assert "server: not running" in status.stdout and "\nspans: 1\n" in status.stdout
    with Store(db, read_only=True, migrate_schema=False) as store:
        result = json.loads(store.scalar("SELECT result FROM jobs WHERE kind = 'import'"))
    assert result["files"][0]["bad_rows"] == [[3, "input_tokens", "negative: -1"]]


def test_a_second_server_is_refused_and_names_the_first(tmp_path: Path) -> None:
    db = tmp_path / "goldenloop.duckdb"
    log = tmp_path / "serve.log"
    with serving(db, log) as server:
        second = cli("serve", "--db", str(db), "--port", str(bs.free_port()), "--no-demo")
        assert second.returncode == 2
        assert f"already served by process {server.pid}" in second.stderr
