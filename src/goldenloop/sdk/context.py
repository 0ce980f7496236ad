"""Spans as the SDK holds them on the caller's thread, and the context that links them.

A ``Span`` is a small slotted object: identity, parent, session, times and raw references
(request, response, exception, return value). Turning those into span fields is deferred to
the writer thread (``render``), so a traced call costs the caller a few microseconds. The
current span and the current session live in context variables, so nesting works across
threads and asyncio tasks the way ``contextvars`` copies them.

A ``Binding`` (``bound``) hands the spans started inside it to someone else's trace: when
goldenloop itself runs an instrumented application (an experiment's app target), the app's
spans join the run's trace under the run's span for the item, carry the run's source and
metadata, and go to the run (``sink``) instead of the inbox, so they never count as
production traffic.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Binding", "Session", "Span", "bound", "current_span", "last_span", "session",
           "start_span"]


@dataclass
class Session:
    """A conversation: spans started inside take its id and user; each new trace in it is the
    next turn."""

    session_id: str | None
    user_id: str | None = None
    _turns: Iterator[int] = field(default_factory=itertools.count, repr=False)


@dataclass(frozen=True)
class Binding:
    """Where spans started inside ``bound`` belong: the trace and parent span they join, the
    ``source`` and ``metadata`` the recorder's consumer gives them, and the ``sink`` that
    receives them when they end (instead of the process's recorder)."""

    trace_id: str
    parent_span_id: str | None
    source: str
    sink: Callable[[Span], None]
    session_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class Span:
    """One traced call. Fields the caller knows at once are set here; ``data`` keeps raw
    references for ``renderer``, which the writer thread calls to produce the span fields."""

    __slots__ = ("_t0", "binding", "data", "end_ns", "error", "kind", "latency_ms", "name",
                 "parent_span_id", "renderer", "session_id", "span_id", "start_ns", "trace_id",
                 "ttft_ms", "turn_index", "user_id")

    def __init__(self, name: str, kind: str, parent: Span | None) -> None:
        self.name, self.kind = name, kind
        self.span_id = f"{random.getrandbits(64):016x}"
        if parent is not None:
            self.trace_id, self.parent_span_id = parent.trace_id, parent.span_id
            self.session_id, self.user_id = parent.session_id, parent.user_id
            self.turn_index = parent.turn_index
            self.binding = parent.binding
        else:
            self.binding = b = _binding.get()
            self.trace_id, self.parent_span_id = f"{random.getrandbits(128):032x}", None
            s = _session.get()
            if s is None:
                self.session_id = self.user_id = self.turn_index = None
            else:
                self.session_id, self.user_id, self.turn_index = (
                    s.session_id, s.user_id, next(s._turns))
            if b is not None:  # a root span inside a binding joins the binding's trace
                self.trace_id, self.parent_span_id = b.trace_id, b.parent_span_id
                self.session_id = self.session_id or b.session_id
        self.data: dict[str, Any] = {}
        self.error: BaseException | None = None
        self.renderer: Callable[[Span, dict[str, Any]], None] | None = None
        self.ttft_ms: float | None = None
        self.end_ns: int | None = None
        self.latency_ms: float | None = None
        self.start_ns = time.time_ns()
        self._t0 = time.perf_counter_ns()  # durations from a monotonic clock, not wall time

    def finish(self) -> None:
        """Stamp the end (once: a stream may be closed after it was read to the end)."""
        if self.end_ns is None:
            elapsed = time.perf_counter_ns() - self._t0
            self.end_ns = self.start_ns + elapsed
            self.latency_ms = elapsed / 1e6

    def mark_first_token(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = (time.perf_counter_ns() - self._t0) / 1e6

    def __repr__(self) -> str:
        return f"Span({self.name!r}, trace_id={self.trace_id}, span_id={self.span_id})"


_current: ContextVar[Span | None] = ContextVar("goldenloop_span", default=None)
_last: ContextVar[Span | None] = ContextVar("goldenloop_last_span", default=None)
_session: ContextVar[Session | None] = ContextVar("goldenloop_session", default=None)
_binding: ContextVar[Binding | None] = ContextVar("goldenloop_binding", default=None)


def start_span(name: str, kind: str, *, make_current: bool) -> tuple[Span, Token | None]:
    span = Span(name, kind, _current.get())
    return span, (_current.set(span) if make_current else None)


def end_span(span: Span, token: Token | None) -> None:
    span.finish()
    if token is not None:
        _current.reset(token)
    _last.set(span)


def current_span() -> Span | None:
    """The innermost ``@trace`` span running in this context, if any."""
    return _current.get()


def last_span() -> Span | None:
    """The span that ended last in this context (e.g. the LLM call that just returned), to
    attach end-user feedback to."""
    return _last.get()


@contextmanager
def session(session_id: str | None = None, user_id: str | None = None) -> Iterator[Session]:
    """Spans started inside belong to this conversation and end user."""
    s = Session(session_id, user_id)
    token = _session.set(s)
    try:
        yield s
    finally:
        _session.reset(token)


@contextmanager
def bound(binding: Binding | None) -> Iterator[Binding | None]:
    """Spans started inside (and their children) join ``binding``'s trace and go to its sink;
    ``None`` changes nothing. A span current outside is hidden inside, so the spans started
    there are roots under the binding's parent span rather than children of the caller's."""
    if binding is None:
        yield None
        return
    token = _binding.set(binding)
    outer = _current.set(None)  # the caller's own span (if any) is not the app's parent
    try:
        yield binding
    finally:
        _current.reset(outer)
        _binding.reset(token)
