"""Compare versions: two model versions, two prompt versions or two time windows of one app,
every metric side by side with the difference, its 95% interval (sessions resampled) and a
flag where the difference is both significant and beyond the user's practical threshold.

The choices sit in the sidebar and in the URL, so a comparison can be shared. App and
version names come from users' data: they reach the page only as widget options, table
cells and chart data, never through Markdown.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from goldenloop import metrics as M
from goldenloop.errors import GoldenloopError
from goldenloop.experiments import releases
from goldenloop_app import state
from goldenloop_app.compare import charts as cc
from goldenloop_app.untrusted import md, visible, visible_frame

WHAT = {"model versions": "model_version", "prompt versions": "prompt_version",
        "time windows": "time"}
# Which judge versions' scores count (goldenloop.agreement.fitness): fit ones by default.
JUDGES = {"fit for use": "fit", "any version": "any", "none": "none"}


def day_range(label: str, default: tuple[date, date], first: date, last: date, key: str
              ) -> tuple[datetime, datetime] | None:
    """Whole UTC days, inclusive, as a [start, end) range; None while half picked."""
    picked = st.sidebar.date_input(label, default, min_value=first, max_value=last, key=key)
    if len(picked) != 2:
        return None
    a, b = picked
    return datetime.combine(a, time()), datetime.combine(b + timedelta(days=1), time())


def choose_sides(dims: M.Dimensions) -> M.Sides | None:
    st.sidebar.header("Compare")
    app = st.sidebar.selectbox("App", dims.values["apps"], key="app", bind="query-params",
                               format_func=visible)
    what = st.sidebar.radio("What", list(WHAT), key="what", bind="query-params")
    envs = tuple(st.sidebar.multiselect("Environments", dims.values["environments"], key="env",
                                        bind="query-params", placeholder="All",
                                        format_func=visible))
    first, last = dims.first.date(), dims.last.date()
    if WHAT[what] == "time":
        a = day_range("A (baseline): days (UTC)", (max(first, last - timedelta(13)),
                                                   max(first, last - timedelta(7))),
                      first, last, "a_days")
        b = day_range("B: days (UTC)", (max(first, last - timedelta(6)), last), first, last, "b_days")
        return M.window_sides(app, a, b, environments=envs) if a and b else None
    by = WHAT[what]
    found = state.span_aggregate(spans, M.side_options_in, app, by)
    options = found["value"].tolist()
    pair = M.default_pair(found)
    if pair is None:
        st.info(f"This app has {len(options)} {what[:-1]} in the data: nothing to compare. "
                "Compare two time windows instead.", icon=":material/info:")
        return None
    a = st.sidebar.selectbox("A (baseline)", options, index=options.index(pair[0]), key="a",
                             bind="query-params", format_func=visible)
    b = st.sidebar.selectbox("B", options, index=options.index(pair[1]), key="b",
                             bind="query-params", format_func=visible)
    span = day_range("Between (UTC)", (first, last), first, last, "between")
    if span is None:
        return None
    return M.version_sides(app, by, a, b, *span, environments=envs)


def thresholds() -> tuple[tuple[str, str, float], ...]:
    with st.expander("Practical thresholds: how large a difference must be to matter"):
        st.caption("A metric is flagged only when its 95% interval excludes zero and the "
                   "difference reaches this threshold. Relative thresholds are a share of A's "
                   "value; rates are in percentage points.")
        rows = st.data_editor(
            cc.threshold_rows(M.thresholds_by_key()), key="thresholds", hide_index=True,
            disabled=["Metric", "Unit"], column_order=["Metric", "Threshold", "Unit"],
            column_config={"Threshold": st.column_config.NumberColumn(min_value=0.0, step=0.5)},
            width="stretch", placeholder="—")
    return cc.thresholds_from_rows(rows)


def draw_sides(result: M.Comparison) -> None:
    s = result.sides
    sides = pd.DataFrame({"Side": ["A (baseline)", "B"], s.by.replace("_", " ").capitalize():
                          [s.a_label, s.b_label], "Requests": list(result.requests),
                          "Sessions": list(result.sessions)})
    if s.by != "time":  # a window's label is its range already
        sides = sides.assign(**{"From (UTC)": [s.a.start, s.b.start],
                                "Until (UTC)": [s.a.end, s.b.end]})
    st.dataframe(visible_frame(sides), hide_index=True, width="content", placeholder="—")


def draw_summary(result: M.Comparison) -> None:
    flagged = result.flagged
    if flagged.empty:
        st.success("No metric differs both significantly and beyond its practical threshold.",
                   icon=":material/check_circle:")
        return
    st.warning(cc.summary(result), icon=":material/flag:")


def _preceding(spans, by: str, label: str, app: str | None) -> releases.Preceding:
    # the release's first production request is read where the spans live
    return releases.preceding_runs(store, by, label, app, spans=spans)


def draw_preceding(s: M.Sides) -> None:
    """Redeploy and observe: the experiment and canary runs that tested side B before it went
    to production, beside the before/after comparison (names from data: table cells only)."""
    if s.by not in releases.BY:
        return
    st.subheader("Experiments before this release")
    found = state.span_aggregate(state.span_store(), _preceding, s.by, s.b_label,
                                 s.b.apps[0] if s.b.apps else None)
    what = s.by.replace("_", " ")
    since = ("no production request yet" if found.released_at is None
             else f"first production request {found.released_at:%Y-%m-%d %H:%M} UTC")
    runs = f"{len(found.runs):,} run" + ("" if len(found.runs) == 1 else "s")
    st.text(visible(f"B, {what} {s.b_label}: {since}; {runs} tested it before that"
                    + (f", {found.later:,} after." if found.later else ".")))
    if found.runs.empty:
        st.caption("No experiment or canary run tested this version before its release. A run "
                   "counts when a model version that answered it is this model version, or its "
                   "target is named after this prompt version, is that target version or "
                   "declares it as prompt_version.")
        return
    st.dataframe(visible_frame(found.runs), hide_index=True, width="stretch", placeholder="—")
    st.caption("Newest first; mean of each scorer over the run's items (a failed call scores "
               "0). Open a run on the Experiments page for its items and comparisons.")


def draw_empty_store() -> None:
    st.info("No LLM requests yet: nothing to compare.", icon=":material/inbox:")
    st.code("goldenloop demo", language=None)
    st.caption("Then reload this page.")


st.title("Compare versions")
st.caption("Side A is the baseline; every difference is B − A. A metric is flagged only when "
           "its 95% interval excludes zero and the difference reaches its practical threshold, "
           "so a large sample does not flag every small change.")
store = state.get_store()
spans = state.span_store()
dims = state.monitor_dimensions(store)
if dims.empty:
    draw_empty_store()
    st.stop()

try:
    sides = choose_sides(dims)
    if sides is None:
        st.stop()
    limits = thresholds()
    judges = st.sidebar.radio(
        "Judge versions counted", list(JUDGES), key="judges", bind="query-params",
        help="Fit for use: only judge versions that pass the agreement gate for correctness "
             "(see Agreement). A version no reviewer graded beside is not yet checked and "
             "counts only under 'any version'.")
    # grades and judges from the workflow store, spans from the span store
    grades = state.aggregate(store, M.compare_grades, sides, judges=JUDGES[judges])
    result = state.span_aggregate(spans, M.compare_in, sides, limits, grades=grades)
except GoldenloopError as exc:
    st.error(md(str(exc), 2000), icon=":material/error:")
    st.stop()

draw_sides(result)
if result.empty:
    st.info("One side has no requests: choose another version or window.",
            icon=":material/filter_alt_off:")
    st.stop()
draw_summary(result)
if result.judge_choice is not None and not result.judge_choice.table.empty:
    st.text(result.judge_choice.describe())  # judge names come from data: plain text
st.altair_chart(cc.differences_chart(result), width="stretch")
st.dataframe(cc.table(result), hide_index=True, width="stretch", column_config=cc.TABLE_COLUMNS,
             height=36 * (len(result.table) + 1), placeholder="—")
st.caption(
    f"Intervals: {result.n_boot:,} bootstrap resamples of sessions, not requests (turns of one "
    "conversation are not independent), percentile method. Rates and means are ratios of "
    "sums over the resampled sessions; latency percentiles are exact percentiles of the "
    "resampled requests. Tokens and response length are per answered request. Offensive "
    "language is the share of texts the offline classifier scores 0.5 or more; sentiment is "
    "VADER's compound score (English, short texts). When the two sides cover different "
    "times (a version rolled out), whatever else changed in that time (releases, users, what "
    "they write) shows up too.")
draw_preceding(result.sides)
