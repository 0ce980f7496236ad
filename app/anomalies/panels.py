"""Drawing helpers of the Anomalies page: the list's columns, one anomaly's chart (observed
series over its baseline band, the window shaded), its example spans with links to their
traces, the status actions and the outlier spans. Every name and text comes from data and
is shown as plain text, dataframe cells or chart data (``untrusted``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from goldenloop import anomalies
from goldenloop.access import roles
from goldenloop.errors import GoldenloopError
from goldenloop.spanstore import DUCKDB
from goldenloop.store import Store
from goldenloop_app import state
from goldenloop_app.common import identity, span_table
from goldenloop_app.untrusted import md, visible, visible_frame

WHEN = "YYYY-MM-DD HH:mm"
TITLES = {m.name: m.title for m in anomalies.METRICS}
UNITS = {m.name: m.unit for m in anomalies.METRICS}
STATUS_ORDER = list(anomalies.STATUSES)
NEEDS_ATTENTION = ("open", "acknowledged", "muted")
MUTE_FOR = {"1 hour": timedelta(hours=1), "6 hours": timedelta(hours=6),
            "1 day": timedelta(days=1), "7 days": timedelta(days=7)}
BAND = "#9ecae1"
OBSERVED = "#08519c"
WINDOW = "#d6404e"
MAX_POINTS = 180  # per line of an anomaly's chart: see ``coarser``
CELL_CHARS = 300  # a table cell shows the start of a long text; the trace shows it whole
LIST_COLUMNS = {
    "anomaly_id": st.column_config.NumberColumn("Id", format="plain", width="small"),
    "severity_name": st.column_config.TextColumn("Severity", width="small"),
    "status": st.column_config.TextColumn("Status", width="small"),
    "app": st.column_config.TextColumn("App"),
    "metric": st.column_config.TextColumn("Metric"),
    "where": st.column_config.TextColumn("Where", help="The whole app, or one model version, "
                                         "prompt version, component or error type"),
    "kind": st.column_config.TextColumn("Kind", width="small"),
    "window_start": st.column_config.DatetimeColumn("From (UTC)", format=WHEN),
    "window_end": st.column_config.DatetimeColumn("Until (UTC)", format=WHEN),
    "baseline": st.column_config.NumberColumn("Baseline", format="%.4g"),
    "observed": st.column_config.NumberColumn("Observed", format="%.4g"),
    "description": st.column_config.TextColumn("What happened", width="large"),
}
EXAMPLE_COLUMNS = {
    "link": st.column_config.LinkColumn("trace", display_text="open", width="small"),
    "why": st.column_config.TextColumn("Why it is an example"),
    "start_time": st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "status": st.column_config.TextColumn("Status", width="small"),
    "latency_ms": st.column_config.NumberColumn("Latency ms", format="%.0f"),
    "output_tokens": st.column_config.NumberColumn("Output tokens", format="%d"),
    "model_version": st.column_config.TextColumn("Model version"),
    "error_message": st.column_config.TextColumn("Error"),
    "last_user_message": st.column_config.TextColumn("User message (start)", width="medium"),
    "output": st.column_config.TextColumn("Answer (start)", width="medium"),
}


def where(df: pd.DataFrame) -> pd.Series:
    """"whole app", or "model_version = X": the series an anomaly was found in."""
    dim = df["dimension"].fillna("")
    return pd.Series([f"{d} = {v}" if d else "whole app"
                      for d, v in zip(dim, df["value"].fillna(""), strict=True)], index=df.index)


def grid(df: pd.DataFrame, columns: dict, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """Only the columns a table shows (and ``keep``), long texts cut: every cell goes to the
    browser, shown or not, and the grid's drawing time grows with them."""
    out = df[[c for c in (*columns, *keep) if c in df.columns]]
    texts = {c: out[c].str.slice(0, CELL_CHARS) for c in out.columns if _text(out[c])}
    return visible_frame(out.assign(**texts))


def _text(col: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(col) and bool(
        col.map(lambda v: v is None or isinstance(v, str) or pd.isna(v)).all())


def list_table(df: pd.DataFrame) -> None:
    shown = df.assign(where=where(df), metric=df["metric"].map(metric_title))
    st.dataframe(grid(shown, LIST_COLUMNS), hide_index=True, column_config=LIST_COLUMNS,
                 column_order=list(LIST_COLUMNS), placeholder="—")


def metric_title(name: str) -> str:
    return TITLES.get(name, name)


def unit_of(name: str) -> str:
    return UNITS.get(name, "")


def label(row) -> str:
    """One anomaly in a choice: id, severity, metric, app and where (plain text)."""
    place = f" · {row.dimension} = {row.value}" if isinstance(row.dimension, str) else ""
    return visible(f"#{row.anomaly_id} · {row.severity_name} · {metric_title(row.metric)} · "
                   f"{row.app}{place} · {row.kind} · {row.status}")


def _fmt(v, unit: str) -> str:
    if v is None or pd.isna(v):
        return "—"
    if unit == "share":
        return f"{v:.2%}"
    if unit == "USD":
        return f"${v:,.4f}"
    return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _change(observed, baseline, unit: str) -> str:
    if observed is None or baseline is None or pd.isna(observed) or pd.isna(baseline):
        return "—"
    if unit == "share":
        return f"{(observed - baseline) * 100:+.1f} pp"
    return f"{observed / baseline - 1:+.0%}" if baseline else "—"


def draw_header(a: anomalies.Anomaly) -> None:
    unit = unit_of(a.metric)
    runs = a.details.get("bucket") == "run"  # a canary suite's scores: one point per run
    st.text(visible(a.description))
    cols = st.columns([1, 1, 1, 1, 1.6])  # room for "acknowledged"
    cols[0].metric("Observed", _fmt(a.observed, unit), border=True)
    band = ("" if a.baseline_low is None or pd.isna(a.baseline_low) else
            f": usually {_fmt(a.baseline_low, unit)} to {_fmt(a.baseline_high, unit)}")
    cols[1].metric("Baseline", _fmt(a.baseline, unit), border=True,
                   help=("What the suite's runs before the drop scored" if runs else
                         "What the series usually shows at these hours of the week") + band)
    cols[2].metric("Change", _change(a.observed, a.baseline, unit), border=True)
    cols[3].metric("Severity", a.severity_name, border=True)
    cols[4].metric("Status", a.status, border=True)
    muted = f", muted until {a.muted_until:%Y-%m-%d %H:%M} UTC" if a.muted_until else ""
    by = f" by {a.status_by}" if a.status_by else ""
    st.text(visible(
        f"{metric_title(a.metric)} · {a.app} · " + (f"{a.dimension} = {a.value}" if a.dimension
                                                     else "whole app")
        + f" · {a.kind} ({a.direction}) from {a.window_start:%Y-%m-%d %H:%M} to "
          f"{a.window_end:%Y-%m-%d %H:%M} UTC · {a.n or 0:,} "
          f"{'items paired run to run' if runs else 'requests in the window'} · "
          f"status {a.status}{by}{muted} · detector {a.detector} {a.detector_version}"))


def coarser(series: pd.DataFrame, points: int = MAX_POINTS) -> pd.DataFrame:
    """At most about ``points`` buckets: hours merged into wider buckets for a long window
    (observed as the request-weighted mean, the band as the mean of its hourly ends), since
    the browser's drawing time grows with the points. Short windows stay hourly."""
    if len(series) <= points:
        return series
    hours = -(-len(series) // points)
    s = series.assign(w=series["n"].fillna(0), ow=series["observed"] * series["n"].fillna(0))
    g = s.resample(f"{hours}h", on="time")
    out = g[["baseline", "low", "high"]].mean().assign(
        n=g["w"].sum(), observed=g["ow"].sum() / g["w"].sum().where(lambda n: n > 0))
    return out.reset_index()


def window_chart(series: pd.DataFrame, a: anomalies.Anomaly) -> alt.LayerChart:
    """The observed series over the baseline band, the anomaly's window shaded. Hours after
    the last observed one are cut (the window's padding can reach past the data)."""
    unit = unit_of(a.metric)
    seen = series.loc[series["n"].fillna(0) > 0, "time"]
    if len(seen):
        series = series[series["time"] <= seen.max()]
    if unit in ("share", "requests/h", "ms", "tokens", "USD", "turns"):  # never below zero
        series = series.assign(low=series["low"].clip(lower=0))
    series = coarser(series)
    fmt = ".1%" if unit == "share" else "~s"
    dense = len(series) > 200
    x = alt.X("time:T", title=None, axis=alt.Axis(format="%b %d %H:%M", labelOverlap=True))
    base = alt.Chart(series)
    band = base.transform_filter("isValid(datum.low) && isValid(datum.high)").mark_area(
        color=BAND, opacity=0.55).encode(
        x=x, y=alt.Y("low:Q", title=unit, axis=alt.Axis(format=fmt)), y2="high:Q")
    baseline = base.transform_filter("isValid(datum.baseline)").mark_line(
        color="#4292c6", strokeDash=[4, 3]).encode(x=x, y="baseline:Q")
    observed = base.mark_line(color=OBSERVED, strokeWidth=1 if dense else 1.6,
                              point=False if dense else alt.OverlayMarkDef(size=16)).encode(
        x=x, y="observed:Q",
        tooltip=[alt.Tooltip("time:T", title="from (UTC)", format="%Y-%m-%d %H:%M"),
                 alt.Tooltip("observed:Q", format=".4g"), alt.Tooltip("baseline:Q", format=".4g"),
                 alt.Tooltip("low:Q", title="usual from", format=".4g"),
                 alt.Tooltip("high:Q", title="usual to", format=".4g"),
                 alt.Tooltip("n:Q", title="requests", format=",")])
    window = alt.Chart(pd.DataFrame({"start": [a.window_start], "end": [a.window_end]})) \
        .mark_rect(color=WINDOW, opacity=0.12).encode(x="start:T", x2="end:T")
    return alt.layer(window, band, baseline, observed).properties(height=260)


def draw_chart(store: Store, a: anomalies.Anomaly) -> None:
    try:
        series = state.anomaly_window(store, a)
    except GoldenloopError as exc:
        st.error(md(str(exc), 2000), icon=":material/error:")
        return
    if series.empty:
        st.info("No series to draw for this anomaly (a new failure kind or version is an event, "
                "not a series).", icon=":material/info:")
        return
    st.altair_chart(window_chart(series, a), width="stretch")
    if a.details.get("bucket") == "run":
        st.caption("Dark line: each canary run's mean score; dashed line and light band: the "
                   "median and range of the runs before it; red shading: the anomaly's window.")
        return
    st.caption("Dark line: what was observed each hour; dashed line and light band: the "
               "baseline and its usual range for that hour of the day on earlier days of "
               "the same kind (weekday or weekend); red shading: the anomaly's window.")


def draw_examples(store: Store, a: anomalies.Anomaly) -> pd.DataFrame:
    ex = state.anomaly_examples(store, a)
    if ex.empty:
        st.caption("No example spans for this anomaly.")
        return ex
    rows = ex.assign(link=[span_table.trace_link(trace=t, span=s) for t, s in
                           zip(ex["trace_id"], ex["span_id"], strict=True)])
    st.dataframe(grid(rows, EXAMPLE_COLUMNS, keep=("span_key", "trace_id", "span_id")),
                 hide_index=True, column_config=EXAMPLE_COLUMNS, column_order=list(EXAMPLE_COLUMNS),
                 placeholder="—")
    return ex


def draw_actions(store: Store, a: anomalies.Anomaly, has_examples: bool) -> None:
    """Acknowledge, mute, reopen, and send the examples to a review queue, as the sidebar's
    name; the library records who did what."""
    who = identity.current(store)
    if who is None:
        st.caption("Type your name in the sidebar to acknowledge, mute or queue this anomaly.")
        return
    manage = identity.can(store, who, roles.Action.MANAGE_ALERTS)
    # The rarer actions' widgets sit in popovers: the browser builds a popover's content only
    # when it is opened, and these widgets were about a third of the page's elements.
    cols = st.columns([1, 1, 1, 1.4])
    if a.status in ("open", "muted") and cols[0].button(
            "Acknowledge", icon=":material/done:", key="an_ack", disabled=not manage,
            help="Seen and being handled: it stays listed, no longer counted as open"):
        _set(store, a, "acknowledged", who)
    if a.status != "resolved":
        with cols[1].popover("Mute", icon=":material/notifications_off:", disabled=not manage):
            period = st.selectbox("Mute for", list(MUTE_FOR), index=2, key="an_mute_for")
            if st.button(f"Mute for {period}", key="an_mute", disabled=not manage):
                _set(store, a, "muted", who, muted_until=utcnow() + MUTE_FOR[period])
    if a.status != "open" and cols[2].button("Reopen", icon=":material/undo:", key="an_reopen",
                                             disabled=not manage):
        _set(store, a, "open", who)
    if not manage:
        st.caption("Only leads change an anomaly's status (roles.yaml).")
    draw_queue_action(store, a, who, has_examples, cols[3])


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # the store's times are naive UTC


def _set(store: Store, a: anomalies.Anomaly, status: str, who: str, **kw) -> None:
    try:
        anomalies.set_status(store, a.anomaly_id, status, by=who, **kw)
    except GoldenloopError as exc:
        st.error(md(str(exc), 2000), icon=":material/error:")
        return
    st.toast(f"Anomaly {a.anomaly_id}: {status}")
    st.rerun()


def draw_queue_action(store: Store, a: anomalies.Anomaly, who: str, has_examples: bool,
                      slot) -> None:
    if not has_examples:
        return
    if not identity.can(store, who, roles.Action.CREATE_QUEUE):
        st.caption("A lead can send these examples to a review queue.")
        return
    with slot.popover("Queue the examples", icon=":material/checklist:"), \
            st.form("an_queue", border=False):
        st.caption("A review queue of these example spans, made by hand: its grades describe "
                   "these spans, not all traffic (it is not a probability sample, so it gives "
                   "no estimate).")
        name = st.text_input("Queue name", f"Anomaly {a.anomaly_id}: {a.metric} {a.kind}",
                             key=f"an_queue_name_{a.anomaly_id}")
        if st.form_submit_button("Send the examples to a review queue", key="an_queue_send",
                                 icon=":material/checklist:"):
            try:
                qid = anomalies.examples_to_queue(store, a.anomaly_id, by=who, name=name.strip()
                                                  or None)
            except GoldenloopError as exc:
                st.error(md(str(exc), 2000), icon=":material/error:")
                return
            st.session_state["an_queued"] = (a.anomaly_id, qid)
    queued = st.session_state.get("an_queued")
    if queued and queued[0] == a.anomaly_id:
        st.success(f"Queue {queued[1]} holds the examples: grade them on the Grade page.",
                   icon=":material/check_circle:")
        grade = next((p for p in state.navigation_pages() if p.url_path == "grade"), None)
        if grade is not None:
            st.page_link(grade, label="Grade them", icon=":material/rate_review:",
                         query_params={"queue": str(queued[1])})


def draw_history(store: Store, a: anomalies.Anomaly) -> None:
    hist = anomalies.anomaly_history(store, a.anomaly_id)
    if hist.empty:
        return
    # Plain lines, not a table: a few rows do not need the grid, which the browser would
    # build on every view even with the expander closed.
    lines = [f"{r.at:%Y-%m-%d %H:%M} UTC  {r.status:<12} by {r.by}" + (f": {r.note}" if r.note
                                                                        else "")
             for r in hist.itertuples()]
    with st.expander(f"History ({len(hist)} " + ("change)" if len(hist) == 1 else "changes)")):
        st.text(visible("\n".join(lines)))


def draw_outliers(store: Store, f) -> None:
    spans = state.span_store()
    # cached on the database file; a span store elsewhere is read afresh (not hashable)
    out = (state.aggregate(store, anomalies.outlier_spans, f) if spans.dialect == DUCKDB
           else anomalies.outlier_spans(store, f, spans=spans))
    if out.empty:
        st.info("No outlier spans in this range: no request is extreme for its app and model "
                "version (robust z of 4 or more on latency or output tokens).",
                icon=":material/check_circle:")
        return
    rows = out.assign(link=[span_table.trace_link(trace=t, span=s) for t, s in
                            zip(out["trace_id"], out["span_id"], strict=True)])
    st.dataframe(visible_frame(rows), hide_index=True, column_config={
        **EXAMPLE_COLUMNS, "app": st.column_config.TextColumn("App"),
        "robust_z": st.column_config.NumberColumn("Robust z", format="%.1f")},
        column_order=["link", "why", "robust_z", "start_time", "app", "model_version",
                      "latency_ms", "output_tokens", "status", "last_user_message", "output"],
                 placeholder="—")
    st.caption("Requests extreme for their app and model version in normal times: latency or "
               "output tokens at least 4 robust standard deviations (median and MAD of the "
               "logarithm) from their version's. Material to sample and label, not anomalies.")
