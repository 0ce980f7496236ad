"""Import a spool or data file into a ClickHouse span store with DuckDB's guarantees.

The file goes through the one import pipeline (``ingest.loader``: validation, quarantine,
repeats within the file, derived fields, cost) into a scratch DuckDB file, so every rule
and message is the same whatever holds the spans. Then:

1. the good rows go to ClickHouse in large Arrow batches, in an order fixed by their ids,
   each with the insert deduplication token ``file:<digest>:<batch rows>:<n>``;
2. the import-log entry and the quarantined rows commit to the workflow store in one
   transaction (the quarantine never lives in ClickHouse: it is workflow state);
3. the span store's ledger marks the file done.

A crash anywhere is safe: before (2) the workflow store has no record of the file, and the
retry sends the same batches with the same tokens, which ClickHouse drops; after (2) the
inbox sees the committed digest and only moves the file.

Not yet the same as DuckDB: a span whose ids are already stored *with other content* is not
reported as a conflict (the scratch file cannot see ClickHouse); the newest copy wins when
parts merge, and readers read through FINAL.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from goldenloop.access import roles
from goldenloop.ingest import ImportOptions, ImportResult, import_file, mapping
from goldenloop.ingest.outcome import file_hash
from goldenloop.spanstore.base import DUCKDB, SpanStore
from goldenloop.spanstore.clickhouse_spans import ClickHouseSpanStore
from goldenloop.store import imports as import_sql
from goldenloop.store.store import Store

BATCH_ROWS = 500_000  # rows per insert: large parts, few merges, bounded memory


def import_into(workflow: Store, spans: SpanStore, path: str | Path,
                options: ImportOptions | None = None, progress=None) -> ImportResult:
    """Import one file into whichever span store holds the spans: the workflow store's own
    file (DuckDB: ``ingest.import_file``) or ClickHouse (``import_file_to_clickhouse``). The
    server's inbox, its import jobs and ``goldenloop import`` all come through here."""
    if spans.dialect == DUCKDB:
        return import_file(workflow, path, options, progress)
    if progress is not None:
        progress(0.0, "importing into ClickHouse")
    return import_file_to_clickhouse(workflow, spans, path, options)


def import_file_to_clickhouse(workflow: Store, spans: ClickHouseSpanStore, path: str | Path,
                              options: ImportOptions | None = None, *,
                              batch_rows: int = BATCH_ROWS,
                              after_insert=None) -> ImportResult:
    """Import one file: spans to ClickHouse, its log entry and quarantine to ``workflow``.

    ``after_insert`` is called between steps (1) and (2) (tests stop the process there)."""
    from goldenloop.schema import open_store  # the migration list sits above every feature

    roles.guard(workflow, roles.Action.IMPORT)  # the scratch file knows no roles: ask here
    p = Path(path)
    opts = options or ImportOptions()
    if mapping.is_grade_mapping(opts.mapping):  # grades are workflow state: they stay
        return import_file(workflow, p, opts)
    digest = file_hash(p)
    batch_id = f"file:{digest}"
    t0 = time.perf_counter()
    committed = workflow.write(import_sql.committed_hash, digest)
    if committed is not None or spans.done(batch_id):
        if committed is not None and not spans.done(batch_id):  # killed before step (3)
            spans.mark_done(batch_id, "spans", int(workflow.scalar(
                "SELECT imported FROM import_log WHERE import_id = ?", [committed])))
        return ImportResult(str(p), opts.format or "", -1, 0, 0, 0, 0, [],
                            time.perf_counter() - t0, [], already_imported=True)
    with tempfile.TemporaryDirectory(prefix="goldenloop-import-") as tmp:
        if opts.redact:  # pseudonyms under the workflow store's key, not a fresh one
            _share_redaction_key(workflow, Path(tmp) / "scratch.duckdb")
        scratch = open_store(Path(tmp) / "scratch.duckdb")
        try:
            checked = import_file(scratch, p, opts)
            import_id = int(workflow.scalar("SELECT nextval('import_seq')"))
            spans.insert_batches("spans", _good_rows(scratch, import_id, batch_rows),
                                 token=f"{batch_id}:{batch_rows}")
            if after_insert is not None:
                after_insert()
            bad = _quarantine(scratch)
        finally:
            scratch.close()
    workflow.write(_commit, p, digest, checked, import_id, bad, opts.origin)
    spans.mark_done(batch_id, "spans", checked.imported)
    checked.import_id = import_id
    checked.seconds = time.perf_counter() - t0
    return checked


def _share_redaction_key(workflow: Store, scratch: Path) -> None:
    from goldenloop.ingest.redact_import import KEY_ENV, redaction_key

    if os.environ.get(KEY_ENV):
        return  # both read the key from the environment
    key = scratch.with_name(scratch.name + ".redact.key")
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(redaction_key(workflow.path).hex() + "\n")


def _good_rows(scratch: Store, import_id: int, batch_rows: int) -> Iterator[pa.Table]:
    """The validated spans in batches of ``batch_rows``, ordered by their ids so a retry
    cuts the same batches (the scratch file's span keys follow insertion order, which a
    parallel insert does not fix). The span key is left to ClickHouse (a hash of the ids)."""
    # the scratch file is this import's alone: its connection's own cursor, closed here
    cur = scratch.con.cursor()
    try:
        rel = cur.sql(f"SELECT * EXCLUDE (span_key, import_id), {int(import_id)}::BIGINT "
                      "AS import_id FROM spans ORDER BY trace_id, span_id")
        for batch in rel.to_arrow_reader(batch_rows):
            yield pa.Table.from_batches([batch])
    finally:
        cur.close()


def _quarantine(scratch: Store) -> pa.Table:
    return scratch.cursor().sql(
        "SELECT file, row_number, field, reason, CAST(errors AS VARCHAR) AS errors, raw, "
        "quarantined_at FROM quarantine").to_arrow_table()


def _commit(cur, p: Path, digest: str, checked: ImportResult, import_id: int,
            bad: pa.Table, origin: str) -> None:
    """The import's log entry and quarantined rows, in the workflow store's transaction."""
    cur.execute(
        """INSERT INTO import_log (import_id, file, content_hash, format, origin, status,
                                   started_at)
           VALUES (?, ?, ?, ?, ?, 'running', now()::TIMESTAMP)""",
        [import_id, str(p), digest, checked.format, origin])
    if bad.num_rows:
        cur.register("_scratch_bad", bad)
        cur.execute(
            """INSERT INTO quarantine SELECT ?, n.file, n.row_number, n.field, n.reason,
                      n.errors, n.raw, n.quarantined_at FROM _scratch_bad n
               WHERE NOT EXISTS (SELECT 1 FROM quarantine k WHERE k.file = n.file
                                 AND k.field = n.field AND k.reason = n.reason
                                 AND k.raw IS NOT DISTINCT FROM n.raw)""", [import_id])
        cur.unregister("_scratch_bad")
    counts = {"rows_read": checked.rows_read, "imported": checked.imported,
              "duplicates": checked.duplicates, "quarantined": checked.quarantined,
              "conflicts": checked.conflicts, "notes": "; ".join(checked.notes)}
    import_sql.finish(cur, import_id, counts, sum(n for _, n in checked.unknown_price))
