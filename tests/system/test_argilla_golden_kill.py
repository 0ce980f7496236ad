"""A golden set's pull killed midway (SIGKILL) loses and duplicates nothing: killed inside
its third batch, the batches before stay whole; killed while the reviewed version is being
made, no version is left half-made; the next pull takes in exactly the rest and makes the
version once, from every response."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from argilla_support import graded_golden

from goldenloop import argilla_sync
from goldenloop import golden as G
from goldenloop.schema import open_store

pytest_plugins = ["argilla_server"]  # the server fixture (tests/argilla_server.py)
N = 30  # items sampled (a Bernoulli design: the golden set's size is near N, over 20)

CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from goldenloop.argilla_sync import golden_pull, pulling
    from goldenloop.schema import open_store

    pulling.BATCH = 10  # take_in's batch size, for queue and golden pulls alike
    marker = Path(sys.argv[2])
    if sys.argv[3] == "batch":
        real, seen = golden_pull._write_batch, []

        def slow(cur, *args):
            out = real(cur, *args)
            seen.append(1)
            if len(seen) == 3:  # the third batch: written, not committed
                marker.write_text("in batch 3")
                time.sleep(600)
            return out

        golden_pull._write_batch = slow
    else:
        real = golden_pull.derive_in

        def slow(cur, *args, **kw):
            out = real(cur, *args, **kw)  # the version written, not committed
            marker.write_text("making the version")
            time.sleep(600)
            return out

        golden_pull.derive_in = slow
    with open_store(Path(sys.argv[1])) as s:
        pulling.pull(s, "lead")
""")


def _kill_at(path, tmp_path, stage: str) -> None:
    marker = tmp_path / f"marker-{stage}"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(marker), stage],
                             env={**os.environ})
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert child.poll() is None, f"the pull ended before reaching {stage}"
        assert time.monotonic() < deadline, f"the pull never reached {stage}"
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait(30)


def _state(path) -> tuple[int, int, int, int, int]:
    with open_store(path) as s:
        return (s.scalar("SELECT count(*) FROM argilla_pulls"),
                s.scalar("SELECT count(DISTINCT response_id) FROM argilla_pulls"),
                s.scalar("SELECT count(*) FROM grades WHERE author_id = 'ana'"),
                s.scalar("SELECT count(*) FROM golden_versions"),
                s.scalar("SELECT count(*) FROM argilla_golden_versions"))


def test_sigkill_in_a_batch_and_in_the_version_then_a_complete_pull(argilla_server, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.owner_key)
    path = tmp_path / "goldenloop.duckdb"
    with open_store(path) as s:
        graded_golden(s, 60, N)
        argilla_sync.push_golden(s, "support@1", pushed_by="lead", workspace="goldenloop",
                                 dataset="golden-kill")
        did = s.scalar("SELECT argilla_dataset_id FROM argilla_datasets")
        n = G.get_version(s, "support", 1).rows
    assert n > 20
    assert argilla_server.submit_all("ana", did, {"correctness": {"value": 4}}) == n

    _kill_at(path, tmp_path, "batch")
    assert _state(path) == (20, 20, 20, 1, 0)  # two whole batches, no version

    _kill_at(path, tmp_path, "version")
    assert _state(path) == (n, n, n, 1, 0)  # every response in; the version rolled back

    with open_store(path) as s:
        [r] = argilla_sync.pull(s, "lead")
        assert (r.graded, r.unchanged, r.new_version, r.version_created) == (0, n, 2, True)
        v2 = G.get_version(s, "support", 2)
        assert v2.counts["derived_from"]["responses"] == n and v2.rows == n
        assert all(sorted(x) == ["ana", "rita"] for x in G.rows(s, v2)["reviewers"])
    assert _state(path) == (n, n, n, 2, 1)
