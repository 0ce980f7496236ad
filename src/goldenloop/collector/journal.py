"""The receiver's journal: spans accepted, not yet in a spool file.

A request is answered 200 once every span in it has been checked and the ones accepted are
durable here (``accept``): mapped to span records and written, a few thousand at a time, as
Parquet row groups of the spool's own schema, fsynced and renamed into place. The converter
thread takes the entries in arrival order and copies their row groups into one spool file
in the inbox (fewer, larger files: each import has a fixed cost in the owner), and only then
removes them. Neither side ever holds a whole request's records: memory is bounded by one
parsed body (mapped one at a time, under the receiver's ``mapping`` lock) and one row group.

After a crash, the entries left here are converted when the receiver starts again, so nothing
that was answered 200 is lost. An entry converted but not yet removed when the process died
is converted again; the store drops the repeated spans by their identity. An entry that
cannot be read (a damaged file) goes to the inbox's ``failed/`` with the reason. Raw bodies
(``.pb``, ``.json``) left by an older version are mapped and checked when converted.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from goldenloop.collector.decode import PROTOBUF, Checked, checked_spans, parse
from goldenloop.ingest.otlp import Unreadable
from goldenloop.spool import SPAN_SCHEMA, fsync_dir, fsync_file, span_table, write_span_spool

log = logging.getLogger("goldenloop.collect")
JOURNAL_DIR = ".collect"  # inside the inbox: the owner passes over folders and dot-names
ROW_GROUP = 2_000  # spans per Parquet row group, and per table in memory
ENTRY = ".parquet"
_RAW = {".pb": PROTOBUF, ".json": "application/json"}  # bodies kept by earlier versions
_seq = itertools.count()


@dataclass
class Staged:
    """A request's accepted spans written to ``tmp``, to be made durable as ``final``."""

    tmp: Path
    final: Path
    checked: Checked = field(default_factory=Checked)
    written: bool = False


class Journal:
    def __init__(self, inbox: Path, mapping: threading.Semaphore | None = None):
        self.inbox = Path(inbox)
        self.dir = self.inbox / JOURNAL_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        # Held while a body is mapped: one at a time in the whole receiver, so two large
        # bodies are never in memory as Python objects at once.
        self.mapping = mapping or threading.Semaphore(1)

    def accept(self, parsed: Any) -> Checked:
        """Check every span of a parsed request and keep the accepted ones durably; returns
        once they would survive a crash (nothing is kept when none was accepted)."""
        staged = self.stage(parsed)
        self.commit(staged)
        return staged.checked

    def stage(self, parsed: Any) -> Staged:
        """Check and write the accepted spans to a temporary file, not yet durable: the part
        that needs the parsed request (and the ``mapping`` lock, which the caller holds)."""
        name = f"{time.time_ns():020d}-{next(_seq):08d}{ENTRY}"
        staged = Staged(self.dir / f".{name}.tmp", self.dir / name)
        tables = _tables(_accepted(checked_spans(parsed), staged.checked))
        try:
            first = next(tables, None)
            if first is None:
                return staged  # nothing accepted: nothing to keep
            with open(staged.tmp, "wb") as fh, \
                    pq.ParquetWriter(fh, SPAN_SCHEMA, compression="zstd") as writer:
                for table in itertools.chain([first], tables):
                    writer.write_table(table)
        except BaseException:
            staged.tmp.unlink(missing_ok=True)
            raise
        staged.written = True
        return staged

    def commit(self, staged: Staged) -> None:
        """Make a staged entry durable and visible (fsync, rename, fsync the folder): outside
        the mapping lock, so one request's disk wait does not hold up another's mapping."""
        if not staged.written:
            return
        try:
            fsync_file(staged.tmp)
            os.replace(staged.tmp, staged.final)
        except BaseException:
            staged.tmp.unlink(missing_ok=True)
            raise
        fsync_dir(self.dir)

    def pending(self) -> list[Path]:
        return sorted(p for p in self.dir.iterdir()
                      if (p.suffix == ENTRY or p.suffix in _RAW) and not p.name.startswith("."))

    def tables(self, entry: Path) -> Iterator[pa.Table]:
        """The entry's spans as spool tables, a row group at a time."""
        if entry.suffix == ENTRY:
            pf = pq.ParquetFile(entry)
            for i in range(pf.num_row_groups):
                yield pf.read_row_group(i).cast(SPAN_SCHEMA)
            return
        with self.mapping:
            parsed = parse(entry.read_bytes(), _RAW[entry.suffix])
            yield from _tables(r for r in checked_spans(parsed) if not isinstance(r, Unreadable))

    def remove(self, entries: list[Path]) -> None:
        for e in entries:
            e.unlink(missing_ok=True)


def _accepted(items: Iterable[dict[str, Any] | Unreadable], checked: Checked
              ) -> Iterator[dict[str, Any]]:
    """The records accepted, counting them and the spans refused into ``checked`` (as
    ``decode.span_records`` does, without keeping the records)."""
    for n, rec in enumerate(items, start=1):
        if isinstance(rec, Unreadable):
            if not checked.message:
                checked.message = f"span {n}: {rec.field}: {rec.reason}"
            checked.rejected += rec.spans
        else:
            checked.accepted += 1
            yield rec


def _tables(records: Iterable[dict[str, Any]]) -> Iterator[pa.Table]:
    buf: list[dict[str, Any]] = []
    for rec in records:
        buf.append(rec)
        if len(buf) >= ROW_GROUP:
            yield span_table(buf)
            buf = []
    if buf:
        yield span_table(buf)


def give_back_memory() -> None:
    """Return freed heap memory to the system after a large piece of work. glibc keeps freed
    blocks for reuse, so a receiver's resident size would otherwise stay at its highest; the
    ceiling it promises is about what it holds, not what it once held."""
    if _libc is not None:
        _libc.malloc_trim(0)


def _load_libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (macOS, musl): nothing to trim
        return None


_libc = _load_libc()


class _EntryFailed(Exception):
    def __init__(self, entry: Path, cause: Exception):
        super().__init__(str(cause))
        self.entry, self.cause = entry, cause


class Converter(threading.Thread):
    """Turns journal entries into spool files: every ``interval`` seconds it looks, and
    converts once about ``min_bytes`` of entries have gathered or the oldest has waited
    ``max_wait`` seconds; on stop, everything accepted."""

    def __init__(self, journal: Journal, on_spool: Callable[[int], None],
                 interval: float = 0.5, max_entries: int = 1_000,
                 yield_to_requests: Callable[[], object] | None = None,
                 min_bytes: int = 2 << 20, max_wait: float = 2.0):
        super().__init__(name="goldenloop-collect-converter", daemon=True)
        self.journal, self.on_spool = journal, on_spool
        self.interval, self.max_entries = interval, max_entries
        # A round waits for about min_bytes of entries (some 10,000 spans of compressed
        # Parquet) unless the oldest has waited max_wait seconds: the owner pays a fixed cost
        # per file, about as much as importing a few thousand spans, so a steady stream
        # should not become tiny files.
        self.min_bytes, self.max_wait = min_bytes, max_wait
        # Called before each entry is read: waits (briefly) while a request is being answered,
        # so the exporter's wait for its 200 does not include our work on earlier requests.
        self.yield_to_requests = yield_to_requests or (lambda: None)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while True:
            stopping = self._stop_event.is_set()
            try:
                self.convert_pending(everything=stopping)
            except Exception:  # the next round tries again; nothing has been removed
                log.exception("converting the journal failed")
            if stopping:
                return
            self._stop_event.wait(self.interval)

    def stop(self, timeout: float = 120.0) -> None:
        """Convert everything accepted so far, then end."""
        self._stop_event.set()
        self.join(timeout)

    def convert_pending(self, everything: bool = True) -> int:
        """Convert the journal's entries into spool files; unless ``everything``, only once
        enough have gathered or the oldest has waited long enough."""
        entries = self.journal.pending()
        if not everything and not self._due(entries):
            return 0
        done = 0
        while entries:
            batch = self._take(entries)
            try:
                n = self._write(batch)
            except _EntryFailed as exc:  # set it aside; the rest of the batch goes again
                self._set_aside(exc.entry, exc.cause)
                entries[:0] = [e for e in batch if e != exc.entry]
                continue
            if n:
                self.on_spool(n)
            self.journal.remove(batch)  # only now: their spans are in a durable spool file
            done += n
            give_back_memory()
        return done

    def _due(self, entries: list[Path]) -> bool:
        if not entries:
            return False
        try:
            waited = time.time() - int(entries[0].name[:20]) / 1e9  # names start with time_ns
            if waited >= self.max_wait:
                return True
            return sum(e.stat().st_size for e in entries) >= self.min_bytes
        except (ValueError, OSError):  # a name not of ours, an entry gone: convert now
            return True

    def _take(self, entries: list[Path]) -> list[Path]:
        """Entries from the front of ``entries`` (removed from it): about ``min_bytes``."""
        batch: list[Path] = []
        size = 0
        while entries and size < self.min_bytes and len(batch) < self.max_entries:
            entry = entries.pop(0)
            try:
                size += entry.stat().st_size
            except OSError:
                continue  # gone (converted by an earlier round that crashed after writing)
            batch.append(entry)
        return batch

    def _write(self, batch: list[Path]) -> int:
        """One spool file with the spans of ``batch``, a row group at a time; the number of
        spans (no file when there are none)."""
        count = [0]
        tables = self._tables(batch, count)
        try:
            first = next(tables, None)
            if first is not None:
                write_span_spool(self.journal.inbox, itertools.chain([first], tables),
                                 prefix="otlp")
        finally:
            tables.close()
        return count[0]

    def _tables(self, batch: list[Path], count: list[int]) -> Iterator[pa.Table]:
        for entry in batch:
            self.yield_to_requests()
            try:
                for table in self.journal.tables(entry):
                    count[0] += table.num_rows
                    yield table
            except Exception as exc:  # the writer's own errors are not raised in here
                raise _EntryFailed(entry, exc) from exc

    def _set_aside(self, entry: Path, exc: Exception) -> None:
        log.error("journal entry %s cannot be read: %s", entry.name, exc)
        failed = self.journal.inbox / "failed"
        failed.mkdir(parents=True, exist_ok=True)
        dest = failed / f"otlp-{entry.name}"
        entry.replace(dest)
        dest.with_name(dest.name + ".reason.txt").write_text(f"{exc}\n")

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until the journal is empty (tests, and callers that stop the receiver)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.journal.pending():
                return True
            time.sleep(0.02)
        return False
