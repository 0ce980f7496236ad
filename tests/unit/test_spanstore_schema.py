"""The ClickHouse schema of the span store: every statement (one server and cluster) parses
in ClickHouse's own parser, the tables come out with the engines, partitions and keys
chosen, a batch token deduplicates, and the configuration string refuses what it must."""

from __future__ import annotations

import pyarrow as pa
import pytest
from spanstore_support import chdb_url

from goldenloop.errors import SpanStoreError
from goldenloop.spanstore import clickhouse_schema as schema
from goldenloop.spanstore import open_span_store
from goldenloop.spanstore.config import parse


@pytest.fixture
def ch(store, tmp_path_factory):
    return open_span_store(chdb_url(tmp_path_factory), store)


def _parse(ch, statement: str) -> str:
    """ClickHouse's parser on one statement: the statement formatted back, or an error."""
    return ch.client.query("SELECT formatQuery(%(q)s)", parameters={"q": statement}
                           ).result_rows[0][0]


def test_cluster_ddl_parses_and_keeps_its_cluster_parts(ch):
    ddl = schema.cluster_ddl("gl_cluster", "goldenloop", retention_days=400)
    assert len(ddl) == 1 + 2 * len(schema.TABLES)
    formatted = [_parse(ch, s) for s in ddl]
    local = [f for f in formatted if "_local ON CLUSTER" in f.split("\n")[0]]
    assert len(local) == len(schema.TABLES)
    assert all("ON CLUSTER gl_cluster" in f for f in formatted)
    assert all("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/" in f
               for f in local)
    distributed = [f for f in formatted if "Distributed(" in f]
    assert len(distributed) == len(schema.TABLES)
    assert "Distributed('gl_cluster', goldenloop, spans_local, span_key)" in "".join(distributed)
    spans_local = next(f for f in local if "spans_local" in f)
    assert "TTL toDateTime(start_time) + toIntervalDay(400)" in spans_local
    assert "replicated_deduplication_window = 100000" in spans_local


def test_a_broken_statement_is_refused_by_the_parser(ch):
    with pytest.raises(Exception, match="Syntax error"):
        _parse(ch, schema.cluster_ddl("c", "db")[1].replace("ORDER BY", "ORDER"))


def test_single_server_tables_as_chosen(ch):
    rows = ch.client.query(
        "SELECT name, engine, partition_key, sorting_key FROM system.tables "
        "WHERE database = currentDatabase() ORDER BY name").result_rows
    got = {name: (engine, part, key) for name, engine, part, key in rows}
    assert got["spans"] == ("ReplacingMergeTree", "toYYYYMM(start_time)",
                            "app, toDate(start_time), kind, model_version, span_key")
    assert got["signals"][0] == "ReplacingMergeTree" and got["signals"][2] == "span_key"
    assert got["feedback"][1] == "toYYYYMM(created_at)"
    types = dict(ch.client.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
        "AND table = 'spans'").result_rows)
    assert types["model_version"] == "LowCardinality(Nullable(String))"
    assert types["tags"] == "Array(String)"
    codecs = dict(ch.client.query(
        "SELECT name, compression_codec FROM system.columns WHERE database = currentDatabase() "
        "AND table = 'spans' AND compression_codec != ''").result_rows)
    assert codecs["output"] == "CODEC(ZSTD(3))"
    assert codecs["start_time"] == "CODEC(Delta(8), ZSTD(1))"


def test_span_keys_are_hashed_above_copied_ones_and_tokens_deduplicate(ch):
    t = pa.table({"trace_id": ["a", "a"], "span_id": ["1", "2"],
                  "start_time": pa.array([0, 1], pa.timestamp("us"))})
    ch.insert_batches("spans", [t], token="f:1")
    ch.insert_batches("spans", [t], token="f:1")  # a retry after a crash: dropped at once
    keys = ch.query({"clickhouse": "SELECT span_key FROM spans"})["span_key"].tolist()
    assert len(keys) == 2 and all(k >= schema.SPAN_KEY_FLOOR for k in keys)
    ch.insert_batches("spans", [t], token="f:2")  # another file with the same spans
    raw = ch.query({"clickhouse": "SELECT count() AS n FROM spans"})["n"][0]
    assert raw == 4 and ch.count("spans") == 2  # merged away at read by FINAL


def test_config_strings(monkeypatch):
    assert parse(None).backend == "duckdb"
    monkeypatch.setenv("GOLDENLOOP_SPANS", "clickhouse://reader@ch.internal:8443/obs?secure=1")
    cfg = parse(None)
    assert (cfg.backend, cfg.host, cfg.port, cfg.user, cfg.database, cfg.secure) == (
        "clickhouse", "ch.internal", 8443, "reader", "obs", True)
    assert cfg.password_env == "GOLDENLOOP_CLICKHOUSE_PASSWORD"
    assert parse("chdb:///var/ch?database=t1&retention_days=90").retention_days == 90
    assert parse("clickhouse://u@h/db?password_env=CH_PW").password_env == "CH_PW"


@pytest.mark.parametrize("url, message", [
    ("clickhouse://u:secret@h:8123/db", "holds a password"),
    ("postgres://h/db", "unknown span store"),
    ("clickhouse://u@h/db;drop", "plain name"),
    ("clickhouse://u@h/db?password_env=A-B", "password_env"),
    ("chdb://", "give chdb a folder"),
])
def test_bad_config_strings_say_why(url, message):
    with pytest.raises(SpanStoreError, match=message) as err:
        parse(url)
    assert "secret" not in str(err.value)


@pytest.mark.parametrize("args", [[], ["--cluster", "gl", "--retention-days", "90"]])
def test_spans_ddl_command_prints_statements_clickhouse_parses(ch, args):
    from typer.testing import CliRunner

    from goldenloop.cli import app

    out = CliRunner().invoke(app, ["spans-ddl", *args])
    assert out.exit_code == 0, out.output
    statements = [s for s in out.output.strip().rstrip(";").split(";\n\n") if s.strip()]
    assert len(statements) == (1 + 2 * len(schema.TABLES) if args else 1 + len(schema.TABLES))
    for statement in statements:
        assert _parse(ch, statement).startswith("CREATE")


def test_spans_ddl_refuses_a_name_that_is_not_plain():
    from typer.testing import CliRunner

    from goldenloop.cli import app

    out = CliRunner().invoke(app, ["spans-ddl", "--database", "x; DROP TABLE y"])
    assert out.exit_code != 0
    assert isinstance(out.exception, SpanStoreError)


def test_unreachable_server_and_second_chdb_folder_are_named_errors(ch, tmp_path, monkeypatch):
    import socket

    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("GOLDENLOOP_CLICKHOUSE_PASSWORD", "s3cret-value")
    with pytest.raises(SpanStoreError, match=f"cannot reach clickhouse://default@127.0.0.1:{port}"
                       ) as err:
        open_span_store(f"clickhouse://default@127.0.0.1:{port}/default", None)
    assert "s3cret-value" not in str(err.value)
    # chdb runs one folder per process: another folder is refused with the reason
    with pytest.raises(SpanStoreError, match="cannot open chdb:///"):
        open_span_store(f"chdb://{tmp_path / 'other'}", None)
