"""The server's writers on a ClickHouse span store (chdb behind clickhouse-connect): the
inbox imports span and feedback spool files into it exactly once, with the import log in the
database file; an import job and scoring write there too; the span store's configuration
string comes from the option, the environment or spans.yaml, in that order."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from spanstore_support import chdb_url, span_rows, write_jsonl

from goldenloop.config import resolve_paths
from goldenloop.errors import SpanStoreError
from goldenloop.scorers.run import score_job
from goldenloop.spanstore import CONFIG_FILE, ENV_URL, configured_url, open_span_store
from goldenloop.spool import feedback_table, write_spool
from goldenloop.workers.handlers import handlers_for
from goldenloop.workers.inbox import pending_files, process_file


@pytest.fixture
def ch(store, tmp_path_factory):
    return open_span_store(chdb_url(tmp_path_factory), store)


def run_inbox(store, paths, spans) -> list[str]:
    return [process_file(store, paths, p, spans) for p in pending_files(paths.inbox)]


def llm_requests(rows: list[dict]) -> int:
    return sum(1 for r in rows if r["kind"] == "llm")


@pytest.mark.slow
def test_inbox_spans_and_feedback_land_in_clickhouse_once(store, ch, tmp_path):
    paths = resolve_paths(store.path).ensure()
    rows = span_rows(60, seed=21)
    write_jsonl(paths.inbox / "a.jsonl", rows, bad=2)
    vote = {"trace_id": rows[0]["trace_id"], "span_id": rows[0]["span_id"], "kind": "thumbs",
            "value": 1.0, "created_at": datetime(2026, 4, 1, 12), "source": "sdk"}
    orphan = {**vote, "span_id": "not-yet", "value": 0.0}  # its span has not arrived
    write_spool(paths.inbox, feedback_table([vote, orphan]), prefix="fb", feedback=True)
    assert run_inbox(store, paths, ch) == ["done", "done"]
    assert ch.count("spans") == 60 and ch.count("feedback") == 2
    assert store.scalar("SELECT count(*) FROM spans") == 0  # not in the database file
    assert store.scalar("SELECT count(*) FROM feedback") == 0
    assert store.scalar("SELECT count(*) FROM quarantine") == 2  # workflow state stays
    assert store.scalar("SELECT count(*) FROM import_log WHERE status = 'committed'") == 2
    key = ch.arrow("SELECT span_key FROM spans FINAL WHERE span_id = %(s)s",
                   {"s": rows[0]["span_id"]}).column(0)[0].as_py()
    linked = ch.arrow("SELECT span_key FROM feedback FINAL WHERE value = 1").column(0)
    assert linked.to_pylist() == [key]
    # The same files again (a producer's retry; feedback resent in a new file): nothing added
    for p in sorted((paths.inbox_done).iterdir()):
        (paths.inbox / f"again-{p.name}").write_bytes(p.read_bytes())
    write_spool(paths.inbox, feedback_table([vote]), prefix="fb2", feedback=True)
    assert run_inbox(store, paths, ch) == ["skipped", "skipped", "done"]
    assert ch.count("spans") == 60 and ch.count("feedback") == 2


@pytest.mark.slow
def test_import_job_and_scoring_write_to_clickhouse(store, ch, tmp_path):
    rows = span_rows(50, seed=22)
    path = write_jsonl(tmp_path / "s.jsonl", rows)
    notes = []
    out = handlers_for(ch)["import"](store, {"files": [str(path)]},
                                     lambda f, m: notes.append(m))
    assert out["imported"] == 50 and ch.count("spans") == 50
    assert store.scalar("SELECT count(*) FROM spans") == 0
    first = score_job(store, {}, lambda f, m: None, ch)
    assert first["spans"] == first["inserted"] == llm_requests(rows)
    assert ch.count("signals") == llm_requests(rows)
    assert store.scalar("SELECT count(*) FROM signals") == 0
    assert score_job(store, {}, lambda f, m: None, ch)["spans"] == 0  # nothing twice
    again = score_job(store, {"rescore": True}, lambda f, m: None, ch)
    assert again["updated"] == llm_requests(rows) and ch.count("signals") == llm_requests(rows)
    refusals = ch.arrow("SELECT countIf(output_chars IS NULL) AS n FROM signals FINAL")
    assert refusals.column(0)[0].as_py() == 0  # every scored span has its output length


def test_configured_url_order(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_URL, raising=False)
    assert configured_url(None, tmp_path) == "duckdb"
    (tmp_path / CONFIG_FILE).write_text("url: chdb:///var/lib/ch\n")
    assert configured_url(None, tmp_path) == "chdb:///var/lib/ch"
    monkeypatch.setenv(ENV_URL, "chdb:///from/env")
    assert configured_url(None, tmp_path) == "chdb:///from/env"
    assert configured_url("duckdb", tmp_path) == "duckdb"


def test_bad_configuration_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_URL, raising=False)
    conf = tmp_path / CONFIG_FILE
    conf.write_text("url: clickhouse://me@db:8123/x\npassword: hunter2\n")
    with pytest.raises(SpanStoreError, match=r"spans\.yaml.*environment variable"):
        configured_url(None, tmp_path)
    conf.write_text("url: clickhouse://me:hunter2@db:8123/x\n")
    with pytest.raises(SpanStoreError, match=r"spans\.yaml: the span store URL holds a password"):
        configured_url(None, tmp_path)
    with pytest.raises(SpanStoreError, match=r"--spans: .*unknown span store"):
        configured_url("mysql://db", tmp_path)


@pytest.mark.slow
def test_forget_erases_a_users_spans_from_clickhouse(store, ch, tmp_path):
    from goldenloop.ops.forget import forget
    from goldenloop.spanstore.ingest import import_into

    rows = span_rows(40, seed=23)  # traces of three spans: t0 holds s0, s1, s2
    for r in rows:
        r["user_id"] = "u-erase" if r["span_id"] in ("s0", "s4") else "u-keep"
    rows[1]["user_id"] = None  # a child span without the user: goes with its trace
    import_into(store, ch, write_jsonl(tmp_path / "s.jsonl", rows))
    score_job(store, {}, lambda f, m: None, ch)
    vote = {"trace_id": rows[0]["trace_id"], "span_id": "s0", "kind": "thumbs", "value": 1.0,
            "created_at": datetime(2026, 4, 1), "source": "sdk", "user_id": "u-erase"}
    paths = resolve_paths(store.path).ensure()
    write_spool(paths.inbox, feedback_table([vote]), prefix="fb", feedback=True)
    run_inbox(store, paths, ch)
    gone = {r["span_id"] for r in rows if r["trace_id"] in (rows[0]["trace_id"],
                                                             rows[4]["trace_id"])}
    report = forget(store, "user_id", "u-erase", spans=ch, rewrite=False)
    assert report.removed["spans (ClickHouse)"] == len(gone) == 6
    assert report.removed["feedback (ClickHouse)"] == 1
    left = ch.arrow("SELECT span_id FROM spans").column(0).to_pylist()  # no FINAL: every copy
    assert sorted(left) == sorted(r["span_id"] for r in rows if r["span_id"] not in gone)
    assert ch.arrow("SELECT count() FROM feedback").column(0)[0].as_py() == 0
    scored = {r["span_id"] for r in rows if r["kind"] == "llm" and r["span_id"] not in gone}
    assert ch.count("signals") == len(scored)


@pytest.mark.slow
def test_home_summary_same_on_both(store, ch, tmp_path):
    """Home's span totals, apps and model versions: the same from chdb as from DuckDB."""
    import pandas as pd

    from goldenloop.ingest import import_file
    from goldenloop.overview import store_summary
    from goldenloop.schema import open_store
    from goldenloop.spanstore.ingest import import_into

    rows = span_rows(300, seed=24)
    for i, r in enumerate(rows):
        r["session_id"] = f"c{i % 7}" if i % 3 else None
    path = write_jsonl(tmp_path / "s.jsonl", rows, bad=1)
    import_into(store, ch, path)
    with open_store(tmp_path / "duck.duckdb") as duck:
        import_file(duck, path)
        want = store_summary(duck)
    got = store_summary(store, ch)
    assert got.totals.spans == sum(1 for r in rows if r["source"] != "judge")
    # ingested at different moments; both naive UTC, within the test's run
    assert abs((got.totals.last_ingested - want.totals.last_ingested).total_seconds()) < 120
    assert replace(got.totals, last_ingested=None) == replace(want.totals, last_ingested=None)
    for part in ("apps", "model_versions"):
        a, b = getattr(got, part), getattr(want, part)
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                      check_dtype=False)


@pytest.mark.slow
def test_demo_job_moves_its_spans_to_clickhouse(store, ch):
    out = handlers_for(ch)["demo"](store, {"spans": 400}, lambda f, m: None)
    assert ch.count("spans") == out["spans"] > 0
    for table in ("spans", "signals", "feedback"):
        assert store.scalar(f"SELECT count(*) FROM {table}") == 0
    graded = [k for (k,) in store.rows("SELECT DISTINCT span_key FROM grades "
                                       "WHERE span_key IS NOT NULL")]
    assert graded  # the demo's grades still point at spans, now in ClickHouse
    assert ch.spans_by_key(graded, ["span_key"]).num_rows == len(graded)


def test_an_unreachable_clickhouse_is_a_named_error(store):
    pytest.importorskip("clickhouse_connect")
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SpanStoreError, match=rf"cannot reach clickhouse://default@127\.0\.0\.1:{port}"):
        open_span_store(f"clickhouse://default@127.0.0.1:{port}/default", store)


@pytest.mark.slow
def test_serve_with_a_bad_span_store_stops_before_any_work(tmp_path):
    from typer.testing import CliRunner

    from goldenloop.cli import app

    db = tmp_path / "new" / "goldenloop.duckdb"
    out = CliRunner().invoke(app, ["serve", "--db", str(db), "--spans", "mysql://db/x"])
    assert isinstance(out.exception, SpanStoreError), out.output
    assert str(out.exception).startswith("--spans: mysql://db/x: unknown span store")
    assert not db.parent.exists()  # no folder, no database, no demo


@pytest.mark.slow
def test_status_counts_the_spans_in_clickhouse(tmp_path, tmp_path_factory, monkeypatch):
    from typer.testing import CliRunner

    from goldenloop.cli import app
    from goldenloop.schema import open_store
    from goldenloop.spanstore.ingest import import_into

    url = chdb_url(tmp_path_factory)
    db = tmp_path / "goldenloop.duckdb"
    with open_store(db) as workflow:
        import_into(workflow, open_span_store(url, workflow),
                    write_jsonl(tmp_path / "s.jsonl", span_rows(25, seed=26)))
    monkeypatch.setenv(ENV_URL, url)
    out = CliRunner().invoke(app, ["status", "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert "spans (all): 0" in out.output  # the database file holds none
    assert f"spans in {url.split('?')[0]}" in out.output and ": 25\n" in out.output
