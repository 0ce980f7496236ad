"""The sampling frame: which spans a queue is drawn from, kept with the queue as JSON.

A frame is the one span filter (``store.span_filter.SpanFilter``) whose ``kinds`` default to
LLM calls: they carry an answer to grade. It is stored as that filter's JSON with ``kinds``
always written, so a stored frame reads back as it was made. Queues made before the filters
were one stored every field of the old frame type; ``frame_from_dict`` reads those too (they
are the same fields), and a dict without ``kinds`` (an old row, a job's parameters) means LLM
calls, as it always did. ``make_frame(**span_filter.to_dict())`` turns a chart's filter into a frame.
"""

from __future__ import annotations

from typing import Any

from goldenloop.errors import GoldenloopError
from goldenloop.store.span_filter import SpanFilter

FRAME_KINDS = ("llm",)


class SamplingError(GoldenloopError):
    """A queue that cannot be made as asked (empty frame, bad design, unknown queue)."""


def make_frame(**parts: Any) -> SpanFilter:
    """A span filter for a queue: ``SpanFilter(**parts)`` with ``kinds`` LLM calls unless
    given (``kinds=()`` takes every kind)."""
    parts.setdefault("kinds", FRAME_KINDS)
    return SpanFilter(**parts)


def frame_to_dict(f: SpanFilter) -> dict[str, Any]:
    """The stored form: the filter's JSON, ``kinds`` always written (its default differs)."""
    return f.to_dict(keep=("kinds",))


def frame_from_dict(data: dict[str, Any]) -> SpanFilter:
    """A frame from its stored JSON, from the old frame type's JSON (every field written,
    nulls for unset times) or from a job's partial dict: no ``kinds`` means LLM calls."""
    data = dict(data)
    if data.get("kinds") is None:
        data["kinds"] = list(FRAME_KINDS)
    return SpanFilter.from_dict(data)
