"""Time-bucketed aggregates of traffic for monitoring: volume, latency, tokens, cost,
failures, automatic signals, correctness and feedback, by any split, with the bucket width
adapted to the time range (``buckets``). Every aggregate is one SQL statement in
``goldenloop.metrics.sql``; this package picks widths and reshapes the results into
tidy frames. Requests are LLM calls (spans of kind ``llm``).

    f = SpanFilter(start=..., end=..., apps=("support-bot",))
    view = overview(store, f, split="model_version")
    view.requests.latency()   # time, group, series (p50/p95/p99), value, n

Version comparison (``compare``): two model versions, prompt versions or time windows of one
app, every metric for both with a session-bootstrap interval of the difference, flagged only
when significant and beyond a practical threshold. (``goldenloop.metrics.compare`` is the
function, which hides its module of the same name: use the names exported here.)
"""

from goldenloop.metrics.buckets import MAX_POINTS, choose_bucket
from goldenloop.metrics.compare import (
    CompareError,
    Comparison,
    Grades,
    Sides,
    compare,
    compare_grades,
    compare_in,
    default_pair,
    side_options,
    side_options_in,
    thresholds_by_key,
    version_sides,
    window_sides,
)
from goldenloop.metrics.compare_metrics import METRICS, Metric, Threshold
from goldenloop.metrics.filters import SPLITS, FilterError, SpanFilter
from goldenloop.metrics.overview import (
    Dimensions,
    Overview,
    Totals,
    dimensions,
    dimensions_in,
    incidents,
    overview,
    overview_in,
    totals,
    totals_in,
    version_markers,
    version_markers_in,
)
from goldenloop.metrics.quality import (
    correctness,
    correctness_in,
    feedback,
    feedback_in,
    graded_criteria,
    signals,
    signals_in,
)
from goldenloop.metrics.series import RequestStats, request_stats, request_stats_in

# The span filter's SQL and the definitions other parts (alerts, anomaly detection) share.
from goldenloop.metrics.sql import OFFENSIVE_THRESHOLD, REQUEST_KIND, UNSET_GROUP, where_clause

__all__ = [
    "MAX_POINTS",
    "METRICS",
    "OFFENSIVE_THRESHOLD",
    "REQUEST_KIND",
    "SPLITS",
    "UNSET_GROUP",
    "CompareError",
    "Comparison",
    "Dimensions",
    "FilterError",
    "Grades",
    "Metric",
    "Overview",
    "RequestStats",
    "Sides",
    "SpanFilter",
    "Threshold",
    "Totals",
    "choose_bucket",
    "compare",
    "compare_grades",
    "compare_in",
    "correctness",
    "correctness_in",
    "default_pair",
    "dimensions",
    "dimensions_in",
    "feedback",
    "feedback_in",
    "graded_criteria",
    "incidents",
    "overview",
    "overview_in",
    "request_stats",
    "request_stats_in",
    "side_options",
    "side_options_in",
    "signals",
    "signals_in",
    "thresholds_by_key",
    "totals",
    "totals_in",
    "version_markers",
    "version_markers_in",
    "version_sides",
    "where_clause",
    "window_sides",
]
