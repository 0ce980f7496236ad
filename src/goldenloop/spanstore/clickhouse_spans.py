"""The span store on ClickHouse, through the official client (``clickhouse-connect``): a
server or cluster (``clickhouse://``) or embedded ClickHouse (``chdb:///folder``), which gives
the same client interface.

Exactly once per batch id: each Arrow batch goes in with an insert deduplication token
(``<batch id>:<number>``) that the tables remember (``clickhouse_schema.DEDUP_WINDOW``), and
a ledger row marks the whole batch committed. A crash part-way leaves some batches in; the
retry sends them all again and ClickHouse drops the ones it already has.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from goldenloop.errors import SpanStoreError
from goldenloop.spanstore import clickhouse_schema as schema
from goldenloop.spanstore.base import CLICKHOUSE, SPAN_TABLES, DialectSQL, checked_columns
from goldenloop.spanstore.config import SpanStoreConfig, password

if TYPE_CHECKING:  # pandas costs every command's start-up ~0.4 s; only readers need it
    import pandas as pd

# chdb allows one database folder per process and one process per folder, and a second
# client on the same folder in one process must share the first one's engine: clients are
# kept per folder for the life of the process (the only process-wide state here, because
# the engine itself is process-wide).
_CHDB_CLIENTS: dict[tuple[str, str], object] = {}
_CHDB_STATEMENT_LOCKS: dict[str, threading.Lock] = {}  # one engine: one statement at a time
_CHDB_LOCK = threading.Lock()


def connect(cfg: SpanStoreConfig):
    """A clickhouse-connect client for the configuration (chdb or a server)."""
    try:
        import clickhouse_connect
    except ImportError as exc:
        raise SpanStoreError("ClickHouse needs the clickhouse extra: "
                             "pip install 'goldenloop[clickhouse]'") from exc
    if cfg.backend == "chdb":
        with _CHDB_LOCK:
            client = _CHDB_CLIENTS.get((cfg.path, cfg.database))
            if client is None:
                client = _open_chdb(clickhouse_connect, cfg)
                _CHDB_CLIENTS[(cfg.path, cfg.database)] = client
                _CHDB_STATEMENT_LOCKS.setdefault(cfg.path, threading.Lock())
            return client
    try:
        return clickhouse_connect.get_client(
            host=cfg.host, port=cfg.port or 0, username=cfg.user, password=password(cfg),
            database=cfg.database, secure=cfg.secure)
    except Exception as exc:  # refused, unknown host, bad password: the server's message
        raise SpanStoreError(f"cannot reach {cfg.describe()}: "
                             f"{str(exc).splitlines()[0][:300]}") from exc


def _open_chdb(clickhouse_connect, cfg: SpanStoreConfig):
    try:
        if cfg.database != "default":
            base = clickhouse_connect.get_client(dsn=f"chdb://{cfg.path}")
            base.command(f"CREATE DATABASE IF NOT EXISTS {cfg.database}")
        return clickhouse_connect.get_client(dsn=f"chdb://{cfg.path}", database=cfg.database)
    except Exception as exc:  # chdb missing, or the folder held by another process or path
        raise SpanStoreError(f"cannot open {cfg.describe()}: "
                             f"{str(exc).splitlines()[0][:300]}") from exc


class ClickHouseSpanStore:
    """Spans, signals and feedback in ClickHouse."""

    dialect = CLICKHOUSE

    def __init__(self, cfg: SpanStoreConfig, *, create: bool = True):
        self.cfg = cfg
        self.client = connect(cfg)
        # One statement at a time per client; every client of a chdb folder shares one engine
        self._lock = (_CHDB_STATEMENT_LOCKS[cfg.path] if cfg.backend == "chdb"
                      else threading.Lock())
        if create:
            self.create_tables()

    def describe(self) -> str:
        return self.cfg.describe()

    # -- schema ---------------------------------------------------------------------------
    def create_tables(self) -> None:
        if self.cfg.cluster:
            ddl = schema.cluster_ddl(self.cfg.cluster, self.cfg.database, self.cfg.retention_days)
        else:
            ddl = schema.single_server_ddl(retention_days=self.cfg.retention_days)
        with self._lock:
            for statement in ddl:
                self.client.command(statement)

    # -- writes ---------------------------------------------------------------------------
    def done(self, batch_id: str) -> bool:
        with self._lock:
            n = self.client.query("SELECT count() FROM span_ledger WHERE batch_id = %(b)s",
                                  parameters={"b": batch_id}).result_rows[0][0]
        return n > 0

    def insert_rows(self, table: str, batches: Iterable[pa.Table | pa.RecordBatch], *,
                    batch_id: str) -> int:
        if self.done(batch_id):
            return 0
        rows = self.insert_batches(table, batches, token=batch_id)
        self.mark_done(batch_id, table, rows)
        return rows

    def insert_batches(self, table: str, batches: Iterable[pa.Table | pa.RecordBatch], *,
                       token: str) -> int:
        """Insert each batch with the deduplication token ``<token>:<n>``: sending the same
        batches again (a retry after a crash) adds nothing. The ledger is not touched."""
        if table not in SPAN_TABLES:
            raise SpanStoreError(f"{table}: not a span store table")
        settings = {}
        if self.cfg.cluster:  # the token must reach the replicated shards with the rows
            settings["distributed_foreground_insert"] = 1
        rows = parts = 0
        for batch in batches:
            data = plain(batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch]))
            if not data.num_rows:
                continue
            with self._lock:
                self.client.insert_arrow(table, data, settings={
                    **settings, "insert_deduplication_token": f"{token}:{parts}"})
            rows += data.num_rows
            parts += 1
        return rows

    def mark_done(self, batch_id: str, table: str, rows: int) -> None:
        with self._lock:
            self.client.insert("span_ledger", [[batch_id, table, 0, rows]],
                               column_names=["batch_id", "kind", "batches", "rows"])

    # -- reads ----------------------------------------------------------------------------
    def query(self, sql: DialectSQL, params: dict | None = None) -> pd.DataFrame:
        with self._lock:
            return self.client.query_df(sql[CLICKHOUSE], parameters=params or {})

    def arrow(self, sql: str, params: dict | None = None) -> pa.Table:
        with self._lock:
            return self.client.query_arrow(sql, parameters=params or {})

    def command(self, sql: str, params: dict | None = None, settings: dict | None = None) -> None:
        """A statement without rows (a mutation), one at a time like every other."""
        with self._lock:
            self.client.command(sql, parameters=params or {}, settings=settings or {})

    def spans_by_key(self, keys: Sequence[int], columns: Sequence[str] | None = None
                     ) -> pa.Table:
        cols = ", ".join(checked_columns(columns)) if columns else "*"
        # FINAL: a span sent twice in different files may not be merged yet
        return self.arrow(f"SELECT {cols} FROM spans FINAL WHERE span_key IN %(keys)s "
                          "ORDER BY span_key", {"keys": [int(k) for k in keys] or [-1]})

    def count(self, table: str) -> int:
        if table not in SPAN_TABLES:
            raise SpanStoreError(f"{table}: not a span store table")
        with self._lock:
            return int(self.client.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0])

    def close(self) -> None:
        if self.cfg.backend != "chdb":  # a chdb engine lives as long as its process
            self.client.close()


def plain(table: pa.Table) -> pa.Table:
    """The table with types ClickHouse's Arrow reader takes: string views and JSON
    extension columns (what DuckDB hands out) as plain strings, lists of them likewise."""
    fields = []
    for f in table.schema:
        fields.append(pa.field(f.name, _plain_type(f.type), f.nullable))
    target = pa.schema(fields)
    return table if target.equals(table.schema) else table.cast(target)


def _plain_type(t: pa.DataType) -> pa.DataType:
    if isinstance(t, pa.ExtensionType):
        t = t.storage_type
    if t in (pa.string_view(), pa.large_string()):
        return pa.string()
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_plain_type(t.value_type))
    return t
