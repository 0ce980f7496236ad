"""Monitor: traffic, latency, tokens, cost, failures and answer quality over time.

Filters sit in the sidebar (and in the URL, so a view can be shared); every chart comes from
one cached library call, ``goldenloop.metrics.overview``. App, version and tag names come
from users' data: they reach the page only as widget options, chart data and plain text.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import monitor_charts as mc
import pandas as pd
import state
import streamlit as st

from goldenloop.errors import GoldenloopError
from goldenloop.metrics import Dimensions, Overview, SpanFilter, buckets

RANGES = {"Last 24 hours": 1, "Last 7 days": 7, "Last 30 days": 30, "All data": None,
          "Custom": "custom"}
SPLITS = {"none": None, "model version": "model_version", "prompt version": "prompt_version",
          "app": "app"}
FILTERS = (  # query parameter, label, Dimensions.values key
    ("app", "Apps", "apps"),
    ("env", "Environments", "environments"),
    ("model", "Model versions", "model_versions"),
    ("prompt", "Prompt versions", "prompt_versions"),
    ("tag", "Tags", "tags"),
)


def hour_floor(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def time_range(dims: Dimensions) -> tuple[datetime, datetime, str]:
    """The chosen range, ending at the hour after the last request (not the wall clock:
    imported history stays visible), and a phrase for it."""
    label = st.sidebar.selectbox("Time range", list(RANGES), index=2, key="range",
                                 bind="query-params")
    end = hour_floor(dims.last) + timedelta(hours=1)
    days = RANGES[label]
    if days == "custom":
        first = dims.first.date()
        picked = st.sidebar.date_input("From – to (UTC)", (max(first, end.date() - timedelta(7)),
                                                          dims.last.date()),
                                       min_value=first, max_value=dims.last.date())
        if len(picked) == 2:
            a, b = picked
            return datetime.combine(a, time()), datetime.combine(b + timedelta(1), time()), \
                f"{a:%Y-%m-%d} to {b:%Y-%m-%d}"
        days = 7
    start = hour_floor(dims.first) if days is None else end - timedelta(days=days)
    return start, end, label.lower()


def sidebar_filters(dims: Dimensions) -> tuple[SpanFilter, str | None, str]:
    st.sidebar.header("Filters")
    start, end, phrase = time_range(dims)
    chosen = {}
    for key, label, values_key in FILTERS:
        options = dims.values[values_key]
        chosen[values_key] = st.sidebar.multiselect(
            label, options, key=key, bind="query-params", placeholder="All",
            disabled=not options)
    split_label = st.sidebar.radio("Split every chart by", list(SPLITS), key="split",
                                   bind="query-params", horizontal=True)
    return SpanFilter(start=start, end=end, **chosen), SPLITS[split_label], phrase


def draw_empty_store() -> None:
    st.info("No LLM requests yet: nothing to monitor.", icon=":material/inbox:")
    st.write("Generate a realistic demo history (incidents included), or import your traces:")
    st.code("goldenloop demo", language=None)
    st.code("goldenloop import FILE", language=None)
    st.caption("Then reload this page.")


def fmt_ms(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms"


def compact(n: int) -> str:
    """Short enough for a sixth of the page: 430,532 → 430.5k (the tile's help is exact)."""
    if n < 100_000:
        return f"{n:,}"
    return f"{n / 1e3:.1f}k" if n < 1_000_000 else f"{n / 1e6:.2f}M"


def fmt_usd(v: float | None) -> str:
    if v is None:
        return "—"
    return f"${v:,.0f}" if v >= 100 else f"${v:,.2f}"  # a sixth of the page is narrow


def draw_tiles(view: Overview) -> None:
    t = view.totals
    tiles = [
        ("Requests", compact(t.requests), f"{t.requests:,} LLM calls in the range"),
        ("Failure rate", f"{t.failure_rate:.2%}", f"{t.failures:,} errors, timeouts and empty "
                                                  "answers"),
        ("Latency p50", fmt_ms(t.latency_p50), "median over all requests, failed ones too"),
        ("Latency p95", fmt_ms(t.latency_p95), "95th percentile over all requests"),
        ("Output tokens", "—" if t.output_tokens is None else f"{t.output_tokens:,.0f}",
         "mean output tokens per answered request"),
        ("Cost", fmt_usd(t.cost_usd),
         f"{t.priced:,} of {t.requests:,} requests have a cost"),
    ]
    for col, (label, value, help_text) in zip(st.columns(len(tiles)), tiles, strict=True):
        col.metric(label, value, help=help_text, border=True)


def show(container, name: str, choice: str | None = None) -> None:
    """One chart, from the cache of finished specs (``state.monitor_chart``)."""
    container.vega_lite_chart(spec=state.monitor_chart(store, f, split, name, choice),
                              width="stretch")


def choice(container, label: str, options, default: str, key: str) -> str | None:
    """A measure to draw when the charts are split (one line per group leaves no room for
    several measures); None when they are not."""
    if split is None:
        return None
    picked = container.segmented_control(label, list(options), default=default, key=key)
    return picked or default


def draw_requests() -> None:
    # The measure pickers sit above both rows, so the charts beside each other line up.
    left, right = st.columns(2, gap="medium")
    kind = choice(left, "Failures", mc.FAILURES, "all failures", "failure_kind")
    pct = choice(right, "Latency percentile", mc.LATENCY, "p95", "latency_pct")
    left, right = st.columns(2, gap="medium")
    show(left, "requests")
    show(right, "failures", kind)
    left, right = st.columns(2, gap="medium")
    show(left, "latency", pct)
    show(right, "ttft", pct)


def draw_tokens_and_cost() -> None:
    for names in (("input_tokens", "output_tokens"), ("cost_per_day", "cost_per_1k")):
        for col, name in zip(st.columns(2, gap="medium"), names, strict=True):
            show(col, name)


def draw_signals(view: Overview) -> None:
    st.subheader("Offensive language and sentiment")
    if view.signals.empty:
        st.info("No automatic signals for these requests yet: they appear once the scorers "
                "have read the user messages and answers.", icon=":material/hourglass_empty:")
        return
    whose = choice(st, "Texts of", mc.SIGNALS_OF, "users", "signals_of")
    for col, name in zip(st.columns(2, gap="medium"), ("offensive", "sentiment"), strict=True):
        show(col, name, whose)


def draw_correctness(view: Overview) -> None:
    st.subheader("Correctness")
    c = view.correctness
    if c.empty:
        st.info("No human grades or judge scores on these requests yet.",
                icon=":material/hourglass_empty:")
        return
    for col, source in zip(st.columns(2, gap="medium"), ("human", "judge"), strict=True):
        if (c["series"] == source).any():
            show(col, f"correctness_{source}")
        else:
            col.caption(f"No {source} grades in this range.")
    n = c.groupby("series")["n"].sum()
    per = buckets.label(view.correctness_bucket).removeprefix("1 ")
    st.caption(f"Mean grade per {per} of the graded requests, by when they were answered, "
               f"with a 95% confidence interval: {int(n.get('human', 0)):,} requests graded by "
               f"reviewers and {int(n.get('judge', 0)):,} by the judge in this range. Grades "
               "from review queues count by their inclusion probability.")


def draw_feedback(view: Overview) -> None:
    st.subheader("End-user feedback")
    if view.feedback.empty:
        st.info("No end-user feedback on these requests yet.", icon=":material/hourglass_empty:")
        return
    for col, name in zip(st.columns(2, gap="medium"), ("feedback_rate", "thumbs_down"), strict=True):
        show(col, name)


def draw_incidents(view: Overview) -> None:
    """The demo's ground truth, as plain text: six lines do not need the table widget, which
    the browser would load on every visit."""
    if view.incidents.empty:
        return
    with st.expander(f"Demo incidents in this range ({len(view.incidents)}): the ground truth "
                     "shaded on the charts"):
        for r in view.incidents.itertuples():
            until = "still in effect" if pd.isna(r.ends_at) else f"until {r.ends_at:%Y-%m-%d %H:%M}"
            app = r.app if isinstance(r.app, str) else "all apps"
            st.text(f"{r.kind.replace('_', ' ')} ({app}), from "
                    f"{r.starts_at:%Y-%m-%d %H:%M} UTC {until}: {r.description}")


st.title("Monitor")
store = state.get_store()
dims = state.monitor_dimensions(store)
if dims.empty:
    draw_empty_store()
    st.stop()

try:
    f, split, phrase = sidebar_filters(dims)
    view = state.monitor_overview(store, f, split)
except GoldenloopError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

st.caption(f"{phrase.capitalize()}: {f.start:%Y-%m-%d %H:%M} to {f.end:%Y-%m-%d %H:%M} UTC, "
           f"in buckets of {buckets.label(view.bucket)}. Requests are LLM calls; agent, "
           "retrieval and tool steps are not counted. Dashed lines mark the first request of "
           "a new model version.")
if view.empty:
    st.info("No requests match these filters in this time range.", icon=":material/filter_alt_off:")
    st.stop()

draw_tiles(view)
st.subheader("Traffic, failures and latency")
draw_requests()
st.subheader("Tokens and cost")
draw_tokens_and_cost()
draw_signals(view)
draw_correctness(view)
draw_feedback(view)
draw_incidents(view)
