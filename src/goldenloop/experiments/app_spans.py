"""The SDK spans an app target emits while a run calls it, linked to the run.

An application entry point instrumented with goldenloop's SDK (``@sdk.trace``,
``sdk.wrap_openai``) records its own spans: retrieval, tools, the LLM calls it makes. When a
run calls it, each item's call happens inside an SDK ``Binding``: the app's spans join the
item's trace (the ``trace_id`` of its result row) under the run's span for the call
(``attempt-1``), and come here instead of the app's inbox. The run's writer imports them with
the run's source (``experiment`` or ``canary``, so they stay out of every production figure)
and the run's metadata (``experiment_run``, ``item_key``, ``target_version``, ``suite``).
The app keeps its own name (``app``) as its SDK settings give it (``goldenloop-SOURCE``, as
the run's own spans, when it gives none); ``environment`` is the run's source.

Spans of threads the app starts itself are linked only when the app copies its context into
them (``contextvars.copy_context``), as for any SDK parent-child link; otherwise they are the
app's ordinary spans.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any

import pyarrow as pa

from goldenloop.sdk.context import Binding, Span

CALL_SPAN = "attempt-1"  # span_id of the run's span for an app call (calls.span_rows)


class AppSpans:
    """Collects the app's spans of one run (from the worker threads) until the writer takes
    them; rendering happens on the writer's thread, as the SDK's recorder would do it."""

    def __init__(self, *, run_id: int, source: str, target_version: str, suite: str | None):
        self.run_id, self.source = run_id, source
        self.target_version, self.suite = target_version, suite
        self._spans: list[Span] = []
        self._lock = threading.Lock()
        self.count = 0

    def binding(self, item: dict[str, Any], trace_id: str) -> Binding:
        return Binding(trace_id=trace_id, parent_span_id=CALL_SPAN, source=self.source,
                       sink=self._add, session_id=f"{self.source}-run-{self.run_id}",
                       metadata={"experiment_run": self.run_id, "item_key": item["item_key"],
                                 "target_version": self.target_version, "suite": self.suite,
                                 "source_span_key": item.get("span_key")})

    def _add(self, span: Span) -> None:
        with self._lock:
            self._spans.append(span)
            self.count += 1

    def take(self) -> list[Span]:
        with self._lock:
            spans, self._spans = self._spans, []
        return spans

    def table(self, spans: list[Span]) -> pa.Table | None:
        """The spans as span rows with the run's source and metadata (None when none)."""
        if not spans:
            return None
        from goldenloop.sdk.recorder import get_recorder
        from goldenloop.sdk.render import render_table

        own = get_recorder().settings  # an app that never named itself: the run's app name
        settings = replace(own, environment=self.source, app=own.app or f"goldenloop-{self.source}")
        table, _errors = render_table(spans, settings)  # a render error keeps the span
        meta = [_merged(text, s.binding.metadata)
                for text, s in zip(table.column("metadata").to_pylist(), spans, strict=True)]
        table = table.set_column(table.schema.get_field_index("metadata"), "metadata",
                                 pa.array(meta, pa.string()))
        return table.set_column(table.schema.get_field_index("source"), "source",
                                pa.array([self.source] * table.num_rows, pa.string()))


def _merged(text: str | None, run: dict[str, Any]) -> str:
    """The span's own metadata with the run's keys added (the run's win on a clash: they are
    what links the span to the run)."""
    try:
        own = json.loads(text) if text else {}
    except ValueError:
        own = {"metadata": text}
    if not isinstance(own, dict):
        own = {"metadata": own}
    return json.dumps({**own, **run}, ensure_ascii=False, default=str)
