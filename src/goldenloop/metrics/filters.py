"""What the monitoring views add to the one span filter (``store.span_filter.SpanFilter``):
the dimensions a chart may be split by. Pages that compare versions, drill into spans or
sample review queues take the same filter object, so a view can hand its filter to the next
one (and a queue can keep it as its sampling frame).
"""

from __future__ import annotations

from goldenloop.errors import FilterError
from goldenloop.store.span_filter import JUDGE_MODES, SpanFilter

SPLITS = ("model_version", "prompt_version", "app", "environment")


def check_split(split: str | None) -> str | None:
    if split is not None and split not in SPLITS:
        raise FilterError(f"cannot split by {split!r}: choose one of {', '.join(SPLITS)}")
    return split


__all__ = ["JUDGE_MODES", "SPLITS", "FilterError", "SpanFilter", "check_split"]
