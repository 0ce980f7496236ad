"""Home: what the store holds, at a glance, and where to go next.

App names, model names and job messages come from users' data: they are drawn only in
dataframes and plain text, never through Markdown.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from goldenloop import anomalies
from goldenloop_app import state
from goldenloop_app.anomalies import panels as anomaly_panels
from goldenloop_app.untrusted import visible, visible_frame

# url_path of the page that lists quarantined rows, whichever of these exists.
QUARANTINE_PAGES = ("quarantine", "imports")
WHEN = "YYYY-MM-DD HH:mm"

# Each table shows the columns configured here, in this order.
SPANS = st.column_config.NumberColumn("Spans", format="localized", width="small")
LAST_SEEN = st.column_config.DatetimeColumn("Last seen (UTC)", format=WHEN)
APP_COLUMNS = {  # half width: long names end in an ellipsis
    "app": st.column_config.TextColumn("App", width="medium"),
    "spans": SPANS,
    "last_seen": LAST_SEEN,
}
VERSION_COLUMNS = {
    "model_version": st.column_config.TextColumn("Model version"),
    "models": st.column_config.TextColumn("Requested as"),
    "spans": SPANS,
    "first_seen": st.column_config.DatetimeColumn("First seen (UTC)", format=WHEN),
    "last_seen": LAST_SEEN,
}
GRADE_COLUMNS = {
    "source": st.column_config.TextColumn("Source"),
    "grades": st.column_config.NumberColumn("Grades", format="localized", width="small"),
    "criteria": st.column_config.NumberColumn("Criteria", format="localized", width="small"),
    "last_graded": st.column_config.DatetimeColumn("Last graded (UTC)", format=WHEN),
}
ANOMALY_COLUMNS = {
    "link": st.column_config.LinkColumn("Anomaly", display_text="open", width="small"),
    "severity_name": st.column_config.TextColumn("Severity", width="small"),
    "app": st.column_config.TextColumn("App"),
    "metric": st.column_config.TextColumn("Metric"),
    "where": st.column_config.TextColumn("Where"),
    "description": st.column_config.TextColumn("What happened", width="large"),
    "window_start": st.column_config.DatetimeColumn("Since (UTC)", format=WHEN),
}
JOB_COLUMNS = {
    "job_id": st.column_config.NumberColumn("Job", format="plain", width="small"),
    "kind": st.column_config.TextColumn("Kind"),
    "status": st.column_config.TextColumn("Status"),
    "progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0),
    "message": st.column_config.TextColumn("Message"),
    "error": st.column_config.TextColumn("Error"),
    "created_at": st.column_config.DatetimeColumn("Created (UTC)", format=WHEN),
    "finished_at": st.column_config.DatetimeColumn("Finished (UTC)", format=WHEN),
}


def when(ts: datetime | pd.Timestamp | None) -> str:
    return "—" if ts is None or pd.isna(ts) else f"{ts:%Y-%m-%d %H:%M} UTC"


def compact(n: int) -> str:
    """Short enough for a sixth of the page: 205,631 → 205.6k (the tile's help is exact)."""
    if n < 100_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1e3:.1f}k"
    return f"{n / 1e6:.2f}M"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def span_of(first: datetime, last: datetime) -> str:
    seconds = (last - first).total_seconds()
    if seconds >= 2 * 86400:
        return plural(round(seconds / 86400), "day")
    if seconds >= 2 * 3600:
        return plural(round(seconds / 3600), "hour")
    return plural(round(seconds / 60), "minute")


def table(df: pd.DataFrame, columns: dict, unset: str | None = None) -> None:
    shown = df.fillna({df.columns[0]: unset}) if unset else df  # name the missing key
    st.dataframe(visible_frame(shown), hide_index=True, column_config=columns, column_order=list(columns),
                 placeholder="—")


def draw_empty_state(store_path: str, imports: int) -> None:
    if imports:
        st.info(f"No spans yet: the {plural(imports, 'import')} so far added none (see Imports "
                "below).", icon=":material/inbox:")
    else:
        st.info("The store is empty: no spans have been imported yet.", icon=":material/inbox:")
    st.write("Generate a realistic demo history (several apps, model versions, incidents, grades):")
    st.code("goldenloop demo", language=None)
    st.write("Or load your own traces (CSV, JSONL, Parquet, OpenAI logs, OTLP JSON):")
    st.code("goldenloop import FILE", language=None)
    st.caption("Then reload this page. Database file:")
    st.text(visible(store_path))


def draw_tiles(summary) -> None:
    t = summary.totals
    tiles = [
        ("Spans", t.spans, "LLM calls and application steps"),
        ("Traces", t.traces, "requests: spans sharing a trace id"),
        ("Sessions", t.sessions, "conversations: traces sharing a session id"),
        ("Apps", t.apps, "distinct app names"),
        ("Model versions", t.model_versions, "distinct model versions that answered"),
        ("Grades", summary.grades_total, "current human, judge, canary and imported grades"),
    ]
    for col, (label, value, help_text) in zip(st.columns(len(tiles)), tiles, strict=True):
        col.metric(label, compact(value), help=f"{help_text} ({value:,})", border=True)
    t_first, t_last = t.first_start, t.last_start
    st.caption(
        f"Spans from {when(t_first)} to {when(t_last)} ({span_of(t_first, t_last)}). "
        f"Last ingested {when(t.last_ingested)}."
    )


def draw_imports(imports, pages) -> None:
    st.subheader("Imports")
    if imports.imports == 0:
        st.caption("The import log is empty.")
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("Rows imported", f"{imports.imported:,}")
    c2.metric("Duplicates skipped", f"{imports.duplicates:,}")
    c3.metric("Rows quarantined", f"{imports.quarantined:,}")
    done = f"{plural(imports.committed, 'import')} committed"
    if imports.running:
        done += f", {imports.running:,} running"
    st.caption(f"{done}; last finished {when(imports.last_finished)}.")
    if imports.quarantined:
        were = "was" if imports.quarantined == 1 else "were"
        st.warning(
            f"{plural(imports.quarantined, 'row')} failed validation and {were} not imported. "
            "Each is kept in the quarantine with its file, row number and reason.",
            icon=":material/warning:",
        )
        target = next((p for p in pages if p.url_path in QUARANTINE_PAGES), None)
        if target is not None:
            st.page_link(target, label="See the quarantined rows", icon=":material/arrow_forward:")
    if imports.failed:
        st.warning(f"{plural(imports.failed, 'import')} failed as a whole and loaded nothing.",
                   icon=":material/error:")


def draw_open_anomalies(store, pages) -> None:
    """Open anomalies first, when there are any: counts by severity, the most severe few,
    and the way to the Anomalies page. Read on every visit (a small table): an anomaly
    acknowledged there is gone from here at once."""
    summary = anomalies.open_summary(store)
    if summary.empty:
        return
    st.subheader("Open anomalies")
    by = summary.groupby("severity_name")["anomalies"].sum()
    cols = st.columns(4)
    for col, name in zip(cols, ("high", "medium", "low"), strict=False):
        col.metric(f"{name.capitalize()} severity", f"{int(by.get(name, 0)):,}", border=True)
    top = anomalies.list_anomalies(store, status="open", limit=5)
    if not top.empty:
        page = next((p for p in pages if p.url_path == "anomalies"), None)
        rows = top.assign(
            link=[f"anomalies?anomaly={int(i)}" for i in top["anomaly_id"]],
            metric=top["metric"].map(anomaly_panels.metric_title),
            where=[f"{d} = {v}" if isinstance(d, str) else "whole app"
                   for d, v in zip(top["dimension"], top["value"], strict=True)])
        st.dataframe(anomaly_panels.grid(rows, ANOMALY_COLUMNS, keep=("anomaly_id",)),
                     hide_index=True, column_config=ANOMALY_COLUMNS,
                     column_order=list(ANOMALY_COLUMNS), placeholder="—")
        if page is not None:
            total = int(summary["anomalies"].sum())
            st.page_link(page, label=f"See all {total:,} open "
                         + ("anomaly" if total == 1 else "anomalies"),
                         icon=":material/arrow_forward:")


def draw_links(pages) -> None:
    others = [p for p in pages if p.url_path != ""]  # the default page ("") is this one
    if not others:
        return
    st.subheader("Go to")
    cols = st.columns(4)
    for i, page in enumerate(others):
        with cols[i % len(cols)]:
            st.page_link(page, icon=None if page.icon else ":material/arrow_forward:")
            if page.help:
                st.caption(page.help)


def draw_summary(summary, pages) -> None:
    draw_tiles(summary)
    st.subheader("Model versions")
    table(summary.model_versions, VERSION_COLUMNS, unset="(not recorded)")
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Apps")
        table(summary.apps, APP_COLUMNS, unset="(not set)")
    with right:
        st.subheader("Grades by source")
        if summary.grades_total:
            table(summary.grades, GRADE_COLUMNS)
        else:
            st.caption("No grades yet: review queues, judge runs and canaries add them.")
    draw_imports(summary.imports, pages)
    if len(summary.jobs):
        st.subheader("Recent jobs")
        table(summary.jobs, JOB_COLUMNS)


st.title("goldenloop")
st.caption("Watch LLM traffic, review it by hand and with LLM judges, and turn what you learn "
           "into golden datasets.")

store = state.get_store()
summary = state.store_summary(store)
pages = state.navigation_pages()

draw_open_anomalies(store, pages)
if summary.is_empty:
    draw_empty_state(str(store.path), summary.imports.imports)
    if summary.imports.imports:
        draw_imports(summary.imports, pages)
else:
    draw_summary(summary, pages)
draw_links(pages)
