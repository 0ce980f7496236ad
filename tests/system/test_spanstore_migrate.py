"""`goldenloop migrate-spans --to chdb:///...` copies a DuckDB store's spans, signals and
feedback into ClickHouse, and after a SIGKILL part-way a second run finishes the copy
without duplicates: same keys, same rows, same Monitor figures as the source."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import pytest
from spanstore_support import span_rows, write_jsonl

from goldenloop.ingest import import_file
from goldenloop.schema import open_store

pytest.importorskip("chdb", reason="the clickhouse extra is not installed "
                    "(pip install 'goldenloop[clickhouse]')")

KILLED_MIGRATION = textwrap.dedent("""
    import os, signal, sys
    from goldenloop.spanstore import open_span_store
    from goldenloop.spanstore.migrate import migrate_spans
    from goldenloop.store.store import Store

    source = Store(sys.argv[1], read_only=True)
    target = open_span_store(sys.argv[2], source)
    real, sent = target.client.insert_arrow, []
    def insert_then_die(*args, **kwargs):
        if len(sent) == 3:   # a fourth chunk sent, killed before the ledger says so
            real(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        sent.append(1)
        return real(*args, **kwargs)
    target.client.insert_arrow = insert_then_die
    migrate_spans(source, target, chunk_rows=500)
""")

VERIFY = textwrap.dedent("""
    import json, sys
    from datetime import datetime
    from goldenloop.metrics.filters import SpanFilter
    from goldenloop.spanstore import open_span_store
    from goldenloop.spanstore import monitor
    from goldenloop.store.store import Store

    source = Store(sys.argv[1], read_only=True)
    duck, ch = open_span_store("duckdb", source), open_span_store(sys.argv[2], source)
    out = {}
    for table, key in (("spans", "span_key"), ("signals", "span_key"),
                       ("feedback", "feedback_id")):
        q = f"SELECT {key} AS k FROM {table} ORDER BY k"
        out[table] = [duck.query({"duckdb": q})["k"].tolist() ==
                      ch.query({"clickhouse": q})["k"].tolist(),
                      duck.count(table), ch.count(table),
                      int(ch.query({"clickhouse": f"SELECT count() AS n FROM {table}"})["n"][0])]
    f = SpanFilter(start=datetime(2026, 3, 30), end=datetime(2026, 4, 3))
    a = monitor.request_stats(duck, f, "model_version", 3600 * 10**6)
    b = monitor.request_stats(ch, f, "model_version", 3600 * 10**6)
    cols = ["requests", "errors", "latency_p50", "latency_p99", "cost_usd"]
    out["monitor_rows"] = len(a)
    out["monitor_same"] = bool(len(a) == len(b) and
                               (a[cols].astype(float).fillna(-1).round(9).values ==
                                b[cols].astype(float).fillna(-1).round(9).values).all())
    print(json.dumps(out), flush=True)
""")


def _source(tmp_path):
    db = tmp_path / "source.duckdb"
    with open_store(db) as store:
        import_file(store, write_jsonl(tmp_path / "spans.jsonl", span_rows(2600, seed=31)))
        store.write(lambda cur: cur.execute(
            """INSERT INTO signals (span_key, user_sentiment, output_chars, scorer_versions,
                                    computed_at)
               SELECT span_key, (span_key % 7) / 7.0, span_key % 300, '{"sentiment": "1"}',
                      TIMESTAMP '2026-04-05 00:00:00' FROM spans WHERE kind = 'llm'"""))
        store.write(lambda cur: cur.execute(
            """INSERT INTO feedback (feedback_id, trace_id, span_id, span_key, kind, value,
                                     comment, created_at, source, ingested_at)
               SELECT nextval('feedback_seq'), trace_id, span_id, span_key, 'thumbs',
                      span_key % 2, 'ok', start_time, 'sdk', start_time
               FROM spans WHERE span_key % 5 = 0"""))
    return db


def test_migrate_after_a_kill_finishes_without_duplicates(tmp_path):
    db, url = _source(tmp_path), f"chdb://{tmp_path / 'ch'}"
    killed = subprocess.run([sys.executable, "-c", KILLED_MIGRATION, str(db), url],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = subprocess.run(["goldenloop", "migrate-spans", "--db", str(db), "--to", url,
                              "--chunk-rows", "500"], capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # three chunks were done before the kill, the fourth sent but not marked: the resumed
    # run sends the last three again, and ClickHouse drops the fourth's repeat by its token
    assert "spans: 2,600 rows, 1,100 copied now in 3 of 6 chunks" in resumed.stdout
    check = subprocess.run([sys.executable, "-c", VERIFY, str(db), url],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr[-2000:]
    got = json.loads(check.stdout.strip().splitlines()[-1])
    for table in ("spans", "signals", "feedback"):
        same_keys, source_n, target_final, target_raw = got[table]
        assert same_keys and source_n == target_final == target_raw > 0, (table, got[table])
    assert got["monitor_rows"] > 20 and got["monitor_same"]


def test_import_spans_command_into_chdb(tmp_path):
    """`goldenloop import-spans FILE --to chdb:///...`: the spans to ClickHouse, the log and
    quarantine to the database file; the same file again adds nothing."""
    path = write_jsonl(tmp_path / "spans.jsonl", span_rows(800, seed=41), bad=3)
    db, url = tmp_path / "workflow.duckdb", f"chdb://{tmp_path / 'ch'}"
    cmd = ["goldenloop", "import-spans", str(path), "--to", url, "--db", str(db)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "803 rows read, 800 imported, 0 duplicates, 0 conflicts, 3 quarantined" in first.stdout
    assert "row 2, start_time: not a time" in first.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert "already imported, nothing added" in again.stdout
    with open_store(db) as store:
        assert store.scalar("SELECT count(*) FROM quarantine") == 3
        assert store.scalar("SELECT count(*) FROM spans") == 0  # the spans went to ClickHouse
    bad = subprocess.run(["goldenloop", "import-spans", str(path), "--to", "duckdb", "--db",
                          str(db)], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "use `goldenloop import`" in bad.stderr
    assert "Traceback" not in bad.stderr
