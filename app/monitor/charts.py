"""The Monitor page's charts by name: which series of ``metrics.Overview`` each one draws,
with which titles, formats and demo incidents. ``state.monitor_chart`` caches the resulting
Vega-Lite specs, so a page view that changes nothing draws from the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from goldenloop.metrics import Overview, SpanFilter, buckets
from goldenloop_app.common import charts as c
from goldenloop_app.untrusted import visible

LATENCY = ("p50", "p95", "p99")
FAILURES = {"all failures": "all", "errors": "error", "timeouts": "timeout",
            "empty answers": "empty"}
SIGNALS_OF = {"users": "user", "model": "output"}
# Which demo incidents each chart shades (the ground truth of `goldenloop demo`).
INCIDENTS = {
    "latency": ("latency_spike", "timeout_storm"), "failures": ("error_burst", "timeout_storm"),
    "tokens": ("token_drift",), "offensive": ("offensive_rise",),
    "correctness": ("correctness_drop",),
}


def frame_of(view: Overview) -> c.Frame:
    f = view.filter
    markers = view.markers
    if len(markers):
        markers = markers.assign(model_version=markers["model_version"].map(visible))
    return c.Frame(f.start, f.end, [visible(g) for g in view.requests.groups], markers,
                   view.incidents)


def pick(data: pd.DataFrame, keep: list[str], labels: dict[str, str] | None = None
         ) -> pd.DataFrame:
    out = data[data["series"].isin(keep)]
    return out.assign(series=out["series"].map(labels)) if labels else out


def _requests(view: Overview, choice: str | None) -> c.Chart:
    r = view.requests
    spec = c.Spec(f"Requests per {buckets.label(r.bucket)}", "requests")
    return c.line_chart(r.volume().assign(series="requests"), spec, frame_of(view), _split(view))


def _failures(view: Overview, choice: str | None) -> c.Chart:
    labels = {v: k for k, v in FAILURES.items()}
    if _split(view):
        kind = choice or "all failures"
        keep, title = [FAILURES[kind]], f"Failure rate: {kind}"
    else:
        keep, title = ["error", "timeout", "empty"], "Failure rate by kind"
    spec = c.Spec(title, "share of requests", ".2%", percent=True, incidents=INCIDENTS["failures"])
    return c.line_chart(pick(view.requests.failures(), keep, labels), spec, frame_of(view),
                        _split(view))


def _latency(view: Overview, choice: str | None) -> c.Chart:
    keep = [choice or "p95"] if _split(view) else list(LATENCY)
    spec = c.Spec(f"Latency {' / '.join(keep)}", "ms (log scale)", ",.0f",
                  incidents=INCIDENTS["latency"], log=True)
    return c.line_chart(pick(view.requests.latency(), keep), spec, frame_of(view), _split(view))


def _ttft(view: Overview, choice: str | None) -> c.Chart:
    keep = [choice if choice in ("p50", "p95") else "p95"] if _split(view) else ["p50", "p95"]
    spec = c.Spec(f"Time to first token {' / '.join(keep)} (streamed requests)", "ms (log scale)",
                  ",.0f", incidents=INCIDENTS["latency"], log=True)
    return c.line_chart(pick(view.requests.ttft(), keep), spec, frame_of(view), _split(view))


def _tokens(which: str) -> Callable[[Overview, str | None], c.Chart]:
    def build(view: Overview, choice: str | None) -> c.Chart:
        spec = c.Spec(f"{which.capitalize()} tokens per response", "tokens", ",.0f",
                      "answered requests", incidents=INCIDENTS["tokens"])
        return c.line_chart(pick(view.requests.tokens(), [which]), spec, frame_of(view),
                            _split(view))
    return build


def _cost_per_day(view: Overview, choice: str | None) -> c.Chart:
    spec = c.Spec("Cost per day", "USD", "$,.2f", incidents=INCIDENTS["tokens"])
    data = view.requests.cost_per_day().assign(series="cost")
    return c.bar_chart(data, spec, frame_of(view), _split(view))


def _cost_per_1k(view: Overview, choice: str | None) -> c.Chart:
    spec = c.Spec("Cost per 1,000 requests", "USD", "$,.3f", incidents=INCIDENTS["tokens"])
    data = pick(view.requests.cost(), ["per_1k_requests"], {"per_1k_requests": "per 1k requests"})
    return c.line_chart(data, spec, frame_of(view), _split(view))


def _signal(measure: str) -> Callable[[Overview, str | None], c.Chart]:
    def build(view: Overview, choice: str | None) -> c.Chart:
        whose = [choice or "users"] if _split(view) else list(SIGNALS_OF)
        keep = [f"{SIGNALS_OF[w]}_{measure}" for w in whose]
        labels = {f"{v}_{measure}": k for k, v in SIGNALS_OF.items()}
        if measure == "offensive":
            spec = c.Spec("Offensive messages", "share of texts", ".1%", "texts scored",
                          incidents=INCIDENTS["offensive"], percent=True)
        else:
            spec = c.Spec("Sentiment (−1 to 1)", "mean sentiment", ".2f", "texts scored",
                          zero=False, axis_format=".1f")
        return c.line_chart(pick(view.signals, keep, labels), spec, frame_of(view), _split(view))
    return build


def _correctness(source: str, title: str) -> Callable[[Overview, str | None], c.Chart]:
    def build(view: Overview, choice: str | None) -> c.Chart:
        data = view.correctness[view.correctness["series"] == source]
        per = buckets.label(view.correctness_bucket).removeprefix("1 ")
        spec = c.Spec(f"{title}, mean per {per}", "mean grade", n_title="graded requests",
                      incidents=INCIDENTS["correctness"], zero=False)
        return c.ci_chart(data, spec, frame_of(view), _split(view), view.correctness_scale)
    return build


def _feedback(series: str, title: str, y_title: str, n_title: str, label: str
              ) -> Callable[[Overview, str | None], c.Chart]:
    def build(view: Overview, choice: str | None) -> c.Chart:
        spec = c.Spec(title, y_title, ".1%", n_title, percent=True)
        return c.line_chart(pick(view.feedback, [series], {series: label}), spec,
                            frame_of(view), _split(view))
    return build


def _split(view: Overview) -> bool:
    return view.split is not None


CHARTS: dict[str, Callable[[Overview, str | None], c.Chart]] = {
    "requests": _requests,
    "failures": _failures,
    "latency": _latency,
    "ttft": _ttft,
    "input_tokens": _tokens("input"),
    "output_tokens": _tokens("output"),
    "cost_per_day": _cost_per_day,
    "cost_per_1k": _cost_per_1k,
    "offensive": _signal("offensive"),
    "sentiment": _signal("sentiment"),
    "correctness_human": _correctness("human", "Reviewers (human grades)"),
    "correctness_judge": _correctness("judge", "LLM judge scores"),
    "feedback_rate": _feedback("feedback_rate", "Feedback rate", "share of requests",
                               "requests", "feedback given"),
    "thumbs_down": _feedback("thumbs_down", "Thumbs down", "share of thumbs", "thumbs",
                             "thumbs down"),
}


# Which detected anomalies (``goldenloop.anomalies`` metric names) each chart shows.
DETECTED = {
    "requests": ("requests",), "failures": ("error_rate", "timeout_rate", "empty_rate"),
    "latency": ("latency_p50", "latency_p95", "latency_p99"), "ttft": ("ttft_p95",),
    "input_tokens": ("input_tokens",), "output_tokens": ("output_tokens",),
    "cost_per_day": ("cost_usd",), "cost_per_1k": ("cost_usd",),
    "offensive": ("user_offensive_rate", "output_offensive_rate"),
    "sentiment": ("user_sentiment", "output_sentiment"),
    "correctness_human": ("correctness",), "correctness_judge": ("correctness",),
    "feedback_rate": ("negative_feedback_rate",), "thumbs_down": ("negative_feedback_rate",),
}


def build(view: Overview, name: str, choice: str | None = None,
          detected: pd.DataFrame | None = None) -> c.Chart:
    """Chart ``name``; with ``detected`` (``anomalies.list_anomalies`` rows), the anomalies
    of its metrics drawn as a layer of their own."""
    chart = CHARTS[name](view, choice)
    if detected is None or detected.empty:
        return chart
    mine = detected[detected["metric"].isin(DETECTED.get(name, ()))]
    f = view.filter
    apart = (f.end - f.start) / 12 if f.start and f.end else timedelta(0)
    return c.add_detected(chart, frame_of(view), detected_rows(mine, apart))


def detected_rows(df: pd.DataFrame, apart: timedelta) -> pd.DataFrame:
    """The overlay's rows: window, a short label, and what, where and how severe (names
    from data made visible). Labels closer than ``apart`` to a more severe (or earlier)
    one are left blank, so they do not print over each other; the tooltip still tells."""
    df = df.sort_values(["severity", "window_start"], ascending=[False, True])
    where = [f"{d} = {v}" if isinstance(d, str) else "whole app"
             for d, v in zip(df["dimension"], df["value"], strict=True)]
    shown: list[datetime] = []
    labels = []
    for start, kind in zip(df["window_start"], df["kind"], strict=True):
        free = all(abs(start - t) >= apart for t in shown)
        shown += [start] if free else []
        labels.append("detected: " + kind.replace("_", " ") if free else "")
    return pd.DataFrame({
        "start": df["window_start"], "end": df["window_end"], "label": labels,
        "what": [f"{m.replace('_', ' ')} {k.replace('_', ' ')} · {s}" for m, k, s in
                 zip(df["metric"], df["kind"], df["status"], strict=True)],
        "where": [visible(f"{a} · {w}") for a, w in zip(df["app"], where, strict=True)],
        "severity": df["severity_name"]})


# -- Drill-down: from a picked point to the spans behind it ------------------------------
# Per chart: which spans of the bucket to list (a ``traces.CONDITIONS`` name, per picked
# series where the series says it) and in which order (``traces.ORDERS``).
DRILL = {
    "requests": (None, "recent"),
    "failures": ({"errors": "error", "timeouts": "timeout", "empty answers": "empty",
                  "all failures": "failed"}, "recent"),
    "latency": (None, "slowest"),
    "ttft": (None, "slowest_first_token"),
    "input_tokens": (None, "most_input_tokens"),
    "output_tokens": (None, "most_output_tokens"),
    "cost_per_day": (None, "costliest"),
    "cost_per_1k": (None, "costliest"),
    "offensive": ({"users": "user_offensive", "model": "output_offensive"}, "recent"),
    "sentiment": ({"users": "user_scored", "model": "output_scored"}, None),
    "correctness_human": ("graded", "recent"),
    "correctness_judge": ("graded", "recent"),
    "feedback_rate": ("feedback", "recent"),
    "thumbs_down": ("thumbs_down", "recent"),
}
CHART_NAMES = {"requests": "Requests", "failures": "Failure rate", "latency": "Latency",
               "ttft": "Time to first token", "input_tokens": "Input tokens",
               "output_tokens": "Output tokens", "cost_per_day": "Cost per day",
               "cost_per_1k": "Cost per 1,000 requests", "offensive": "Offensive messages",
               "sentiment": "Sentiment", "correctness_human": "Correctness (reviewers)",
               "correctness_judge": "Correctness (judge)", "feedback_rate": "Feedback rate",
               "thumbs_down": "Thumbs down"}
SENTIMENT_ORDER = {"users": "most_negative_user", "model": "most_negative_output"}


@dataclass(frozen=True)
class Drill:
    """The spans behind one picked point: the bucket as a filter, and what to list."""

    filter: SpanFilter
    group: str | None
    series: str | None
    condition: str | None
    order: str
    title: str
    chart: str = ""


def drill(view: Overview, name: str, choice: str | None, picked: dict) -> Drill:
    """What a click on chart ``name`` at ``picked`` (its time, group and series fields, as
    Vega sends them: time in epoch milliseconds) selects."""
    start = to_datetime(picked["time"])
    width = bucket_of(view, name)
    end = min(start + width, view.filter.end)
    series = picked.get("series")
    group = picked.get("group") if view.split else None
    # The chart shows groups made visible (``charts.visible_groups``): back to the stored name.
    group = {visible(g): g for g in view.requests.groups}.get(group, group)
    if view.split:  # one measure per split chart: the series is the measure chosen above
        series = _split_series(name, choice)
    condition, order = DRILL[name]
    if isinstance(condition, dict):
        condition = condition.get(series or "", None)
    if order is None:
        order = SENTIMENT_ORDER.get(series or "", "recent")
    f = view.filter.with_range(max(start, view.filter.start), end)
    what = " · ".join(str(v) for v in (group, series) if v and v != "all")
    title = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC" + (f" · {what}" if what else "")
    return Drill(f, group, series, condition, order, title, CHART_NAMES.get(name, name))


def _split_series(name: str, choice: str | None) -> str | None:
    if name == "failures":
        return choice or "all failures"
    if name in ("offensive", "sentiment"):
        return choice or "users"
    return None


def bucket_of(view: Overview, name: str) -> timedelta:
    """The width of one point of chart ``name``: the page's bucket, a day for cost per day
    and correctness, and the (possibly wider) feedback bucket."""
    if name == "cost_per_day":
        return max(view.bucket, buckets.DAY)
    if name.startswith("correctness"):
        return view.correctness_bucket
    if name in ("feedback_rate", "thumbs_down") and len(view.feedback):
        times = pd.Series(view.feedback["time"].unique()).sort_values()
        if len(times) > 1:
            return max(view.bucket, times.diff().min().to_pytimedelta())
    return view.bucket


def to_datetime(value) -> datetime:
    """A time from a Vega selection (epoch milliseconds, UTC) as a naive UTC datetime."""
    t = pd.Timestamp(int(value), unit="ms") if isinstance(value, (int, float)) \
        else pd.Timestamp(value)
    return (t.tz_localize(None) if t.tzinfo else t).to_pydatetime()
