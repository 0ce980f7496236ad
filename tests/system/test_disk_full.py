"""A full disk: the store stops taking writes with a clear status, recovers when space returns,
and retries what failed — on a real small filesystem (tmpfs) the test mounts itself.

Needs root and a kernel that lets the sandbox mount tmpfs; skipped, saying why, otherwise.
"""

from __future__ import annotations

import os
import random
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_support import serving

from goldenloop.config import resolve_paths
from goldenloop.errors import StoreUnavailableError
from goldenloop.schema import open_store
from goldenloop.spool import span_table, write_spool
from goldenloop.store import Store, health
from goldenloop.workers.inbox import requeue_storage_failures

CLI = [sys.executable, "-m", "goldenloop.cli"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 MiB tmpfs mounted on a fresh folder, unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"this machine does not allow mounting a tmpfs: {out.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte with one file; return it (delete it to free the space)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as fh:
        block = b"\0" * (1 << 20)
        while True:
            try:
                fh.write(block)
            except OSError:
                break
        for size in (65536, 4096, 1):  # the last partial blocks too
            while True:
                try:
                    if not fh.write(b"\0" * size):
                        break
                except OSError:
                    break
    assert os.statvfs(disk).f_bavail == 0
    return filler


def spans(first: int, n: int, text: str = "answer ") -> list[dict]:
    t0 = 1_746_000_000_000_000
    return [{"trace_id": f"t{i:05d}", "span_id": f"s{i:05d}", "name": "chat", "kind": "llm",
             "model": "gpt-4o-mini", "start_time": t0 + i * 1000, "latency_ms": 120.0,
             "input_tokens": 10, "output_tokens": 20, "output": text * 40 + str(i)}
            for i in range(first, first + n)]


def test_store_refuses_writes_on_a_full_disk_and_recovers_after_a_failed_checkpoint(
        small_disk: Path) -> None:
    store = open_store(small_disk / "g.duckdb")
    try:
        store.checkpoint()
        store.write(lambda cur: cur.execute(
            "CREATE TABLE t AS SELECT i, repeat(md5(i::VARCHAR), 30) AS s FROM range(3000) r(i)"))
        filler = fill(small_disk)
        # The checkpoint cannot write the file: DuckDB invalidates the database.
        with pytest.raises(StoreUnavailableError) as failure:
            store.checkpoint()
        assert "No space left on device" in str(failure.value)
        assert store.unavailable is not None
        with pytest.raises(StoreUnavailableError):  # refused at once, not half-done
            store.write(lambda cur: cur.execute("INSERT INTO t VALUES (-1, 'x')"))
        assert store.recover() is False  # still full: nothing to do yet
        filler.unlink()
        assert store.recover() is True
        assert store.unavailable is None
        # Every committed row is back (replayed from the write-ahead log), and writes work.
        assert store.scalar("SELECT count(*) FROM t") == 3000
        store.write(lambda cur: cur.execute("INSERT INTO t VALUES (-1, 'x')"))
        assert store.scalar("SELECT count(*) FROM t") == 3001
    finally:
        store.close()


def test_a_new_database_on_a_full_disk_is_refused_with_a_message(small_disk: Path,
                                                                  tmp_path: Path) -> None:
    csv = tmp_path / "calls.csv"  # elsewhere: only the database's disk is full
    csv.write_text("timestamp,model,response\n2025-05-01T10:00:00Z,gpt-4o-mini,hello\n")
    fill(small_disk)
    with pytest.raises(StoreUnavailableError, match="No space left on device"):
        open_store(small_disk / "new.duckdb")
    said = subprocess.run([*CLI, "import", str(csv), "--db", str(small_disk / "cli.duckdb")],
                          capture_output=True, text=True, timeout=120)
    assert said.returncode != 0 and "No space left on device" in said.stderr
    assert "Traceback" not in said.stderr


def test_a_commit_the_log_cannot_hold_is_refused_and_retried_later(small_disk: Path) -> None:
    store = open_store(small_disk / "g.duckdb")
    try:
        store.write(lambda cur: cur.execute("CREATE TABLE t (s VARCHAR)"))
        store.checkpoint()
        filler = fill(small_disk)
        big = "INSERT INTO t SELECT repeat('y', 1000) FROM range(20000)"
        with pytest.raises(StoreUnavailableError):
            store.write(lambda cur: cur.execute(big))
        filler.unlink()
        assert store.recover() is True
        store.write(lambda cur: cur.execute(big))
        assert store.scalar("SELECT count(*) FROM t") == 20000
    finally:
        store.close()


def test_a_job_the_disk_failed_is_queued_again_not_failed(store: Store) -> None:
    from goldenloop.store import jobs as job_sql
    from goldenloop.workers.jobs import run_job

    job_id = store.write(job_sql.create, "import", {"files": []}, "test")
    job = store.write(job_sql.claim_next)

    def handler(store, params, progress):
        raise StoreUnavailableError('Could not write file "g.duckdb.wal": No space left on device')

    with pytest.raises(StoreUnavailableError):
        run_job(store, job, {"import": handler})
    assert store.scalar("SELECT status FROM jobs WHERE job_id = ?", [job_id]) == "queued"


def test_only_files_the_disk_failed_are_put_back(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "g.duckdb").ensure()
    for name, reason in (("a.parquet", 'Could not write file "x.wal": No space left on device'),
                         ("b.parquet", "row 3: input_tokens: negative: -1"),
                         ("c.jsonl", "FATAL Error: database has been invalidated because ...")):
        (paths.inbox_failed / name).write_text("data")
        (paths.inbox_failed / f"{name}.reason.txt").write_text(reason + "\n")
    assert requeue_storage_failures(paths) == 2
    assert sorted(p.name for p in paths.inbox.iterdir() if p.is_file()) == ["a.parquet", "c.jsonl"]
    assert sorted(p.name for p in paths.inbox_failed.iterdir()) == ["b.parquet",
                                                                     "b.parquet.reason.txt"]


def _done_files(paths) -> int:
    return sum(1 for p in paths.inbox_done.iterdir() if p.suffix == ".parquet")


def _wait(check, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} not seen in {timeout:.0f} s; server log:\n"
                         + log.read_text(errors="replace")[-3000:])


def _spans_in_snapshot(paths) -> int:
    try:
        with Store(paths.snapshot, read_only=True, migrate_schema=False) as snap:
            return int(snap.scalar("SELECT count(*) FROM spans"))
    except Exception:  # not published yet, or being replaced
        return -1


def _random_text(rng: random.Random, n: int) -> str:
    # Incompressible, so a checkpoint needs about as many new blocks as the log took.
    return "".join(rng.choices(string.ascii_letters + string.digits + string.punctuation, k=n))


def test_server_pauses_on_a_full_disk_and_lands_every_span_after_space_returns(
        small_disk: Path, tmp_path: Path) -> None:
    db = small_disk / "data" / "goldenloop.duckdb"
    paths = resolve_paths(db).ensure()
    log = tmp_path / "serve.log"
    with serving(db, log) as server:
        # Spool files are written while there is room and handed over on a full disk (a
        # rename needs no space), as a producer's files arrive during the incident. The first
        # one's 2 MB of texts fit in the log space left, not also in the database file, so the
        # commit succeeds and the checkpoint after it fails: DuckDB invalidates the database.
        rng = random.Random(9)
        staging = small_disk / "staging"
        big = [{**s, "output": _random_text(rng, 20_000)} for s in spans(0, 100)]
        files = [write_spool(staging, span_table(big), prefix="sdk-0")]
        files += [write_spool(staging, span_table(spans(i * 100, 100)), prefix=f"sdk-{i}")
                  for i in range(1, 6)]
        csv = staging / "calls.csv"
        csv.write_text("timestamp,model,response\n2025-05-01T10:00:00Z,gpt-4o-mini,hello\n")
        reserve = staging / "reserve"
        reserve.write_bytes(b"\0" * (2_600 << 10))
        room_for_a_job = staging / "room"
        room_for_a_job.write_bytes(b"\0" * (256 << 10))
        filler = fill(small_disk)
        reserve.unlink()
        os.replace(files[0], paths.inbox / files[0].name)
        status = _wait(lambda: (s := health.read_status(db, server.pid)) and s.paused and s,
                       60, "the paused status", log)
        for f in files[1:]:
            os.replace(f, paths.inbox / f.name)
        assert "No space left on device" in status.reason
        said = subprocess.run([*CLI, "status", "--db", str(db)], capture_output=True, text=True,
                              timeout=120)
        assert "writes paused" in said.stdout, said.stdout + said.stderr
        # A command that writes is told why, with no traceback (the job file cannot be written).
        told = subprocess.run([*CLI, "import", str(csv), "--db", str(db)], capture_output=True,
                              text=True, timeout=120)
        assert told.returncode != 0 and "No space left on device" in told.stdout + told.stderr
        assert "Traceback" not in told.stderr
        # With room for the job file (not for the database), the job is queued and the
        # command says it waits for the disk.
        room_for_a_job.unlink()
        told = subprocess.run([*CLI, "import", str(csv), "--db", str(db)], capture_output=True,
                              text=True, timeout=120)
        assert told.returncode == 0, told.stdout + told.stderr
        assert "paused writes" in told.stdout and "No space left on device" in told.stdout
        time.sleep(3)  # the watcher's passes while paused set nothing aside as bad
        assert not list(paths.inbox_failed.glob("*.parquet"))
        assert server.poll() is None

        filler.unlink()
        _wait(lambda: _done_files(paths) == 6, 90, "all six spool files imported", log)
        _wait(lambda: _spans_in_snapshot(paths) == 601, 90, "the queued import's span", log)
        _wait(lambda: not health.read_status(db, server.pid).paused, 30, "the ok status", log)
        assert not list(paths.inbox_failed.glob("*.parquet"))
    assert server.returncode == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert "FATAL" in text or "invalidated" in text, "the checkpoint did not fail: " + text[-2000:]
    with Store(db, read_only=True, migrate_schema=False) as store:
        assert store.scalar("SELECT count(*) FROM spans") == 601
        assert store.scalar("SELECT count(DISTINCT (trace_id, span_id)) FROM spans") == 601
        assert store.scalar("SELECT list(status) FROM jobs WHERE kind = 'import'") == ["done"]


def test_every_page_says_when_writes_are_paused(app_db: Path, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    from app_support import app_page

    from goldenloop import server

    store = open_store(app_db)
    monkeypatch.setattr(server, "_owned", store)
    try:
        store.unavailable = 'Could not write file "g.duckdb.wal": No space left on device'
        at = app_page()
        assert any("Writes are paused" in e.value for e in at.error)
        assert any("No space left on device" in t.value for t in at.text)
        store.unavailable = None
        assert not any("Writes are paused" in e.value for e in app_page().error)
    finally:
        store.close()
