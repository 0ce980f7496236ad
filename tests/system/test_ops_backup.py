"""Backups while the server runs: a producer keeps writing spool files, `goldenloop backup`
is made by the owner as a job, the database is lost, `goldenloop restore` brings the backup
into a fresh folder, and its counts are those of the backup's moment, with nothing committed
before the backup command missing."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from serve_support import serving

from goldenloop import spool
from goldenloop.config import resolve_paths
from goldenloop.schema import open_store
from goldenloop.store import Store

CLI = [sys.executable, "-m", "goldenloop.cli"]
PER_FILE = 20


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


def _producer(inbox: Path, stop: threading.Event, written: list[int]) -> None:
    t0 = datetime(2026, 4, 1)
    while not stop.is_set():
        n = len(written)
        rows = [{"trace_id": f"load-{n}-{i}", "span_id": "s", "kind": "llm", "app": "load",
                 "start_time": t0 + timedelta(seconds=n * PER_FILE + i),
                 "end_time": t0 + timedelta(seconds=n * PER_FILE + i + 1),
                 "output": f"answer {n}-{i}"} for i in range(PER_FILE)]
        spool.write_spool(inbox, spool.span_table(rows), prefix="load")
        written.append(n)
        time.sleep(0.1)


def _committed_files(done: Path) -> int:
    return sum(1 for p in done.glob("load-*.parquet"))


def _spans(db: Path) -> int:
    with Store(db, read_only=True, migrate_schema=False) as s:
        return int(s.scalar("SELECT count(*) FROM spans"))


def test_backup_under_load_then_restore_into_a_fresh_folder(tmp_path: Path) -> None:
    db = tmp_path / "live" / "goldenloop.duckdb"
    paths = resolve_paths(db).ensure()
    log_path = tmp_path / "serve.log"
    stop, written = threading.Event(), []
    producer = threading.Thread(target=_producer, args=(paths.inbox, stop, written), daemon=True)
    backup = tmp_path / "backups" / "monday.duckdb"
    with serving(db, log_path) as server:
        producer.start()
        try:
            deadline = time.monotonic() + 120
            while _committed_files(paths.inbox_done) < 5 and time.monotonic() < deadline:
                time.sleep(0.2)
            committed_before = _committed_files(paths.inbox_done) * PER_FILE
            assert committed_before >= 5 * PER_FILE, log_path.read_text()[-2000:]

            out = cli("backup", str(backup), "--db", str(db), "--by", "ops")
            assert out.returncode == 0, out.stderr
            assert f"made by the server (process {server.pid})" in out.stdout

            refused = cli("restore", str(backup), "--db", str(db))
            assert refused.returncode == 2 and f"served by process {server.pid}" in refused.stderr
            time.sleep(1.5)  # the load goes on after the backup
        finally:
            stop.set()
            producer.join(10)
    assert server.returncode == 0, log_path.read_text()[-2000:]

    manifest = json.loads(backup.with_name(backup.name + ".manifest.json").read_text())
    at_backup = manifest["counts"]["spans"]
    assert at_backup >= committed_before  # nothing committed before the command is missing
    assert at_backup % PER_FILE == 0  # whole spool files: one file is one transaction
    assert _spans(db) > at_backup, "the producer kept writing after the backup"

    # The live file is lost; the backup is restored into a fresh folder.
    fresh = tmp_path / "fresh" / "goldenloop.duckdb"
    out = cli("restore", str(backup), "--db", str(fresh))
    assert out.returncode == 0, out.stderr
    with Store(fresh, read_only=True, migrate_schema=False) as s:
        assert s.scalar("SELECT count(*) FROM spans") == at_backup
        for table, n in manifest["counts"].items():
            if table != "audit_log":  # restore adds its own entry
                assert s.scalar(f"SELECT count(*) FROM {table}") == n, table
        actions = [a for (a,) in s.rows("SELECT action FROM audit_log ORDER BY audit_id")]
    # The backup is audited before its copy is taken; the producer's imports may commit in
    # between (they are in the copy too), so they are left out of this order check.
    assert [a for a in actions if a != "import"][-2:] == ["backup", "restore"]

    # Restoring over an existing database keeps the replaced file aside.
    out = cli("restore", str(backup), "--db", str(db))
    assert out.returncode == 0, out.stderr
    kept = list(db.parent.glob("goldenloop.replaced-*.duckdb"))
    assert len(kept) == 1 and _spans(kept[0]) > at_backup and _spans(db) == at_backup


def test_backup_without_a_server_and_bad_backups(tmp_path: Path) -> None:
    db = tmp_path / "d" / "goldenloop.duckdb"
    with open_store(db) as s:
        s.write(lambda cur: cur.execute("INSERT INTO audit_log (audit_id, action) VALUES (-1, 'x')"))
    out = cli("backup", str(tmp_path / "b.duckdb"), "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert "made by the server" not in out.stdout
    not_db = tmp_path / "junk.duckdb"
    not_db.write_text("not a database")
    out = cli("restore", str(not_db), "--db", str(db))
    assert out.returncode == 2 and "is not a goldenloop database" in out.stderr
    out = cli("restore", str(tmp_path / "missing.duckdb"), "--db", str(db))
    assert out.returncode == 2 and "no backup file at" in out.stderr
    assert _spans(db) == 0 and _spans(tmp_path / "b.duckdb") == 0
