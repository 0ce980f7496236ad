"""The receiver's journal: request bodies accepted, not yet in a spool file.

A request is answered 200 once its body is durable here (``spool.write_durably``), which takes
a few milliseconds; reading the spans costs more, and is done by the converter thread, off the
request path, so the exporter is not held up by it. The converter takes the entries in arrival
order, maps their spans, writes them merged as one spool file into the inbox (fewer, larger
files: each import has a fixed cost in the owner), and only then removes them.

After a crash, the entries left here are converted when the receiver starts again, so nothing
that was answered 200 is lost. An entry converted but not yet removed when the process died is
converted again; the store drops the repeated spans by their identity. An entry whose spans
cannot be read (a bug, or a damaged file) goes to the inbox's ``failed/`` with the reason.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from goldenloop.collector.decode import PROTOBUF, parse, records_table, span_records
from goldenloop.spool import write_durably, write_spool

log = logging.getLogger("goldenloop.collect")
JOURNAL_DIR = ".collect"  # inside the inbox: the owner passes over folders and dot-names
_SUFFIX = {PROTOBUF: ".pb", "application/json": ".json"}
_MEDIA = {v: k for k, v in _SUFFIX.items()}
_seq = itertools.count()


class Journal:
    def __init__(self, inbox: Path, cache_bytes: int = 16 << 20):
        self.inbox = Path(inbox)
        self.dir = self.inbox / JOURNAL_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        # Span records of bodies this process accepted, so the converter need not map them
        # again; bounded by the bodies' size (records take a few times more), so a converter
        # that falls behind costs a second reading of the body, not memory.
        self.cache_bytes = cache_bytes
        self._cached: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self._cached_size = 0
        self._lock = threading.Lock()

    def append(self, body: bytes, media: str, records: list[dict[str, Any]]) -> None:
        """Keep an accepted body durably; returns once it would survive a crash."""
        name = f"{time.time_ns():020d}-{next(_seq):08d}{_SUFFIX[media]}"
        write_durably(self.dir, name, lambda fh: fh.write(body))
        with self._lock:
            if self._cached_size + len(body) <= self.cache_bytes:
                self._cached[name] = (records, len(body))
                self._cached_size += len(body)

    def pending(self) -> list[Path]:
        return sorted(p for p in self.dir.iterdir()
                      if p.suffix in _MEDIA and not p.name.startswith("."))

    def records(self, entry: Path) -> list[dict[str, Any]]:
        """The span records of the entry's request that passed the check: those mapped when
        it was accepted, or the same ones mapped again from the file."""
        with self._lock:
            cached = self._cached.get(entry.name)
        if cached is not None:
            return cached[0]
        return span_records(parse(entry.read_bytes(), _MEDIA[entry.suffix])).records

    def remove(self, entries: list[Path]) -> None:
        for e in entries:
            e.unlink(missing_ok=True)
            with self._lock:
                _, size = self._cached.pop(e.name, (None, 0))
                self._cached_size -= size


class Converter(threading.Thread):
    """Turns journal entries into spool files: every ``interval`` seconds it looks, and
    converts once about ``min_bytes`` of requests have gathered or the oldest has waited
    ``max_wait`` seconds; on stop, everything accepted."""

    def __init__(self, journal: Journal, on_spool: Callable[[int], None],
                 interval: float = 0.5, max_spans: int = 10_000,
                 yield_to_requests: Callable[[], object] | None = None,
                 min_bytes: int = 8 << 20, max_wait: float = 2.0):
        super().__init__(name="goldenloop-collect-converter", daemon=True)
        self.journal, self.on_spool = journal, on_spool
        self.interval, self.max_spans = interval, max_spans
        # A round waits for about min_bytes of requests (some 15,000 spans) unless the oldest
        # has waited max_wait seconds: the owner pays a fixed cost per file, about as much as
        # importing a few thousand spans, so a steady stream should not become tiny files.
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
            batch, records = self._take(entries)
            if records:
                write_spool(self.journal.inbox, records_table(records), prefix="otlp")
                self.on_spool(len(records))
            self.journal.remove(batch)  # only now: their spans are in a durable spool file
            done += len(records)
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

    def _take(self, entries: list[Path]) -> tuple[list[Path], list[dict[str, Any]]]:
        """Entries from the front of ``entries`` (removed from it) and their span records,
        up to about ``max_spans``."""
        batch: list[Path] = []
        records: list[dict[str, Any]] = []
        while entries and len(records) < self.max_spans:
            entry = entries.pop(0)
            self.yield_to_requests()
            try:
                records.extend(self.journal.records(entry))
            except Exception as exc:
                self._set_aside(entry, exc)
                continue
            batch.append(entry)
        return batch, records

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
