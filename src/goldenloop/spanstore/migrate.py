"""Copy a DuckDB store's spans, signals and feedback into another span store, resumably.

Rows go in chunks of consecutive keys (span keys, feedback ids), each a batch of the target
store with the id ``migrate:<table>:<first key>:<last key>:<rows>``: a chunk the target's
ledger has is skipped, a chunk cut short by a crash is sent again with the same tokens (the
target drops what it already has), so running the command again after any stop finishes the
copy without duplicates. Rows added to the source meanwhile change a chunk's row count and
so its id: the chunk is copied again (the target collapses repeats by key) rather than lost.
Keys are kept as they are, so grades and queue items in the workflow store still point at
their spans.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from goldenloop.spanstore.base import SpanStore
from goldenloop.store.store import Store

CHUNK_ROWS = 500_000
_KEYS = (("spans", "span_key"), ("signals", "span_key"), ("feedback", "feedback_id"))


@dataclass
class MigrationReport:
    copied: dict[str, int] = field(default_factory=dict)  # rows sent in this run
    skipped_chunks: dict[str, int] = field(default_factory=dict)  # done in an earlier run
    chunks: dict[str, int] = field(default_factory=dict)
    source_rows: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return "; ".join(
            f"{t}: {self.source_rows[t]:,} rows, {self.copied[t]:,} copied now in "
            f"{self.chunks[t] - self.skipped_chunks[t]} of {self.chunks[t]} chunks"
            for t in self.chunks)


def migrate_spans(source: Store, target: SpanStore, *, chunk_rows: int = CHUNK_ROWS,
                  progress: Callable[[float, str], None] | None = None) -> MigrationReport:
    """Copy every span, signals row and feedback row of ``source`` into ``target``."""
    note = progress or (lambda _f, _m: None)
    report = MigrationReport()
    for n, (table, key) in enumerate(_KEYS):
        lo, hi, rows = source.rows(f"SELECT min({key}), max({key}), count(*) FROM {table} "
                                   f"WHERE {key} IS NOT NULL")[0]
        report.source_rows[table], report.copied[table] = int(rows), 0
        report.chunks[table] = report.skipped_chunks[table] = 0
        if not rows:
            continue
        # Chunks by key range: keys come from a sequence, so a range of chunk_rows keys holds
        # about chunk_rows rows (fewer where rows were deleted).
        for start in range(int(lo), int(hi) + 1, chunk_rows):
            end = start + chunk_rows - 1
            report.chunks[table] += 1
            count = int(source.scalar(f"SELECT count(*) FROM {table} WHERE {key} "
                                      f"BETWEEN ? AND ?", [start, end]))
            batch_id = f"migrate:{table}:{start}:{end}:{count}"
            if not count or target.done(batch_id):
                report.skipped_chunks[table] += 1
                continue
            chunk = source.cursor().sql(
                f"SELECT * FROM {table} WHERE {key} BETWEEN {start} AND {end} ORDER BY {key}"
            ).to_arrow_table()
            report.copied[table] += target.insert_rows(table, [chunk], batch_id=batch_id)
            done = (start - int(lo) + chunk_rows) / max(1, int(hi) - int(lo) + 1)
            note((n + min(1.0, done)) / len(_KEYS), f"{table}: up to key {end:,}")
    note(1.0, "done")
    return report


def move_all(source: Store, target: SpanStore) -> MigrationReport:
    """Copy the file's spans, signals and feedback into ``target``, then delete them from the
    file (a demo history made in the file while spans live in ClickHouse). Every chunk is in
    the target's ledger before anything is deleted; keys are kept, so grades and queues made
    with the demo still point at their spans."""
    report = migrate_spans(source, target)

    def drop(cur) -> None:
        for table in ("feedback", "signals", "spans"):
            cur.execute(f"DELETE FROM {table}")

    source.write(drop)
    return report

