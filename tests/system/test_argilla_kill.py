"""A pull killed midway (SIGKILL, inside a batch's transaction) loses and duplicates nothing:
the batches committed before stay whole, and the next pull takes in exactly the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from review_support import FULL, opts, synthetic_spans

from goldenloop import argilla_sync
from goldenloop.sampling import create_hand_queue
from goldenloop.schema import open_store

pytest_plugins = ["argilla_server"]  # the server fixture (tests/argilla_server.py)
N = 120

CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from goldenloop.argilla_sync import pulling
    from goldenloop.store import Store
    from goldenloop.schema import open_store

    pulling.BATCH = 20
    real, seen = pulling._write_batch, []

    def slow(cur, *args):
        out = real(cur, *args)
        seen.append(1)
        if len(seen) == 3:  # the third batch: written, not committed
            Path(sys.argv[2]).write_text("in batch 3")
            time.sleep(600)
        return out

    pulling._write_batch = slow
    with open_store(Path(sys.argv[1])) as s:
        pulling.pull(s, "lead")
""")


def test_sigkill_midway_then_a_complete_pull(argilla_server, tmp_path, monkeypatch):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.owner_key)
    path = tmp_path / "goldenloop.duckdb"
    with open_store(path) as s:
        synthetic_spans(s, N, seed=4)
        keys = [k for (k,) in s.rows("SELECT span_key FROM spans ORDER BY span_key")]
        qid = create_hand_queue(s, opts("kill"), span_keys=keys).queue_id
        argilla_sync.push_queue(s, qid, pushed_by="lead", workspace="goldenloop",
                                dataset="kill-midway")
        did = s.scalar("SELECT argilla_dataset_id FROM argilla_datasets")
    argilla_server.submit_all("ana", did, {k: {"value": v} for k, v in FULL.items()})

    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(marker)],
                             env={**os.environ})
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert child.poll() is None, "the pull ended before its third batch"
        assert time.monotonic() < deadline, "the pull never reached its third batch"
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait(30)

    with open_store(path) as s:
        # Two whole batches survived; the third left nothing behind.
        assert s.scalar("SELECT count(*) FROM argilla_pulls") == 40
        assert s.scalar("SELECT count(DISTINCT queue_item_id) FROM live_grades "
                        "WHERE source = 'human'") == 40
        r = argilla_sync.pull(s, "lead")[0]
        assert (r.graded, r.unchanged) == (N - 40, 40)
        assert s.scalar("SELECT count(*) FROM argilla_pulls") == N
        assert s.scalar("SELECT count(DISTINCT response_id) FROM argilla_pulls") == N
        per_item = s.rows("SELECT queue_item_id, count(*) FROM live_grades WHERE source = "
                          "'human' AND criterion = 'correctness' GROUP BY 1")
        assert len(per_item) == N and {n for _, n in per_item} == {1}
        assert s.scalar("SELECT count(*) FROM queue_items WHERE queue_id = ? AND "
                        "status = 'done'", [qid]) == N
