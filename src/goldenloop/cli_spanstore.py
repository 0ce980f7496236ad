"""Commands of the span store: `goldenloop migrate-spans` (copy a DuckDB store's spans,
signals and feedback into ClickHouse), `goldenloop import-spans` (import span files into
ClickHouse) and `goldenloop spans-ddl` (print the ClickHouse tables, for one server or a
cluster, for a database administrator to review and run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ToOption = Annotated[str, typer.Option("--to", help="Target span store: "
                                       "clickhouse://user@host:port/database or chdb:///folder; "
                                       "the password comes from the environment variable named "
                                       "by ?password_env=NAME.")]


def migrate_spans(
    to: ToOption,
    db: Annotated[str | None, typer.Option("--db", help="Database file (default: "
                                           "$GOLDENLOOP_DB or data/goldenloop.duckdb).")] = None,
    snapshot: Annotated[bool, typer.Option(help="Read the published snapshot instead of the "
                                           "live file (while `goldenloop serve` runs).")] = False,
    chunk_rows: Annotated[int, typer.Option(help="Rows per insert.")] = 500_000,
) -> None:
    """Copy spans, signals and feedback into ClickHouse. Safe to stop and run again: it
    goes on where it stopped and copies nothing twice."""
    from goldenloop.cli_support import progress_bar
    from goldenloop.config import resolve_paths
    from goldenloop.errors import GoldenloopError, SpanStoreError
    from goldenloop.spanstore import DUCKDB, open_span_store, parse
    from goldenloop.spanstore.migrate import migrate_spans as run
    from goldenloop.store.store import Store

    if parse(to).backend == DUCKDB:
        raise SpanStoreError("--to names where spans go: a clickhouse:// or chdb:/// URL")
    if chunk_rows < 1:
        raise SpanStoreError("--chunk-rows must be at least 1")
    paths = resolve_paths(db)
    source_path = paths.snapshot if snapshot else paths.db
    if not source_path.exists():
        raise GoldenloopError(f"no database at {source_path}")
    with Store(source_path, read_only=True) as source:
        target = open_span_store(to, source)
        try:
            with progress_bar("migrate-spans") as progress:
                report = run(source, target, chunk_rows=chunk_rows, progress=progress)
        finally:
            target.close()
    typer.echo(f"{parse(to).describe()}: {report.summary()}")


def import_spans(
    files: Annotated[list[Path], typer.Argument(help="Span files (CSV, TSV, JSONL, Parquet, "
                                                "OpenAI logs, OTLP JSON).")],
    to: ToOption,
    db: Annotated[str | None, typer.Option("--db", help="Database file for the import log and "
                                           "the quarantine (default: $GOLDENLOOP_DB or "
                                           "data/goldenloop.duckdb).")] = None,
    format: Annotated[str | None, typer.Option(help="Force a format (csv, tsv, jsonl, parquet, "
                                               "openai, otlp).")] = None,
    redact: Annotated[bool, typer.Option(help="Mask personal data and pseudonymise user and "
                                         "session ids before anything is stored.")] = False,
) -> None:
    """Import span files into ClickHouse with the same validation, quarantine and
    exactly-once guarantee as `goldenloop import`; the import log and the quarantine stay
    in the database file."""
    from goldenloop.config import resolve_paths
    from goldenloop.errors import SpanStoreError
    from goldenloop.ingest import ImportOptions
    from goldenloop.schema import open_store
    from goldenloop.spanstore import DUCKDB, open_span_store, parse
    from goldenloop.spanstore.ingest import import_file_to_clickhouse

    if parse(to).backend == DUCKDB:
        raise SpanStoreError("--to names a ClickHouse span store; for the database file "
                             "itself use `goldenloop import`")
    paths = resolve_paths(db)
    paths.ensure()
    with open_store(paths.db) as workflow:
        spans = open_span_store(to, workflow)
        for f in files:
            r = import_file_to_clickhouse(workflow, spans, f, ImportOptions(
                format=format, redact=redact, origin="cli"))
            if r.already_imported:
                typer.echo(f"{f}: already imported, nothing added")
                continue
            typer.echo(f"{f}: {r.rows_read:,} rows read, {r.imported:,} imported, "
                       f"{r.duplicates:,} duplicates, {r.conflicts:,} conflicts, "
                       f"{r.quarantined:,} quarantined ({r.seconds:.1f} s)")
            for row, field, reason in r.bad_rows:
                typer.echo(f"  row {row}, {field}: {reason}")
        spans.close()


def spans_ddl(
    cluster: Annotated[str | None, typer.Option(help="Cluster name: print the replicated "
                                                "and Distributed tables.")] = None,
    database: Annotated[str, typer.Option(help="Database of the tables.")] = "goldenloop",
    retention_days: Annotated[int | None, typer.Option(help="Drop spans older than this "
                                                       "(TTL).")] = None,
) -> None:
    """Print the ClickHouse tables of the span store as SQL statements."""
    from goldenloop.errors import SpanStoreError
    from goldenloop.spanstore import clickhouse_schema as schema
    from goldenloop.spanstore.config import is_plain_name

    for name in (cluster, database):
        if name is not None and not is_plain_name(name):
            raise SpanStoreError(f"{name!r}: cluster and database are plain names "
                                 "(letters, digits, _)")
    if cluster:
        statements = schema.cluster_ddl(cluster, database, retention_days)
    else:
        statements = [f"CREATE DATABASE IF NOT EXISTS {database}"]
        statements += schema.single_server_ddl(database, retention_days)
    typer.echo(";\n\n".join(statements) + ";")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main command line."""
    app.command("migrate-spans")(migrate_spans)
    app.command("import-spans")(import_spans)
    app.command("spans-ddl")(spans_ddl)
