"""Killing the owner at each step of an inbox import loses nothing and imports nothing twice.

The owner here is a real process running the inbox watcher the server runs; it is killed with
SIGKILL (no clean-up of any kind) before an import starts, inside the import's transaction
before the commit, and between the commit and the move to ``done/``; then restarted. A last
test kills it again and again while an SDK process keeps writing spool files.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from goldenloop.config import resolve_paths
from goldenloop.ingest.loader import file_hash
from goldenloop.schema import open_store
from goldenloop.spool import span_table, write_spool

OWNER = textwrap.dedent("""
    import os, signal, sys, time
    from goldenloop.config import resolve_paths
    from goldenloop.store import Store
    from goldenloop.schema import open_store
    from goldenloop.store import imports as import_sql
    from goldenloop.workers import inbox

    def die(*_args, **_kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    step = sys.argv[2]
    if step == "before-import":      # the hash is checked, no transaction yet
        inbox.import_spans = die
    elif step == "before-commit":    # spans inserted inside the open transaction
        import_sql.finish = die
    elif step == "after-commit":     # committed, not yet moved to done/
        inbox._move = die
    store = open_store(sys.argv[1])
    watcher = inbox.InboxWatcher(store, resolve_paths(sys.argv[1]))
    print("ready", flush=True)
    once = step != "forever"
    while True:
        busy = watcher.tick()
        if once and not busy:
            break
        if not busy:
            time.sleep(0.05)
    store.close()
""")


def owner(db: Path, step: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", OWNER, str(db), step],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def spans(n: int, start: int = 0) -> list[dict]:
    t0 = 1_767_225_600_000_000  # 2026-01-01, Unix microseconds
    return [{"trace_id": f"{i:032x}", "span_id": f"{i:016x}", "start_time": t0 + i,
             "model": "gpt-4o-mini", "output": f"answer {i}", "source": "sdk"}
            for i in range(start, start + n)]


def counts(db: Path) -> tuple[int, int, int]:
    """(spans, distinct span ids, committed imports) as a restarted owner finds them."""
    with open_store(db) as store:
        n, distinct = store.rows("SELECT count(*), count(DISTINCT (trace_id, span_id)) "
                                 "FROM spans")[0]
        logged = store.scalar("SELECT count(*) FROM import_log WHERE status = 'committed'")
    return n, distinct, logged


@pytest.mark.parametrize(("step", "committed"), [
    ("before-import", False), ("before-commit", False), ("after-commit", True)])
def test_a_killed_owner_restarts_and_imports_each_file_exactly_once(tmp_path, step, committed):
    db = tmp_path / "g.duckdb"
    paths = resolve_paths(db).ensure()
    open_store(db).close()
    spool = write_spool(paths.inbox, span_table(spans(1000)), prefix="sdk")
    digest = file_hash(spool)

    killed = owner(db, step)
    _, err = killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL, err
    assert spool.exists()  # never moved, never deleted, before its rows were committed
    assert counts(db) == ((1000, 1000, 1) if committed else (0, 0, 0))

    restarted = owner(db, "once")
    _, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err
    assert counts(db) == (1000, 1000, 1)
    assert not spool.exists() and (paths.inbox_done / spool.name).exists()
    assert file_hash(paths.inbox_done / spool.name) == digest
    assert not list(paths.inbox_failed.iterdir())


PRODUCER = textwrap.dedent("""
    import sys
    from goldenloop import sdk
    sdk.configure(sys.argv[1], batch_spans=500, batch_seconds=0.05)

    @sdk.trace
    def step(i):
        return f"answer {i}"

    for i in range(int(sys.argv[2])):
        step(i)
    sdk.flush()
    assert sdk.stats()["dropped"] == 0, sdk.stats()
""")


@pytest.mark.slow
def test_an_owner_killed_again_and_again_loses_no_span_of_a_running_producer(tmp_path):
    db = tmp_path / "g.duckdb"
    paths = resolve_paths(db).ensure()
    open_store(db).close()
    total, kills, busy_kills, rng = 30_000, 0, 0, random.Random(7)
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, str(paths.inbox), str(total)],
                                stderr=subprocess.PIPE, text=True)
    running = owner(db, "forever")
    while producer.poll() is None or kills < 3:
        assert running.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.1, 0.6))  # anywhere: hashing, inserting, committing, moving
        busy_kills += any(p.suffix == ".parquet" for p in paths.inbox.iterdir())
        running.send_signal(signal.SIGKILL)
        running.wait()
        kills += 1
        running = owner(db, "forever")
    assert producer.wait() == 0, producer.stderr.read()
    deadline = time.monotonic() + 120
    while any(p.suffix == ".parquet" for p in paths.inbox.iterdir()):
        assert time.monotonic() < deadline, "the restarted owner did not empty the inbox"
        time.sleep(0.1)
    running.send_signal(signal.SIGKILL)
    running.wait()

    assert busy_kills >= 2, "the owner was never killed while it had files to import"
    n, distinct, logged = counts(db)
    files = list(paths.inbox_done.glob("*.parquet"))
    assert (n, distinct) == (total, total)
    assert logged == len(files) and not list(paths.inbox_failed.iterdir())
