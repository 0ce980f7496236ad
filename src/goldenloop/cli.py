"""The command line: a thin layer over the library. Errors become messages here, once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from goldenloop import (
    access,
    cli_agreement,
    cli_alerts,
    cli_anomalies,
    cli_argilla,
    cli_experiments,
    cli_golden,
    cli_identity,
    cli_judge,
    cli_monitor,
    cli_ops,
    cli_producers,
    cli_spanstore,
)
from goldenloop.cli_support import job_identity, progress_bar, queued_to_server
from goldenloop.config import resolve_paths
from goldenloop.errors import GoldenloopError, MappingError
from goldenloop.ingest import ImportOptions
from goldenloop.ingest import mapping as column_mapping
from goldenloop.overview import store_counts
from goldenloop.schema import open_store
from goldenloop.spanstore.ingest import import_into
from goldenloop.store import imports as import_sql
from goldenloop.store import jobs as job_sql
from goldenloop.store import spans as span_sql
from goldenloop.workers.kinds import DemoJob, ImportJob, SnapshotJob
from goldenloop.workers.submit import submit

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="goldenloop: LLM monitoring and human-review workbench.")
DbOption = Annotated[str | None, typer.Option("--db", help="Database file (default: $GOLDENLOOP_DB "
                                              "or data/goldenloop.duckdb).")]


def main() -> None:
    from goldenloop.store import audit

    audit.set_interface("cli")  # jobs and the app name their own interface
    try:
        app()
    except GoldenloopError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 unless you "
                                      "mean to expose the app.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the app.")] = 8501,
    demo: Annotated[bool, typer.Option(help="Generate a demo history when the database "
                                       "does not exist yet.")] = True,
    demo_spans: Annotated[int, typer.Option(help="Size of that demo history.")] = 200_000,
    alerts_file: Annotated[Path | None, typer.Option(
        help="Alert rules file (default: $GOLDENLOOP_ALERTS_FILE, else alerts.yaml beside "
        "the database).")] = None,
    lead: Annotated[str | None, typer.Option(
        help="Name the first lead when there is no roles.yaml beside the database (it is "
        "written naming them); without it the first person to sign in leads.")] = None,
    secrets: Annotated[Path | None, typer.Option(
        help="The app's secrets file with the sign-in settings ([auth] or [trusted_proxy]; "
        "default: .streamlit/secrets.toml here or in your home folder).")] = None,
    spans: Annotated[str | None, typer.Option(
        help="Where spans, signals and feedback live: duckdb (the database file), "
        "clickhouse://user@host:port/database or chdb:///folder (default: $GOLDENLOOP_SPANS, "
        "else spans.yaml beside the database, else duckdb). The password comes from the "
        "environment variable named by ?password_env=NAME, never from the URL.")] = None,
) -> None:
    """Own the database, run the background workers and the app."""
    from goldenloop.server import serve as run_server

    run_server(resolve_paths(db), host=host, port=port, demo_if_new=demo, demo_spans=demo_spans,
               alerts_file=alerts_file, lead=lead, secrets=secrets, spans_url=spans)


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="CSV, TSV, JSONL, Parquet, OTLP JSON, "
                                                "OpenAI batch output or request/response pairs.")],
    db: DbOption = None,
    format: Annotated[str | None, typer.Option(help="Force a format (csv, tsv, jsonl, parquet, "
                                               "otlp, openai-batch, openai-pairs).")] = None,
    map: Annotated[list[str] | None, typer.Option("--map", help="Column mapping "
                                                  "span_field=source_column; repeatable.")] = None,
    mapping_file: Annotated[Path | None, typer.Option(
        "--mapping-file", "--mapping", help="YAML/JSON file of span_field: source_column, or a "
        "grade mapping (a `grades:` document: see examples/).")] = None,
    out_of_scale: Annotated[str | None, typer.Option(
        help="Grade imports: values outside the declared scale are kept as they are (keep) or "
        "treated as missing (missing); overrides the mapping's choice.")] = None,
    batch_input: Annotated[Path | None, typer.Option(help="OpenAI Batch API input file, "
                                                     "joined for the messages.")] = None,
    redact: Annotated[bool, typer.Option(help="Mask e-mail addresses, phone numbers, card "
                                         "numbers, IP addresses and secrets in every text, "
                                         "metadata and quarantined row; user and session ids "
                                         "become stable pseudonyms.")] = False,
    encoding: Annotated[str | None, typer.Option(
        help="Text encoding of CSV, TSV and JSONL files (e.g. latin-1, utf-16); by default "
        "UTF-8, a byte-order mark, or Windows-1252 for a file that is not UTF-8.")] = None,
) -> None:
    """Import trace files, or existing grades with a grade mapping (--mapping). Exits 1 when
    any row or value was quarantined or conflicted with a stored span."""
    paths = resolve_paths(db)
    explicit = _import_mapping(mapping_file, map or [], out_of_scale)
    opts = ImportOptions(format=format, mapping=explicit, redact=redact, batch_input=batch_input,
                         encoding=encoding)
    job = ImportJob.of(files=[str(f.resolve()) for f in files], format=format, mapping=explicit,
                    redact=redact, origin="cli", encoding=encoding,
                    batch_input=str(batch_input.resolve()) if batch_input else None,
                    **job_identity(files))
    if queued_to_server(paths, job, "the import"):
        return
    paths.ensure()
    failed = False
    with open_store(paths.db) as store:
        # This process alone holds the file: let DuckDB insert in parallel instead of in file
        # order (span_key order, a tie-breaker between equal start times, is not file order
        # then). About a fifth faster on 1M spans; the server, whose pages share the
        # database, keeps the default.
        store.cursor().execute("SET preserve_insertion_order = false")
        spans = _span_store(paths, store)  # where the server would put them
        try:
            for f in files:
                r = import_into(store, spans, f, opts)
                failed |= not r.ok
                _print_import(r)
        finally:
            spans.close()
    raise typer.Exit(1 if failed else 0)


def _span_store_status(paths, owner) -> None:
    """Where spans live when not in the database file (the counts above are the file's), and
    how many there are when this process may open the store."""
    from goldenloop.spanstore import configured_url, open_span_store, parse

    if owner is not None:
        if owner.spans:
            typer.echo(f"spans live in {owner.spans} (the counts here are the database file's)")
        return
    cfg = parse(configured_url(None, paths.data_dir))
    if cfg.backend == "duckdb":
        return
    spans = open_span_store(configured_url(None, paths.data_dir), None)
    try:
        typer.echo(f"spans in {cfg.describe()}: {spans.count('spans'):,}")
    finally:
        spans.close()


def _span_store(paths, store):
    """The configured span store ($GOLDENLOOP_SPANS, spans.yaml; the database file itself)."""
    from goldenloop.spanstore import configured_url, open_span_store

    return open_span_store(configured_url(None, paths.data_dir), store)


def _import_mapping(mapping_file: Path | None, flags: list[str], out_of_scale: str | None
                    ) -> dict:
    """A span mapping (file plus --map flags), or a grade mapping with the out-of-scale flag."""
    doc = column_mapping.read_mapping_document(mapping_file) if mapping_file else None
    if column_mapping.is_grade_mapping(doc):
        from goldenloop.ingest import grade_mapping  # pydantic: loaded only for grades

        if flags:
            raise MappingError("--map is for span mappings; a grade mapping names its columns")
        grade_mapping.parse(doc, str(mapping_file))  # report a bad mapping before any work
        return grade_mapping.with_out_of_scale(doc, out_of_scale)
    if out_of_scale is not None:
        raise MappingError("--out-of-scale applies to grade imports (a mapping with `grades:`)")
    explicit = column_mapping.load_mapping_file(mapping_file) if mapping_file else {}
    explicit.update(column_mapping.parse_map_flags(flags))
    return explicit


def _print_import(r) -> None:
    if r.format.startswith("grades:"):
        _print_grade_import(r)
        return
    conflicts = f"{r.conflicts:,} conflicts, " if r.conflicts else ""
    typer.echo(f"{r.file} ({r.format}): {r.rows_read:,} rows read: {r.imported:,} imported, "
               f"{r.duplicates:,} duplicates, {conflicts}{r.quarantined:,} quarantined "
               f"[{r.seconds:.1f} s]")
    for note in r.notes:
        typer.echo(f"  {r.file}: {note}")
    for row, field, reason in r.bad_rows:
        typer.echo(f"  {r.file}: row {row}: {field}: {reason}")
    if r.quarantined + r.conflicts > len(r.bad_rows):
        typer.echo(f"  ... and {r.quarantined + r.conflicts - len(r.bad_rows):,} more: "
                   "`goldenloop quarantine` (rows already in quarantine from an earlier "
                   "import of the file are not added again)")
    for model, n in r.unknown_price:
        typer.echo(f"  no price for {model!r} ({n:,} spans): cost left empty; add it to a "
                   "price file named by GOLDENLOOP_PRICES")


def _print_grade_import(r) -> None:
    d = r.details
    if r.already_imported:
        typer.echo(f"{r.file}: {d.get('note', 'already imported')}: nothing added")
        return
    typer.echo(f"{r.file} ({r.format}): {r.rows_read:,} rows read, {d['values']:,} values: "
               f"{r.imported:,} grades imported, {r.duplicates:,} already stored, "
               f"{r.quarantined:,} kept aside, {d['empty']:,} empty [{r.seconds:.1f} s]")
    made = [f"{d[k]:,} {k}" for k in ("items", "comparisons", "criteria") if d.get(k)]
    if made:
        typer.echo(f"  new: {', '.join(made)}")
    oos = d.get("out_of_scale") or {}
    if oos:
        how = ("kept as they are" if d.get("out_of_scale_choice") == "keep"
               else "treated as missing")
        typer.echo(f"  {sum(oos.values()):,} values outside the declared scale, {how} "
                   "(--out-of-scale keep|missing):")
        for field, n in sorted(oos.items(), key=lambda kv: -kv[1]):
            typer.echo(f"    {field}: {n:,}")
    for row, field, reason in r.bad_rows:
        typer.echo(f"  {r.file}: row {row}: {field}: {reason}")
    if r.quarantined > len(r.bad_rows):
        typer.echo(f"  ... and {r.quarantined - len(r.bad_rows):,} more: "
                   f"`goldenloop quarantine --import-id {r.import_id}`")


@app.command()
def demo(
    db: DbOption = None,
    spans: Annotated[int, typer.Option(help="About how many spans.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same history.")] = 7,
) -> None:
    """Write a realistic 30-day production history with known incidents."""
    paths = resolve_paths(db)
    if queued_to_server(paths, DemoJob.of(spans=spans, seed=seed), "the demo"):
        return
    from goldenloop import demo as demo_history

    paths.ensure()
    with open_store(paths.db) as store, progress_bar("demo") as progress:
        span_store = _span_store(paths, store)
        s = demo_history.generate(store, spans=spans, seed=seed, progress=progress)
        if span_store.dialect != "duckdb":  # made in the file, moved where spans live
            from goldenloop.spanstore.migrate import move_all

            move_all(store, span_store)
    where = paths.db if span_store.dialect == "duckdb" else span_store.describe()
    typer.echo(f"Demo history written to {where}: {s.spans:,} spans.")
    if s.queue_id:
        typer.echo(f"Review queue {s.queue_id} holds the demo's graded sample: grade more of it, "
                   f"or run a judge on it (`goldenloop judge run correctness --queue "
                   f"{s.queue_id}`).")


@app.command()
def jobs(db: DbOption = None, limit: int = 20) -> None:
    """List recent jobs with their status and progress."""
    with access.for_reading(resolve_paths(db)) as r:
        df = job_sql.recent(r.store.cursor(), limit)
        if r.note:
            typer.echo(f"({r.note})")
    if df.empty:
        typer.echo("No jobs yet.")
        return
    for row in df.itertuples():
        pct = f"{row.progress * 100:.0f}%"
        typer.echo(f"#{row.job_id} {row.kind:8} {row.status:11} {pct:>4}  {row.message or ''}"
                   f"{'  error: ' + row.error.splitlines()[0] if row.error else ''}")


@app.command()
def status(db: DbOption = None) -> None:
    """What the database holds, and who owns it."""
    paths = resolve_paths(db)
    owner = access.running_owner(paths)
    typer.echo(f"database: {paths.db}")
    typer.echo(f"server: process {owner.pid} at {owner.url}" if owner else "server: not running")
    paused = access.writes_paused(paths, owner) if owner else None
    if paused:
        typer.echo(f"server: writes paused ({paused}); they resume when disk space is freed")
    with access.for_reading(paths) as r:
        if r.note:
            typer.echo(f"({r.note})")
        n, first, last = span_sql.span_range(r.store.cursor())
        counts = store_counts(r.store)
    typer.echo(f"spans (all): {n:,}" + (f" from {first} to {last} UTC" if n else ""))
    _span_store_status(paths, owner)
    for what, count in counts.items():  # grades, items, queues, judges, golden sets
        typer.echo(f"{what}: {count:,}")


@app.command()
def snapshot(db: DbOption = None) -> None:
    """Ask the running server to publish a fresh snapshot for readers now."""
    paths = resolve_paths(db)
    sent = submit(SnapshotJob.of(dest=str(paths.snapshot)), paths=paths)
    if not sent.queued:  # a snapshot is for readers of a server's database: nothing to run here
        typer.echo("No server is running: commands read the database directly.")
        return
    typer.echo(f"Asked the server (process {sent.owner_pid}) for a snapshot ({sent.file.name}).")


@app.command()
def quarantine(db: DbOption = None, import_id: Annotated[int | None, typer.Option()] = None,
               limit: int = 50) -> None:
    """Rows kept aside by imports, with file, row, field and reason."""
    with access.for_reading(resolve_paths(db)) as r:
        rows = import_sql.quarantined(r.store.cursor(), import_id, limit)
    for file, row, field, reason in rows:
        typer.echo(f"{file}: row {row}: {field}: {reason}")
    if not rows:
        typer.echo("Nothing in quarantine.")


# Commands that belong to other parts live beside them and register here.
cli_producers.register(app)
cli_monitor.register(app)
cli_judge.register(app)
cli_golden.register(app)
cli_agreement.register(app)
cli_anomalies.register(app)
cli_alerts.register(app)
cli_experiments.register(app)
cli_argilla.register(app)
cli_ops.register(app)
cli_spanstore.register(app)
# Every command that writes acts as a named user (--by, $GOLDENLOOP_USER or the login name).
cli_identity.install(app)


if __name__ == "__main__":
    main()
