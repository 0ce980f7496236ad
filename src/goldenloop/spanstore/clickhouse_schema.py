"""The ClickHouse tables of the span store: spans, signals, feedback and the batch ledger, for
one server and for a cluster (``ON CLUSTER``, ``Replicated*``, ``Distributed``).

Choices (docs/clickhouse.md says why at length):

- ``ReplacingMergeTree`` for spans, signals and feedback, with ``ingested_at`` (spans,
  feedback) or ``computed_at`` (signals) as the version: a span sent again in another spool
  file collapses to one row when parts merge, and a rescored span keeps its newest signals.
- Exactly once per spool file comes from insert deduplication, not from merges: every
  batch is inserted with ``insert_deduplication_token = <file digest>:<batch number>`` and
  the tables keep the last ``DEDUP_WINDOW`` block tokens, so a file imported again after a
  crash adds nothing at once (no ``FINAL`` needed); the ledger table remembers committed
  files beyond that window.
- Monthly partitions on the span's start (retention drops whole months); the ordering key
  (app, day, kind, model version, span key) serves the Monitor's filters, which always
  name the time range and the request kind and usually the app. ``allow_nullable_key``
  because a span may name no app or version, and NULL must stay distinct from ''.
- ``LowCardinality`` for the dimensions (apps, versions, statuses: a few hundred values at
  most), ``Delta`` + ``ZSTD`` on timestamps, ``ZSTD(3)`` on texts and JSON, bloom filters
  on trace and session ids for the drill-downs that look spans up by them.
- TTL on the span's start when a retention is configured.
"""

from __future__ import annotations

from goldenloop.store.signals import MODERATION_COLUMNS, OFFLINE_COLUMNS
from goldenloop.store.span_columns import SPAN_FIELDS

DEDUP_WINDOW = 100_000  # block tokens kept per table: about a week of spool files at 10/min
SPAN_KEY_FLOOR = 1 << 62  # hashed span keys start here; keys copied from DuckDB stay below

# A span's key when the producer gave none (new spans): a hash of its identity, so the same
# span sent twice gets the same key and collapses, and keys copied from a DuckDB store (a
# sequence from 1) never meet a hashed one.
SPAN_KEY_DEFAULT = ("toInt64(bitOr(bitAnd(cityHash64(trace_id, span_id), 0x3FFFFFFFFFFFFFFF), "
                    "0x4000000000000000))")

_LOW_CARDINALITY = {"app", "environment", "release", "kind", "provider", "model",
                    "model_version", "prompt_name", "prompt_version", "status",
                    "finish_reason", "error_type", "source", "name"}
_TEXT = {"system_prompt", "messages", "last_user_message", "output", "retrieved_context",
         "tool_calls", "metadata", "error_message"}
_SIMPLE = {"INTEGER": "Int32", "DOUBLE": "Float64", "BOOLEAN": "Bool", "BIGINT": "Int64"}


def _span_column(name: str, duck_type: str) -> str:
    """The ClickHouse column for one span field of ``SPAN_FIELDS``."""
    if name in ("trace_id", "span_id"):
        return f"{name} String"  # never NULL: ingest derives ids for rows without them
    if name == "start_time":
        return f"{name} DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1))"
    if duck_type == "TIMESTAMP":
        return f"{name} Nullable(DateTime64(6, 'UTC')) CODEC(Delta, ZSTD(1))"
    if duck_type == "VARCHAR[]":
        return f"{name} Array(String)"
    if name in _LOW_CARDINALITY:
        return f"{name} LowCardinality(Nullable(String))"
    if name in _TEXT or duck_type == "JSON":
        return f"{name} Nullable(String) CODEC(ZSTD(3))"
    if duck_type == "VARCHAR":
        return f"{name} Nullable(String)"
    return f"{name} Nullable({_SIMPLE[duck_type]})"


def span_columns() -> list[str]:
    cols = [f"span_key Int64 DEFAULT {SPAN_KEY_DEFAULT}"]
    cols += [_span_column(f.name, f.sql_type) for f in SPAN_FIELDS]
    cols += ["cost_estimated Nullable(Bool)", "import_id Nullable(Int64)",
             "ingested_at DateTime64(6, 'UTC') DEFAULT now64(6) CODEC(Delta, ZSTD(1))",
             "INDEX idx_trace trace_id TYPE bloom_filter(0.001) GRANULARITY 1",
             "INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 1"]
    return cols


def signal_columns() -> list[str]:
    cols = ["span_key Int64"]
    for name, duck_type in OFFLINE_COLUMNS + MODERATION_COLUMNS:
        ch = "String" if duck_type == "JSON" else _SIMPLE[duck_type]
        cols.append(f"{name} Nullable({ch})")
    cols += ["scorer_versions Nullable(String)",
             "computed_at DateTime64(6, 'UTC') DEFAULT now64(6)"]
    return cols


FEEDBACK_COLUMNS = [
    "feedback_id Int64", "trace_id Nullable(String)", "span_id Nullable(String)",
    "span_key Nullable(Int64)", "session_id Nullable(String)", "user_id Nullable(String)",
    "kind LowCardinality(Nullable(String))", "value Nullable(Float64)",
    "comment Nullable(String) CODEC(ZSTD(3))", "created_at DateTime64(6, 'UTC')",
    "source LowCardinality(Nullable(String))",
    "ingested_at DateTime64(6, 'UTC') DEFAULT now64(6)",
]

LEDGER_COLUMNS = [
    "batch_id String", "kind LowCardinality(String)", "batches UInt32", "rows UInt64",
    "committed_at DateTime64(6, 'UTC') DEFAULT now64(6)",
]

# table: (columns, engine version column, PARTITION BY, ORDER BY, PRIMARY KEY, TTL column)
# Signals and the ledger are not partitioned by time: a replaced row must land in the same
# partition as the row it replaces, and a rescore changes ``computed_at``.
TABLES: dict[str, tuple] = {
    "spans": (span_columns, "ingested_at", "toYYYYMM(start_time)",
              "(app, toDate(start_time), kind, model_version, span_key)",
              "(app, toDate(start_time), kind, model_version)", "start_time"),
    "signals": (signal_columns, "computed_at", None, "span_key", None, "computed_at"),
    "feedback": (lambda: FEEDBACK_COLUMNS, "ingested_at", "toYYYYMM(created_at)",
                 "(toDate(created_at), feedback_id)", None, "created_at"),
    "span_ledger": (lambda: LEDGER_COLUMNS, "committed_at", None, "batch_id", None, None),
}
# How the cluster spreads rows over shards: spans, signals and feedback of one span on the
# same shard, so their joins on span_key stay local to each shard.
SHARDING = {"spans": "span_key", "signals": "span_key",
            "feedback": "ifNull(span_key, feedback_id)", "span_ledger": "cityHash64(batch_id)"}


def _settings(replicated: bool, nullable_key: bool) -> str:
    window = "replicated_deduplication_window" if replicated else \
        "non_replicated_deduplication_window"
    parts = [f"{window} = {DEDUP_WINDOW}"]
    if nullable_key:
        parts.append("allow_nullable_key = 1")
    return "SETTINGS " + ", ".join(parts)


def create_table(table: str, *, database: str | None = None, retention_days: int | None = None,
                 cluster: str | None = None, name: str | None = None) -> str:
    """CREATE TABLE for one table: on one server, or (``cluster``) the replicated local
    table of every shard, named ``name`` (default ``<table>_local``)."""
    columns, version, partition, order, primary, ttl_col = TABLES[table]
    target = name or (f"{table}_local" if cluster else table)
    full = f"{database}.{target}" if database else target
    on_cluster = f" ON CLUSTER '{cluster}'" if cluster else ""
    if cluster:
        engine = (f"ReplicatedReplacingMergeTree('/clickhouse/tables/{{shard}}/{{database}}/"
                  f"{target}', '{{replica}}', {version})")
    else:
        engine = f"ReplacingMergeTree({version})"
    lines = [f"CREATE TABLE IF NOT EXISTS {full}{on_cluster} (",
             ",\n".join(f"    {c}" for c in columns()), f") ENGINE = {engine}"]
    if partition:
        lines.append(f"PARTITION BY {partition}")
    if primary:
        lines.append(f"PRIMARY KEY {primary}")
    lines.append(f"ORDER BY {order}")
    if retention_days and ttl_col:
        lines.append(f"TTL toDateTime({ttl_col}) + INTERVAL {int(retention_days)} DAY DELETE")
    lines.append(_settings(bool(cluster), table == "spans"))
    return "\n".join(lines)


def single_server_ddl(database: str | None = None, retention_days: int | None = None
                      ) -> list[str]:
    """Every statement that lays out the span store on one server (or chdb)."""
    return [create_table(t, database=database, retention_days=retention_days) for t in TABLES]


def cluster_ddl(cluster: str, database: str, retention_days: int | None = None) -> list[str]:
    """The same tables on a cluster: a replicated local table on every shard, and a
    Distributed table of the plain name over them, which readers and writers use."""
    out = [f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER '{cluster}'"]
    for table in TABLES:
        out.append(create_table(table, database=database, retention_days=retention_days,
                                cluster=cluster))
        out.append(
            f"CREATE TABLE IF NOT EXISTS {database}.{table} ON CLUSTER '{cluster}' "
            f"AS {database}.{table}_local\n"
            f"ENGINE = Distributed('{cluster}', {database}, {table}_local, {SHARDING[table]})")
    return out
