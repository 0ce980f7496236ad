"""Fills the Monitor's caches for its default view when the server starts, so the first person
to open the page does not wait for the queries, the chart specs and the imports behind them.

Streamlit has no server-start hook and runs no page before a browser connects: the owner
process (``goldenloop_app.host``) starts ``start()`` beside the server. The thread waits for
Streamlit's runtime (its cache storage exists only then; a value cached before would land in
a throw-away store), then calls the same cached functions of ``goldenloop_app.state`` the page
calls, with the filter the page builds when no filter is chosen.

The thread has no page run, so it must not draw: a cached function called on a miss shows its
spinner, and a spinner outside a page run logs "missing ScriptRunContext". The warm-up runs
inside a cached function of its own, which makes Streamlit treat the page's caches as nested
ones and show no spinner for them (as it does for any cache called from another).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import streamlit as st
from streamlit.logger import get_logger

# Streamlit's logger: its handler writes to the server's log (a plain logger's info is dropped),
# so the operator, and the serve test, see when the warm-up finished.
log = get_logger(__name__)
RUNTIME_WAIT_S = 60
# The page's rows when the charts are not split (no measure to choose): see monitor.py.
TRAFFIC = ("requests", "failures", "latency", "ttft", "input_tokens", "output_tokens",
           "cost_per_day", "cost_per_1k")


def start() -> threading.Thread:
    """Warm the default Monitor view in a daemon thread (it never delays the server)."""
    thread = threading.Thread(target=_run, name="goldenloop-monitor-warm", daemon=True)
    thread.start()
    return thread


def _run() -> None:
    from streamlit import runtime

    deadline = time.monotonic() + RUNTIME_WAIT_S
    while not runtime.exists():
        if time.monotonic() > deadline:
            log.warning("Monitor caches not warmed: the Streamlit runtime did not start")
            return
        time.sleep(0.1)
    t = time.perf_counter()
    try:
        charts = _warm_nested()
    except Exception:  # a failed warm-up costs only speed: the page reports its own errors
        log.exception("Monitor caches not warmed")
        return
    log.info("Monitor's default view warmed in %.2f s (%d charts)", time.perf_counter() - t, charts)


@st.cache_resource(show_spinner=False)
def _warm_nested() -> int:
    # Cached once per process: a second call (none is made) would warm nothing new.
    return warm()


def default_filter(dims):
    """The filter the Monitor page builds when the sidebar is left as it is: the default time
    range (``span_filters.time_range``) ending the hour after the last request, every
    dimension, goldenloop's own traffic left out, judge versions fit for use."""
    from goldenloop.metrics import SpanFilter
    from goldenloop_app.common import span_filters

    end = span_filters.hour_floor(dims.last) + timedelta(hours=1)
    days = span_filters.RANGES[span_filters.DEFAULT_RANGE]
    start = span_filters.hour_floor(dims.first) if days is None else end - timedelta(days=days)
    return SpanFilter(start=start, end=end, include_internal=False, judges="fit")


def warm(store=None) -> int:
    """Compute and cache the default view's aggregates and chart specs; the charts built."""
    from goldenloop.estimation import ppi
    from goldenloop.experiments import canaries
    from goldenloop_app import state

    store = store or state.get_store()
    dims = state.monitor_dimensions(store)
    if dims.empty:
        return 0
    f = default_filter(dims)
    view = state.monitor_overview(store, f, None)
    if view.empty:
        return 0
    state.monitor_detected(store, f)
    names = list(TRAFFIC)
    if not view.signals.empty:
        names += ["offensive", "sentiment"]
    if not view.correctness.empty:
        names += [f"correctness_{s}" for s in ("human", "judge")
                  if (view.correctness["series"] == s).any()]
    if not view.feedback.empty:
        names += ["feedback_rate", "thumbs_down"]
    for name in names:
        state.monitor_chart(store, f, None, name, None)
    state.aggregate(store, canaries.monitor_series, f.start, f.end)
    state.aggregate(store, ppi.traffic_estimates, f.start, f.end)
    return len(names)
