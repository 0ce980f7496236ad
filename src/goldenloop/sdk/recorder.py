"""The SDK's buffer and background writer: finished spans → spool files in the inbox.

The caller's thread only appends to a bounded deque (and counts what it had to drop when the
deque is full). A daemon thread wakes when a batch is full or ``batch_seconds`` have passed,
renders the spans into rows and writes one spool file per batch. ``flush()`` and interpreter
exit write what is left. Nothing here raises into the host application: failures are
counted in ``stats()`` and logged.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goldenloop.sdk.context import Span

log = logging.getLogger("goldenloop.sdk")


@dataclass
class Settings:
    inbox: Path
    app: str | None = None
    environment: str | None = None
    release: str | None = None
    # Spans held in memory at most (about 0.8 KB each); more are dropped and counted.
    max_buffer: int = 100_000
    # A spool file holds at most this many spans ... (each import has a fixed cost in the
    # owner, so a busy app's spans go in few large files; not so large that a batch being
    # rendered lets the buffer overflow)
    batch_spans: int = 20_000
    batch_seconds: float = 1.0  # ... and is written at least this often when spans wait


class Recorder:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._spans: deque[Span] = deque()
        self._feedback: deque[dict[str, Any]] = deque()
        self._unwritten: list[Any] = []  # tables whose write failed, retried next time
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one writer at a time: the thread, flush() or exit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_write = time.monotonic()
        self._count_lock = threading.Lock()  # drops are counted exactly, from any thread
        self.counts = dict(dropped=0, written=0, files=0, write_errors=0, render_errors=0)

    # -- the caller's thread -----------------------------------------------------------------
    def record(self, span: Span) -> None:
        if span.binding is not None:  # a span of goldenloop's own run of the app: the run's
            span.binding.sink(span)
            return
        n = len(self._spans)
        if n >= self.settings.max_buffer:
            self._dropped(1)
            return
        self._spans.append(span)
        if self._thread is None:
            self._start()
        elif n + 1 == self.settings.batch_spans:
            self._wake.set()

    def add_feedback(self, row: dict[str, Any]) -> None:
        if len(self._feedback) >= self.settings.max_buffer:
            self._dropped(1)
            return
        self._feedback.append(row)
        if self._thread is None:
            self._start()

    def _dropped(self, n: int) -> None:
        with self._count_lock:
            self.counts["dropped"] += n

    def stats(self) -> dict[str, int]:
        return {**self.counts, "buffered": len(self._spans) + len(self._feedback)}

    def flush(self) -> int:
        """Write every span and feedback recorded so far; return how many spans were written."""
        try:
            return self._write_pending()
        except Exception:  # never into the host app
            log.exception("goldenloop: flush failed")
            return 0

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self.flush()

    # -- the writer thread -------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="goldenloop-sdk-writer",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        _writer_modules()
        while not self._stop.is_set():
            self._wake.wait(self.settings.batch_seconds)
            self._wake.clear()
            try:
                self._write_pending(full_only=True)
            except Exception:
                log.exception("goldenloop: writing spans failed")

    def _write_pending(self, full_only: bool = False) -> int:
        """Write the buffer; with ``full_only``, only full batches, unless the last write was
        ``batch_seconds`` ago (so a busy app gets full files, and a quiet one timely ones)."""
        spool, render_table = _writer_modules()
        written = 0
        with self._lock:
            self._retry_unwritten()
            due = time.monotonic() - self._last_write >= self.settings.batch_seconds
            size = self.settings.batch_spans
            n = len(self._spans)  # spans recorded while this runs wait for the next round
            if full_only and not due:
                n -= n % size
            while n > 0:
                batch = _take(self._spans, min(n, size))
                n -= len(batch)
                table, errors = render_table(batch, self.settings)
                self.counts["render_errors"] += errors
                written += self._write(table, feedback=False)
            if self._feedback and (not full_only or due):
                rows = list(_take(self._feedback, len(self._feedback)))
                self._write(spool.feedback_table(rows), feedback=True)
            if due or not full_only:
                self._last_write = time.monotonic()
        return written

    def _write(self, table: Any, *, feedback: bool) -> int:
        spool, _ = _writer_modules()
        try:
            spool.write_spool(self.settings.inbox, table, prefix="sdk", feedback=feedback)
        except OSError as exc:
            self.counts["write_errors"] += 1
            log.warning("goldenloop: cannot write a spool file to %s (%s); will retry",
                        self.settings.inbox, exc)
            self._keep_unwritten(table, feedback)
            return 0
        self.counts["files"] += 1
        if not feedback:
            self.counts["written"] += table.num_rows
        return table.num_rows

    def _keep_unwritten(self, table: Any, feedback: bool) -> None:
        """Hold a table whose write failed, within the same bound as the buffer."""
        held = sum(t.num_rows for t, _ in self._unwritten)
        while self._unwritten and held + table.num_rows > self.settings.max_buffer:
            old, _ = self._unwritten.pop(0)
            held -= old.num_rows
            self._dropped(old.num_rows)
        self._unwritten.append((table, feedback))

    def _retry_unwritten(self) -> None:
        pending, self._unwritten = self._unwritten, []
        for table, feedback in pending:
            self._write(table, feedback=feedback)


def _writer_modules() -> tuple[Any, Any]:
    """The spool writer and the renderers, imported on first use rather than with the SDK:
    they load pyarrow and the span columns (and, through the package, DuckDB), which an
    application that only imports the SDK should not pay for. ``configure()`` loads them at
    start-up, since an import begun at interpreter exit can fail."""
    from goldenloop import spool
    from goldenloop.sdk import openai_render  # noqa: F401  (used by the OpenAI spans' renderers)
    from goldenloop.sdk.render import render_table, warm_up

    warm_up()
    return spool, render_table


def _take(items: deque, n: int) -> list:
    out = []
    pop = items.popleft
    try:
        for _ in range(n):
            out.append(pop())
    except IndexError:
        pass
    return out


_recorder: Recorder | None = None
_recorder_lock = threading.Lock()


def default_settings(**overrides: Any) -> Settings:
    """Settings from the environment: GOLDENLOOP_INBOX (else the inbox beside GOLDENLOOP_DB or
    data/goldenloop.duckdb), GOLDENLOOP_APP (else OTEL_SERVICE_NAME), GOLDENLOOP_ENVIRONMENT,
    GOLDENLOOP_RELEASE."""
    from goldenloop.config import resolve_paths

    env = os.environ.get
    inbox = env("GOLDENLOOP_INBOX")
    values: dict[str, Any] = {
        "inbox": Path(inbox) if inbox else resolve_paths().inbox,
        "app": env("GOLDENLOOP_APP") or env("OTEL_SERVICE_NAME"),
        "environment": env("GOLDENLOOP_ENVIRONMENT"),
        "release": env("GOLDENLOOP_RELEASE"),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["inbox"] = Path(values["inbox"])
    return Settings(**values)


def get_recorder() -> Recorder:
    global _recorder
    rec = _recorder
    if rec is None:
        with _recorder_lock:
            if _recorder is None:
                _recorder = Recorder(default_settings())
            rec = _recorder
    return rec


def install(settings: Settings) -> Recorder:
    """Replace the process's recorder (spans recorded so far are written first)."""
    global _recorder
    _writer_modules()
    with _recorder_lock:
        old, _recorder = _recorder, Recorder(settings)
    if old is not None:
        old.close()
    return _recorder


def _at_exit() -> None:
    if _recorder is not None:
        _recorder.close()  # waits for a batch the writer thread is writing, then the rest


def _after_fork_in_child() -> None:
    """A forked worker (gunicorn, multiprocessing) starts with an empty buffer and no writer
    thread; its parent's buffered spans are the parent's to write."""
    global _recorder
    if _recorder is not None:
        _recorder = Recorder(_recorder.settings)


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
