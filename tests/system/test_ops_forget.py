"""Deletion by end user: import a user's spans (and a bad row naming them), grade them, build
a golden set, leave spool files about them, forget the user, then search every file under the
data folder for the user's strings."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from review_support import write_roles
from serve_support import serving

from goldenloop import golden as G
from goldenloop import spool
from goldenloop.config import Paths
from goldenloop.golden.versions import latest_version
from goldenloop.ingest import ImportOptions, import_file
from goldenloop.ops.forget import ForgetError, forget
from goldenloop.review import sql as review_sql
from goldenloop.schema import open_store
from goldenloop.store import Store, feedback, snapshot

USER = "zelda-4471"
SECRET = "ZELDA_PRIVATE_ADDRESS_12_ELM_STREET"
OTHER = "omar-9"
T0 = datetime(2026, 3, 1, 12)


def _row(i: int, user: str, text: str) -> dict:
    t = T0 + timedelta(minutes=i)
    return {"trace_id": f"tr-{user}-{i}", "span_id": "s1", "session_id": f"se-{user}",
            "user_id": user, "app": "shop", "kind": "llm", "model_version": "m1",
            "start_time": t.isoformat(), "end_time": (t + timedelta(seconds=1)).isoformat(),
            "last_user_message": f"{text} question {i}", "output": f"answer to {text} {i}",
            "messages": json.dumps([{"role": "user", "content": f"{text} question {i}"}])}


def _spool_row(i: int, user: str, text: str) -> dict:
    r = _row(i, user, text)
    return {**r, "start_time": datetime.fromisoformat(r["start_time"]),
            "end_time": datetime.fromisoformat(r["end_time"])}


def _history(store: Store, folder: Path) -> None:
    rows = [_row(i, USER, SECRET) for i in range(3)] + [_row(i, OTHER, "plain") for i in range(3)]
    f = folder / "inbox" / "done" / "import-1.jsonl"
    f.parent.mkdir(parents=True)
    bad = {"trace_id": "tr-bad", "user_id": USER, "start_time": "not a time",
           "output": f"{SECRET} in a bad row"}
    f.write_text("\n".join(json.dumps(r) for r in [*rows, bad]) + "\n")
    r = import_file(store, f, ImportOptions(origin="test"))
    assert r.imported == 6 and r.quarantined == 1
    keys = dict(store.rows("SELECT trace_id, span_key FROM spans"))

    def grade(cur) -> None:
        review_sql.insert_human_grades(cur, [
            {"target_type": "span", "target_id": str(k), "span_key": k, "criterion": "correctness",
             "value_number": 5, "source": "human", "author_kind": "reviewer", "author_id": who,
             "rubric_name": "default", "rubric_version": "v1", "created_at": T0}
            for k in keys.values() for who in ("ana", "ben")])
        feedback.insert_feedback(cur, spool.feedback_table([
            {"trace_id": t, "span_key": k, "user_id": t.split("-")[1] + "-" + t.split("-")[2],
             "kind": "comment", "comment": f"feedback {SECRET}" if USER in t else "ok",
             "created_at": T0, "source": "test"} for t, k in keys.items()]))

    store.write(grade)
    write_roles(store, "leads: [lead, privacy-officer]\n")
    assert G.build(store, "gold", G.GoldenFilter(correct_at=4, min_reviewers=2), "lead").created
    # A spool file still waiting (both users) and one already imported (the user alone).
    inbox = Paths(store.path).inbox
    spool.write_spool(inbox, spool.span_table([_spool_row(9, USER, SECRET),
                                                     _spool_row(9, OTHER, "plain")]),
                      prefix="sdk")
    spool.write_spool(inbox / "done", spool.span_table([_spool_row(8, USER, SECRET)]), prefix="sdk")
    store.checkpoint()


def _files_holding(folder: Path, needles: list[bytes]) -> list[str]:
    return [str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
            and any(n in p.read_bytes() for n in needles)]


def test_forget_user_leaves_no_byte_of_them_in_any_file(store: Store, tmp_path: Path) -> None:
    paths = Paths(store.path)
    _history(store, tmp_path)
    # The snapshot readers use holds the user too, until it is published again.

    snapshot.publish(store, paths.snapshot)
    needles = [USER.encode(), SECRET.encode()]
    assert "goldenloop.duckdb" in _files_holding(tmp_path, needles)
    old_version = latest_version(store, "gold")
    assert old_version is not None and old_version.rows == 6

    report = forget(store, "user_id", USER, requested_by="privacy-officer")

    assert report.removed["spans"] == 3 and report.removed["grades"] == 6
    assert report.removed["feedback"] == 3 and report.removed["quarantine"] == 1
    assert report.removed["golden_rows"] == 3
    assert report.removed["files_deleted"] == 2 and report.removed["files_rewritten"] == 1
    store.close()
    assert _files_holding(tmp_path, needles) == []
    with open_store(store.path) as s:
        assert s.scalar("SELECT count(*) FROM spans WHERE user_id = ?", [OTHER]) == 3
        assert s.scalar("SELECT count(*) FROM grades") == 6
        new = latest_version(s, "gold")
        assert new.version == old_version.version + 1 and new.rows == 3
        marked = s.rows("SELECT version_id, rows_erased, replaced_by FROM ops_golden_erasures")
        assert marked == [(old_version.version_id, 3, new.version_id)]
        entry = s.rows("SELECT actor, action, interface, details FROM audit_log "
                       "WHERE action = 'forget'")
        assert entry[0][:3] == ("privacy-officer", "forget", "cli")
        assert json.loads(entry[0][3])["removed"]["spans"] == 3
    waiting = [p for p in paths.inbox.glob("*.parquet")]
    assert [r["user_id"] for r in pq.read_table(waiting[0]).to_pylist()] == [OTHER]
    report_file = paths.data_dir / "erasures" / f"{report.erasure_id}.json"
    assert json.loads(report_file.read_text())["removed"]["spans"] == 3


def test_deleting_rows_alone_leaves_their_bytes_in_the_file(tmp_path: Path) -> None:
    """Why forget rewrites the file: a DELETE and a CHECKPOINT leave the bytes behind."""
    db = tmp_path / "x.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT 'row ' || i || ' ' || md5(i::VARCHAR) AS v "
                "FROM range(5000) r(i)")
    con.execute("INSERT INTO t VALUES (?)", [SECRET])
    con.execute("CHECKPOINT")
    assert SECRET.encode() in db.read_bytes()
    con.execute("DELETE FROM t WHERE v = ?", [SECRET])
    con.execute("CHECKPOINT")
    con.close()
    assert SECRET.encode() in db.read_bytes()


def test_forget_refuses_an_empty_id_and_an_unknown_selector(store: Store) -> None:
    with pytest.raises(ForgetError, match="names nobody"):
        forget(store, "user_id", "  ")
    with pytest.raises(ForgetError, match="unknown selector"):
        forget(store, "email", "x@example.org")


def test_forget_through_the_running_server(tmp_path: Path) -> None:
    """While a server owns the file the erasure runs there as a job: the live file is
    rewritten under the owner's threads, and the snapshot published again."""
    cli = [sys.executable, "-m", "goldenloop.cli"]
    data = tmp_path / "data"
    db = data / "goldenloop.duckdb"
    paths = Paths(db).ensure()
    rows = [_spool_row(i, USER, SECRET) for i in range(4)] + [_spool_row(i, OTHER, "x")
                                                             for i in range(4)]
    spool.write_spool(paths.inbox, spool.span_table(rows), prefix="sdk")
    log_path = tmp_path / "serve.log"
    with serving(db, log_path) as server:
        deadline = time.monotonic() + 120
        while not list(paths.inbox_done.glob("sdk-*.parquet")) and time.monotonic() < deadline:
            time.sleep(0.3)
        out = subprocess.run([*cli, "forget", "--user-id", USER, "--db", str(db), "--by", "dpo"],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert f"process {server.pid}" in out.stdout and "spans: 4 removed" in out.stdout
        assert USER not in out.stdout
        # The owner still works after reopening its file: the status reads the new snapshot.
        status = subprocess.run([*cli, "status", "--db", str(db)], capture_output=True,
                                text=True, timeout=120)
        assert "\nspans: 4\n" in status.stdout, status.stdout
    assert server.returncode == 0, log_path.read_text()[-2000:]
    assert _files_holding(data, [USER.encode(), SECRET.encode()]) == []
    with Store(db, read_only=True, migrate_schema=False) as s:
        assert s.scalar("SELECT count(*) FROM spans") == 4
        params = s.scalar("SELECT params FROM jobs WHERE kind = 'forget'")
        assert json.loads(params)["subject_hash"] and "value" not in json.loads(params)
