"""The operator's view: the inbox backlog makes the health "degraded" (not "paused": writes go
on), a store refusing writes makes it "paused", and a failed inbox file can be retried."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from goldenloop import access
from goldenloop.config import Paths
from goldenloop.errors import GoldenloopError
from goldenloop.ops import status as S
from goldenloop.store import Store, health
from goldenloop.store.owner import OwnerRecord


def _files(folder: Path, n: int, age: float = 0.0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    t = time.time() - age
    for i in range(n):
        p = folder / f"f{i}.jsonl"
        p.write_text("{}\n")
        os.utime(p, (t, t))


def test_health_is_degraded_when_the_inbox_backs_up(store: Store) -> None:
    paths = Paths(store.path).ensure()
    _files(paths.inbox, S.BACKLOG_FILES - 1)
    st = S.operations_status(store, paths)
    assert st.health == "ok" and st.inbox.pending == S.BACKLOG_FILES - 1
    assert st.db_bytes and st.db_bytes > 0 and st.disk_free_bytes and st.version
    (paths.inbox / "late.jsonl").write_text("{}\n")
    st = S.operations_status(store, paths)
    assert st.health == "degraded" and "files wait" in st.reasons[0]

    assert S.write_health(paths, store)
    status = health.read_status(paths.db)
    assert status is not None and status.state == "degraded" and not status.paused
    owner = OwnerRecord(status.pid, "", 0.0)
    assert access.writes_paused(paths, owner) is None  # degraded: the CLI still hands work on


def test_an_old_waiting_file_alone_makes_it_degraded(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "g.duckdb")
    _files(paths.inbox, 1, age=S.BACKLOG_SECONDS + 5)
    state, reasons = S.health_of(S.inbox_state(paths), None)
    assert state == "degraded" and "the oldest for" in reasons[0]
    assert S.health_of(S.inbox_state(paths), "no space left on device")[0] == "paused"
    _files(paths.inbox, 1, age=0)
    assert S.health_of(S.InboxState(1, 1.0), None) == ("ok", [])


def test_retry_puts_a_failed_file_back(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "g.duckdb").ensure()
    (paths.inbox_failed / "bad.csv").write_text("x\n")
    (paths.inbox_failed / "bad.csv.reason.txt").write_text("line 2: no time\n")
    assert S.inbox_state(paths).failed == ["bad.csv"]
    S.retry_failed(paths, "bad.csv")
    assert (paths.inbox / "bad.csv").is_file() and S.inbox_state(paths).failed == []
    assert not (paths.inbox_failed / "bad.csv.reason.txt").exists()
    with pytest.raises(GoldenloopError, match="no failed inbox file"):
        S.retry_failed(paths, "../g.duckdb")
