"""Time-bucketed aggregates of traffic for monitoring: volume, latency, tokens, cost,
failures, automatic signals, correctness and feedback, by any split, with the bucket width
adapted to the time range (``buckets``). Every aggregate is one SQL statement in
``goldenloop.store.metrics_sql``; this package picks widths and reshapes the results into
tidy frames. Requests are LLM calls (spans of kind ``llm``).

    f = SpanFilter(start=..., end=..., apps=("support-bot",))
    view = overview(store, f, split="model_version")
    view.requests.latency()   # time, group, series (p50/p95/p99), value, n
"""

from goldenloop.metrics.buckets import MAX_POINTS, choose_bucket
from goldenloop.metrics.filters import SPLITS, FilterError, SpanFilter
from goldenloop.metrics.overview import (
    Dimensions,
    Overview,
    Totals,
    dimensions,
    incidents,
    overview,
    totals,
    version_markers,
)
from goldenloop.metrics.quality import correctness, feedback, graded_criteria, signals
from goldenloop.metrics.series import RequestStats, request_stats

__all__ = [
    "MAX_POINTS",
    "SPLITS",
    "Dimensions",
    "FilterError",
    "Overview",
    "RequestStats",
    "SpanFilter",
    "Totals",
    "choose_bucket",
    "correctness",
    "dimensions",
    "feedback",
    "graded_criteria",
    "incidents",
    "overview",
    "request_stats",
    "signals",
    "totals",
    "version_markers",
]
