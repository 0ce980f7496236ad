"""The owner's machinery: jobs with progress and cancel, the inbox (exactly once, even across
a crash), snapshots other processes can read, and the lock error that names the holder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from goldenloop import access
from goldenloop.config import resolve_paths
from goldenloop.errors import GoldenloopError, StoreLockedError
from goldenloop.schema import open_store
from goldenloop.store import jobs as job_sql
from goldenloop.store import owner as owner_file
from goldenloop.store import snapshot
from goldenloop.workers.inbox import pending_files, process_file
from goldenloop.workers.jobs import run_job


def _spool(path: Path, n: int, start: int = 0) -> Path:
    table = pa.table({
        "trace_id": [f"t{i}" for i in range(start, start + n)],
        "span_id": ["s"] * n,
        "start_time": pa.array([1_735_689_600 + i for i in range(start, start + n)], pa.int64()),
        "model": ["gpt-4o-mini"] * n,
        "output": ["hello"] * n,
    })
    tmp = path.with_name("." + path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def _run(store, kind, params, handlers):
    jid = store.write(job_sql.create, kind, params, "test")
    job = store.write(job_sql.claim_next)
    assert job.job_id == jid and job.status == "running"
    run_job(store, job, handlers)
    return store.write(job_sql.get, jid)


def test_job_records_progress_and_result(store):
    seen = []

    def work(_store, params, progress):
        for i in range(3):
            progress(i / 3, f"step {i}")
            seen.append(i)
        return {"summary": f"did {params['n']}"}

    job = _run(store, "work", {"n": 3}, {"work": work})
    assert job.status == "done" and job.progress == 1.0
    assert job.result == {"summary": "did 3"} and job.message == "did 3"
    assert seen == [0, 1, 2]


def test_job_cancel_and_failure_are_recorded(store):
    def slow(_store, _params, progress):
        for i in range(100):
            progress(i / 100, "working")
            time.sleep(0.01)
        return {}

    jid = store.write(job_sql.create, "slow", {}, "test")
    job = store.write(job_sql.claim_next)
    store.write(job_sql.request_cancel, jid)
    run_job(store, job, {"slow": slow})
    assert store.write(job_sql.get, jid).status == "cancelled"

    def broken(_store, _params, _progress):
        raise GoldenloopError("the file is gone")

    assert _run(store, "broken", {}, {"broken": broken}).error == "the file is gone"
    unknown = _run(store, "nope", {}, {})
    assert unknown.status == "failed" and "unknown job kind" in unknown.error


def test_restart_requeues_imports_and_reports_the_rest(store):
    store.write(job_sql.create, "import", {"files": []}, "test")
    store.write(job_sql.claim_next)
    store.write(job_sql.create, "demo", {}, "test")
    store.write(job_sql.claim_next)
    assert store.write(job_sql.recover_after_restart) == (1, 1)
    statuses = dict(store.rows("SELECT kind, status FROM jobs"))
    assert statuses == {"import": "queued", "demo": "interrupted"}


def test_inbox_imports_each_file_once_and_moves_it(store, tmp_path):
    paths = resolve_paths(store.path).ensure()
    _spool(paths.inbox / "a.parquet", 5)
    (paths.inbox / ".b.parquet.tmp").write_bytes(b"half written")
    assert [p.name for p in pending_files(paths.inbox)] == ["a.parquet"]
    assert process_file(store, paths, paths.inbox / "a.parquet") == "done"
    assert (paths.inbox_done / "a.parquet").exists()
    assert store.scalar("SELECT count(*) FROM spans") == 5
    # The same content arriving again is recognised by its hash and not imported twice.
    _spool(paths.inbox / "again.parquet", 5)
    assert process_file(store, paths, paths.inbox / "again.parquet") == "skipped"
    assert store.scalar("SELECT count(*) FROM spans") == 5


def test_inbox_bad_file_goes_to_failed_with_reason(store):
    paths = resolve_paths(store.path).ensure()
    (paths.inbox / "broken.parquet").write_bytes(b"not parquet at all")
    assert process_file(store, paths, paths.inbox / "broken.parquet") == "failed"
    assert (paths.inbox_failed / "broken.parquet").exists()
    reason = (paths.inbox_failed / "broken.parquet.reason.txt").read_text()
    assert reason.strip()
    assert store.scalar("SELECT status FROM import_log") == "failed"


def test_job_file_becomes_a_job(store):
    paths = resolve_paths(store.path).ensure()
    f = access.submit_job(paths, "snapshot", {"dest": str(paths.snapshot)})
    assert process_file(store, paths, f) == "done"
    kind, status = store.rows("SELECT kind, status FROM jobs")[0]
    assert (kind, status) == ("snapshot", "queued")


CRASH_BETWEEN_COMMIT_AND_MOVE = textwrap.dedent("""
    import os, sys
    from goldenloop.config import resolve_paths
    from goldenloop.store import Store
    from goldenloop.schema import open_store
    from goldenloop.workers import inbox
    store = open_store(sys.argv[1])
    paths = resolve_paths(sys.argv[1])
    inbox._move = lambda p, folder: os._exit(9)  # die right after the commit
    inbox.process_file(store, paths, paths.inbox / "crash.parquet")
""")


def test_a_crash_between_commit_and_move_imports_nothing_twice(tmp_path):
    db = tmp_path / "g.duckdb"
    paths = resolve_paths(db).ensure()
    open_store(db).close()
    _spool(paths.inbox / "crash.parquet", 7)
    proc = subprocess.run([sys.executable, "-c", CRASH_BETWEEN_COMMIT_AND_MOVE, str(db)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    assert (paths.inbox / "crash.parquet").exists()  # not moved: the owner died
    with open_store(db) as store:
        assert store.scalar("SELECT count(*) FROM spans") == 7  # committed before the crash
        assert process_file(store, paths, paths.inbox / "crash.parquet") == "skipped"
        assert store.scalar("SELECT count(*) FROM spans") == 7
    assert (paths.inbox_done / "crash.parquet").exists()


READ_SNAPSHOT = "import duckdb, sys; print(duckdb.connect(sys.argv[1], read_only=True)" \
                ".execute('SELECT count(*) FROM spans').fetchone()[0])"


def test_snapshot_is_readable_while_the_owner_holds_the_file(store, tmp_path):
    paths = resolve_paths(store.path).ensure()
    _spool(tmp_path / "x.parquet", 4)
    from goldenloop.ingest import import_file
    import_file(store, tmp_path / "x.parquet")
    snapshot.publish(store, paths.snapshot)
    out = subprocess.run([sys.executable, "-c", READ_SNAPSHOT, str(paths.snapshot)],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "4", out.stderr
    # The live file stays locked to other processes.
    live = subprocess.run([sys.executable, "-c", READ_SNAPSHOT, str(store.path)],
                          capture_output=True, text=True, timeout=60)
    assert live.returncode != 0 and "lock" in live.stderr.lower()


HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); " \
       "time.sleep(60)"


def test_lock_error_names_the_process_holding_the_file(tmp_path):
    db = tmp_path / "held.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError) as err:
            open_store(db)
        assert err.value.pid == holder.pid
        assert f"process {holder.pid}" in str(err.value) and "python" in str(err.value)
    finally:
        holder.kill()
        holder.wait()


def test_commands_route_to_the_owner_when_one_runs(tmp_path):
    db = tmp_path / "g.duckdb"
    paths = resolve_paths(db).ensure()
    with open_store(db) as s:
        snapshot.publish(s, paths.snapshot)
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        paths.owner_file.write_text(json.dumps(
            {"pid": stand_in.pid, "command": "goldenloop serve", "started_at": time.time(),
             "url": "http://127.0.0.1:1"}))
        assert owner_file.read_owner(paths.owner_file).pid == stand_in.pid
        csv = tmp_path / "a.csv"
        csv.write_text("timestamp,response\n2025-01-01T00:00:00,a\n")
        cli = [sys.executable, "-m", "goldenloop.cli"]
        out = subprocess.run([*cli, "import", str(csv), "--db", str(db)], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert f"process {stand_in.pid}" in out.stdout and "queued the import" in out.stdout
        job = json.loads(next(paths.inbox.glob("*.job.json")).read_text())
        assert job["kind"] == "import" and job["params"]["files"] == [str(csv.resolve())]
        out = subprocess.run([*cli, "status", "--db", str(db)], capture_output=True, text=True,
                             timeout=60)
        assert "read from the server's snapshot" in out.stdout and "spans: 0" in out.stdout
    finally:
        stand_in.kill()
        stand_in.wait()
