"""The sidebar filters the monitoring pages share (Monitor, Conversations, Traces): a time
range and the dimensions of ``metrics.SpanFilter``, bound to the URL so a view can be shared.
The same query parameters mean the same thing on every page, so a link can carry a filter
from one page to the next.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import streamlit as st

from goldenloop.metrics import Dimensions, SpanFilter
from goldenloop_app.untrusted import visible

RANGES = {"Last 24 hours": 1, "Last 7 days": 7, "Last 30 days": 30, "All data": None,
          "Custom": "custom"}
DEFAULT_RANGE = "Last 30 days"  # also what the Monitor's warm-up at server start fills
FILTERS = (  # query parameter, label, Dimensions.values key
    ("app", "Apps", "apps"),
    ("env", "Environments", "environments"),
    ("model", "Model versions", "model_versions"),
    ("prompt", "Prompt versions", "prompt_versions"),
    ("tag", "Tags", "tags"),
)


def hour_floor(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def time_range(dims: Dimensions, default: str = DEFAULT_RANGE) -> tuple[datetime, datetime, str]:
    """The chosen range, ending at the hour after the last request (not the wall clock:
    imported history stays visible), and a phrase for it."""
    label = st.sidebar.selectbox("Time range", list(RANGES), index=list(RANGES).index(default),
                                 key="range", bind="query-params")
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


def sidebar_filters(dims: Dimensions, only: tuple[str, ...] | None = None
                    ) -> tuple[SpanFilter, str]:
    """The filter chosen in the sidebar (``only``: the query parameters of the dimensions to
    offer; all by default) and a phrase for its time range."""
    st.sidebar.header("Filters")
    start, end, phrase = time_range(dims)
    chosen = {}
    for key, label, values_key in FILTERS:
        if only is not None and key not in only:
            continue
        options = dims.values[values_key]
        chosen[values_key] = st.sidebar.multiselect(
            label, options, key=key, bind="query-params", placeholder="All", format_func=visible,
            disabled=not options)
    internal = st.sidebar.checkbox(
        "Include goldenloop's own traffic", key="internal", bind="query-params",
        help="Judge calls, experiments and canaries that goldenloop makes itself. Left out by "
             "default: they are not your application's traffic (the Judges page shows them).")
    return SpanFilter(start=start, end=end, include_internal=internal, **chosen), phrase
