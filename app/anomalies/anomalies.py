"""Anomalies: what detection found, most severe and most recent first, filtered by app,
metric, status and time; one anomaly opened with its chart window (observed series over the
baseline band), its example spans linking to their traces, and the actions: acknowledge,
mute for a period, reopen, send the examples to a review queue. A second view lists outlier
spans of normal times. One library (``goldenloop.anomalies``) gives every figure."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from goldenloop import anomalies
from goldenloop.errors import GoldenloopError
from goldenloop.metrics import SpanFilter
from goldenloop_app import state
from goldenloop_app.anomalies import panels as ap
from goldenloop_app.untrusted import md, visible

TIMES = {"last 24 hours": timedelta(days=1), "last 7 days": timedelta(days=7),
         "last 30 days": timedelta(days=30), "all": None}
VIEWS = ("Anomalies", "Outlier spans")


def sidebar(everything: pd.DataFrame, last) -> dict:
    st.sidebar.header("Filters")
    status = st.sidebar.multiselect("Status", ap.STATUS_ORDER, default=list(ap.NEEDS_ATTENTION),
                                    key="status", bind="query-params", placeholder="Any")
    apps = st.sidebar.multiselect("Apps", sorted(everything["app"].dropna().unique()),
                                  key="app", bind="query-params", placeholder="All",
                                  format_func=visible)
    metrics = st.sidebar.multiselect("Metrics", sorted(everything["metric"].unique()),
                                     key="metric", bind="query-params", placeholder="All",
                                     format_func=ap.metric_title)
    period = st.sidebar.selectbox("Window ends within", list(TIMES), index=2, key="time",
                                  bind="query-params",
                                  help="Counted back from the newest request in the store")
    since = None if TIMES[period] is None or last is None else last - TIMES[period]
    return {"status": tuple(status), "apps": tuple(apps), "metrics": tuple(metrics),
            "since": since}


def draw_list(store, flt: dict, everything: pd.DataFrame) -> None:
    found = anomalies.list_anomalies(store, **flt)
    labels = {int(r.anomaly_id): ap.label(r) for r in found.itertuples()}
    raw = st.query_params.get("anomaly")
    if "anomaly" not in st.session_state and raw and raw.isdigit():
        linked = int(raw)  # a link from Home or Monitor: shown even outside the filters
        extra = everything[everything["anomaly_id"] == linked]
        labels = {**{int(r.anomaly_id): ap.label(r) for r in extra.itertuples()}, **labels}
        if linked in labels:
            st.session_state["anomaly"] = linked
    if found.empty:
        st.info("No anomaly matches these filters. Widen them in the sidebar (status 'resolved' "
                "lists anomalies that have ended).", icon=":material/filter_alt_off:")
        if not labels:
            return
    else:
        shown = f"{len(found):,} anomalies" + (" (the first 500)" if len(found) >= 500 else "")
        counts = found["severity_name"].value_counts()
        st.text(shown + ": " + ", ".join(f"{counts[s]} {s}" for s in ("high", "medium", "low")
                                         if s in counts) + ".")
        ap.list_table(found)
    draw_chosen(store, labels)


@st.fragment
def draw_chosen(store, labels: dict) -> None:
    """The chosen anomaly's panel, a fragment: choosing another anomaly or a mute period runs
    and redraws this panel only, not the list and the sidebar. A status change reruns all."""
    chosen = st.selectbox("Open an anomaly", list(labels), format_func=labels.get, key="anomaly")
    if chosen is not None:
        st.query_params["anomaly"] = str(chosen)
        draw_one(store, int(chosen))


def draw_one(store, anomaly_id: int) -> None:
    try:
        a = anomalies.get_anomaly(store, anomaly_id)
    except GoldenloopError as exc:
        st.warning(md(str(exc)), icon=":material/search_off:")
        return
    with st.container(border=True):
        ap.draw_header(a)
        ap.draw_chart(store, a)
        st.subheader("Example spans")
        ex = ap.draw_examples(store, a)
        ap.draw_actions(store, a, not ex.empty)
        ap.draw_history(store, a)


st.title("Anomalies")
st.caption("Found by detection over every monitored series (per app, and per model version, "
           "prompt version and component): spikes and dips against the usual level for the "
           "hour of the day (weekdays and weekends apart), lasting shifts, new versions and "
           "new failure kinds. Detection "
           "runs after imports and every 15 minutes under `goldenloop serve`, or with "
           "`goldenloop anomalies detect`.")
store = state.get_store()
try:
    everything = anomalies.list_anomalies(store, limit=100_000)
except GoldenloopError as exc:
    st.error(md(str(exc), 2000), icon=":material/error:")
    st.stop()
dims = state.monitor_dimensions(store)
view = st.segmented_control("Show", VIEWS, default=VIEWS[0], key="view", bind="query-params",
                            label_visibility="collapsed") or VIEWS[0]
if view == VIEWS[1]:
    if dims.empty:
        st.info("No LLM requests yet: no outliers to look for.", icon=":material/inbox:")
        st.stop()
    end = dims.last + timedelta(hours=1)
    ap.draw_outliers(store, SpanFilter(start=end - timedelta(days=7), end=end))
    st.stop()
if everything.empty:
    st.info("No anomaly has been detected yet. Run detection on the data in the store:",
            icon=":material/radar:")
    st.code("goldenloop anomalies detect", language=None)
    st.stop()
draw_list(store, sidebar(everything, dims.last if not dims.empty else None), everything)
