"""Erasure reaches Argilla (tests/argilla_server.py, a real server): a queue holding two end
users' spans is pushed and answered there and pulled back; `forget` of one user while the
server is unreachable erases everything in goldenloop, says which records could not be
erased in Argilla and lists them for a retry; a pull meanwhile takes no answer on them back
in; `goldenloop forget --retry-argilla` (a real CLI process) then deletes exactly those
records and their responses, and the other user's records and answers stay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from argilla_support import values
from review_support import FULL, opts, write_roles

from goldenloop import argilla_sync
from goldenloop.ingest import ImportOptions, import_file
from goldenloop.ops.forget import forget
from goldenloop.sampling import Uniform, create_queue, make_frame
from goldenloop.store import Store

pytest_plugins = ["argilla_server"]
pytestmark = pytest.mark.timeout(900)  # the server starts in 1-3 minutes on a loaded machine
USER, OTHER = "yara-5150", "omar-9"
T0 = datetime(2026, 3, 1, 12)


def _row(i: int, user: str) -> dict:
    t = T0 + timedelta(minutes=i)
    return {"trace_id": f"tr-{user}-{i}", "span_id": "s1", "session_id": f"se-{user}",
            "user_id": user, "app": "shop", "kind": "llm", "model_version": "m1",
            "start_time": t.isoformat(), "end_time": (t + timedelta(seconds=1)).isoformat(),
            "last_user_message": f"{user} asks {i}", "output": f"answer {i} for {user}"}


def _records(server, dataset_id: str) -> dict[str, list[str]]:
    """External id -> usernames who answered, as the owner lists the dataset."""
    with server.owner_client() as h:
        users = {u["id"]: u["username"] for u in h.get("/api/v1/users").json()["items"]}
        items = h.get(f"/api/v1/datasets/{dataset_id}/records",
                      params={"include": ["responses"], "limit": 1000}).json()["items"]
    return {i["external_id"]: sorted(users[r["user_id"]] for r in i.get("responses") or [])
            for i in items}


def test_forget_erases_the_users_records_in_argilla_with_a_retry_when_unreachable(
        argilla_server, store: Store, tmp_path, monkeypatch):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.owner_key)
    write_roles(store, "leads: [lead]\n")
    f = tmp_path / "spans.jsonl"
    f.write_text("".join(json.dumps(_row(i, u)) + "\n" for u in (USER, OTHER) for i in range(3)))
    assert import_file(store, f, ImportOptions(origin="test")).imported == 6
    qid = create_queue(store, opts("both users"), make_frame(), Uniform(6), seed=1).queue_id
    pushed = argilla_sync.push_queue(store, qid, pushed_by="lead", workspace="goldenloop",
                                     dataset=f"forget-{os.getpid()}")
    did = store.scalar("SELECT argilla_dataset_id FROM argilla_datasets WHERE link_id = ?",
                       [pushed.link_id])
    assert argilla_server.submit_all("ana", did, values({**FULL, "correctness": 5})) == 6
    assert argilla_sync.pull(store, "lead")[0].graded == 6
    theirs = {f"q{qid}-i{i}" for (i,) in store.rows(
        "SELECT queue_item_id FROM queue_items JOIN spans USING (span_key) "
        "WHERE queue_id = ? AND user_id = ?", [qid, USER])}
    assert len(theirs) == 3 and set(_records(argilla_server, did)) >= theirs

    # The server cannot be reached: goldenloop erases all it holds and says what is left.
    monkeypatch.setenv("ARGILLA_API_URL", "http://127.0.0.1:9")
    report = forget(store, "user_id", USER, requested_by="lead")
    assert report.argilla["erased"] == {}
    (n, why), = report.argilla["pending"].values()
    assert n == 3 and "unreachable" in why
    text = "\n".join(report.lines())
    assert "3 records NOT erased yet" in text and "--retry-argilla" in text
    assert report.removed["argilla_records"] == 3 and report.removed["argilla_pulls"] == 3
    assert store.scalar("SELECT count(*) FROM argilla_records WHERE external_id IN "
                        "(SELECT unnest(?::VARCHAR[]))", [sorted(theirs)]) == 0
    listed = store.rows("SELECT external_id, erased_at IS NULL, last_error IS NOT NULL "
                        "FROM argilla_erasures ORDER BY 1")
    assert listed == [(e, True, True) for e in sorted(theirs)]
    assert set(_records(argilla_server, did)) >= theirs  # still in Argilla: nothing pretended

    # Answers on those records meanwhile are not taken back in.
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    argilla_server.submit_all("ben", did, values({**FULL, "correctness": 2}))
    again = argilla_sync.pull(store, "lead")[0]
    assert (again.graded, again.set_aside) == (3, 0)
    assert store.scalar("SELECT count(*) FROM argilla_pulls WHERE external_id IN "
                        "(SELECT unnest(?::VARCHAR[]))", [sorted(theirs)]) == 0
    db = store.path
    store.close()

    out = subprocess.run([sys.executable, "-m", "goldenloop.cli", "forget", "--retry-argilla",
                          "--db", str(db), "--by", "lead"], capture_output=True, text=True,
                         timeout=300, env=os.environ | {"ARGILLA_API_URL": argilla_server.url})
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Argilla dataset {pushed.dataset}: 3 records erased" in out.stdout
    left = _records(argilla_server, did)
    assert not set(left) & theirs and len(left) == 3
    assert all(who == ["ana", "ben"] for who in left.values())  # the other user's answers stay
    with Store(db, read_only=True, migrate_schema=False) as s:
        assert s.scalar("SELECT count(*) FROM argilla_erasures WHERE erased_at IS NULL") == 0
        assert s.scalar("SELECT count(*) FROM audit_log WHERE action = 'forget.argilla'") == 1
        assert USER not in json.dumps(s.rows("SELECT * FROM argilla_erasures"), default=str)
    again = subprocess.run([sys.executable, "-m", "goldenloop.cli", "forget", "--retry-argilla",
                            "--db", str(db), "--by", "lead"], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and "none was pending" in again.stdout, again.stderr


@pytest.mark.parametrize("given", [[], ["--user-id", "u", "--retry-argilla"]])
def test_forget_wants_exactly_one_subject(tmp_path, given):
    out = subprocess.run([sys.executable, "-m", "goldenloop.cli", "forget", *given, "--db",
                          str(tmp_path / "g.duckdb"), "--by", "lead"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and "--retry-argilla" in out.stderr and "Traceback" not in out.stderr
