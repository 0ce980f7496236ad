"""Killing an import into ClickHouse (chdb) at each step, then importing the file again, adds
every good span exactly once and quarantines every bad row once.

The importer is a real process killed with SIGKILL (no clean-up): after some of its Arrow
batches are in ClickHouse, after all of them but before the workflow store commits the
import's log entry and quarantine, and after that commit but before the span store's ledger
marks the file done. A new process then imports the same file and reports what it finds.
The raw row count (without FINAL, merges stopped) must equal the good rows: duplicates are
dropped at insert by the batch tokens, not left for merges to collapse some day.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from spanstore_support import span_rows, write_jsonl

pytest.importorskip("chdb", reason="the clickhouse extra is not installed "
                    "(pip install 'goldenloop[clickhouse]')")

IMPORTER = textwrap.dedent("""
    import json, os, signal, sys
    from goldenloop.schema import open_store
    from goldenloop.spanstore import open_span_store
    from goldenloop.spanstore import clickhouse_spans, ingest

    def die(*_args, **_kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    db, url, path, step = sys.argv[1:5]
    workflow = open_store(db)
    spans = open_span_store(url, workflow)
    spans.client.command("SYSTEM STOP MERGES spans")  # duplicates stay visible to count()
    if step == "mid-insert":          # two batches in, the rest not
        real = spans.client.insert_arrow
        sent = []
        def insert_then_die(*args, **kwargs):
            if len(sent) == 2:
                die()
            sent.append(1)
            return real(*args, **kwargs)
        spans.client.insert_arrow = insert_then_die
    elif step == "after-commit":      # log and quarantine committed, ledger not written
        spans.mark_done = die
    hook = die if step == "before-commit" else None
    result = ingest.import_file_to_clickhouse(workflow, spans, path, batch_rows=300,
                                              after_insert=hook)
    raw = spans.client.query("SELECT count(), uniqExact(trace_id, span_id) FROM spans")
    n, distinct = raw.result_rows[0]
    print(json.dumps({
        "already": result.already_imported, "imported": result.imported,
        "raw": n, "distinct": distinct, "final": spans.count("spans"),
        "committed": workflow.scalar("SELECT count(*) FROM import_log WHERE status = 'committed'"),
        "quarantined": workflow.scalar("SELECT count(*) FROM quarantine"),
        "done": spans.done("file:" + ingest.file_hash(ingest.Path(path)))}), flush=True)
    workflow.close()
""")

GOOD, BAD = 1500, 5


def run(db: Path, url: str, path: Path, step: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", IMPORTER, str(db), url, str(path), step],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("step", ["mid-insert", "before-commit", "after-commit"])
def test_reimport_after_a_kill_adds_nothing(tmp_path, step):
    path = write_jsonl(tmp_path / "spool.jsonl", span_rows(GOOD, seed=21), bad=BAD)
    db, url = tmp_path / "workflow.duckdb", f"chdb://{tmp_path / 'ch'}"
    killed = run(db, url, path, step)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    again = run(db, url, path, "none")
    assert again.returncode == 0, again.stderr[-2000:]
    got = json.loads(again.stdout.strip().splitlines()[-1])
    assert got["raw"] == got["distinct"] == got["final"] == GOOD
    assert got["committed"] == 1 and got["quarantined"] == BAD and got["done"]
    # the retry did the work only when the killed run had not committed it
    assert got["already"] == (step == "after-commit")
    once_more = json.loads(run(db, url, path, "none").stdout.strip().splitlines()[-1])
    assert once_more["already"] and once_more["raw"] == GOOD


def test_without_tokens_a_retry_would_duplicate(tmp_path):
    """The control: the same crash and retry with the batch size changed between the runs
    (so the tokens differ) leaves duplicate rows that only FINAL hides, showing the test
    above can fail."""
    path = write_jsonl(tmp_path / "spool.jsonl", span_rows(GOOD, seed=22))
    db, url = tmp_path / "workflow.duckdb", f"chdb://{tmp_path / 'ch'}"
    killed = run(db, url, path, "before-commit")
    assert killed.returncode == -signal.SIGKILL
    script = IMPORTER.replace("batch_rows=300", "batch_rows=400")
    again = subprocess.run([sys.executable, "-c", script, str(db), url, str(path), "none"],
                           capture_output=True, text=True, timeout=300)
    got = json.loads(again.stdout.strip().splitlines()[-1])
    assert got["raw"] == 2 * GOOD and got["final"] == GOOD
