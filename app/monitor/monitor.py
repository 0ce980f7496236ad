"""Monitor: traffic, latency, tokens, cost, failures and answer quality over time.

Filters sit in the sidebar (and in the URL, so a view can be shared); every chart comes from
one cached library call, ``goldenloop.metrics.overview_in``, over the configured span store
(DuckDB's database file by default, or ClickHouse) with grades from the workflow store. App,
version and tag names come from users' data: they reach the page only as widget options,
chart data and plain text.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import altair as alt
import pandas as pd
import streamlit as st

from goldenloop.errors import GoldenloopError
from goldenloop.experiments import canaries
from goldenloop.metrics import Dimensions, Overview, SpanFilter, buckets, traces_in
from goldenloop.spanstore import DUCKDB
from goldenloop_app import state
from goldenloop_app.common import span_filters, span_table
from goldenloop_app.common.charts import CHART_FIELD, PICK, grid
from goldenloop_app.common.widgets import fmt_ms
from goldenloop_app.monitor import charts as mc
from goldenloop_app.monitor import quality_estimates
from goldenloop_app.untrusted import md, visible

SPLITS = {"none": None, "model version": "model_version", "prompt version": "prompt_version",
          "app": "app"}
DRILL_KEY = "_monitor_drill"  # the chart last clicked, set by its selection callback
# Which judge versions' scores count (goldenloop.agreement.fitness): fit ones by default.
JUDGES = {"fit for use": "fit", "any version": "any", "none": "none"}
# The tabs of the page's charts (query parameter ``section``), the first open by default.
SECTIONS = ("Traffic and latency", "Tokens and cost", "Signals", "Correctness", "Feedback",
            "Canaries")


def sidebar_filters(dims: Dimensions) -> tuple[SpanFilter, str | None, str]:
    f, phrase = span_filters.sidebar_filters(dims)
    split_label = st.sidebar.radio("Split every chart by", list(SPLITS), key="split",
                                   bind="query-params", horizontal=True)
    judges = st.sidebar.radio(
        "Judge versions counted", list(JUDGES), key="judges", bind="query-params",
        help="Fit for use: only judge versions that pass the agreement gate for the criterion "
             "(see Agreement). A version no reviewer graded beside is not yet checked and "
             "counts only under 'any version'.")
    return replace(f, judges=JUDGES[judges]), SPLITS[split_label], phrase


def draw_empty_store() -> None:
    st.info("No LLM requests yet: nothing to monitor.", icon=":material/inbox:")
    st.write("Generate a realistic demo history (incidents included), or import your traces:")
    st.code("goldenloop demo", language=None)
    st.code("goldenloop import FILE", language=None)
    st.caption("Then reload this page.")


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


def show_rows(*rows: tuple[tuple[str, str | None], ...]) -> None:
    """Rows of charts as one Vega view (``charts.grid``: one drawing in the browser), each
    chart from the cache of finished specs (``state.monitor_chart``), given as (name, measure
    chosen). A click on a point picks it (``charts.PICK``, with the chart's name) and opens
    the spans behind it."""
    spec = grid([[(name, state.monitor_chart(store, f, split, name, choice))
                  for name, choice in row] for row in rows])
    choices = {name: choice for row in rows for name, choice in row}
    key = "chart_" + "_".join(choices)
    st.vega_lite_chart(spec=spec, key=key, selection_mode=PICK,
                       on_select=partial(clicked, key, choices))


def show_row(*row: tuple[str, str | None]) -> None:
    show_rows(row)


def clicked(key: str, choices: dict[str, str | None]) -> None:
    st.session_state[DRILL_KEY] = (key, choices)


@st.dialog("Requests behind the point", width="large")
def drill_dialog(view: Overview, name: str, choice: str | None, picked: dict) -> None:
    d = mc.drill(view, name, choice, picked)
    spans = state.span_store()
    # The "graded" condition reads the workflow store's grades (by span key) on ClickHouse.
    graded = traces_in.graded_keys(store) if d.condition == "graded" and \
        spans.dialect != DUCKDB else None
    found = state.span_aggregate(spans, traces_in.bucket_spans_in, d.filter, split=view.split,
                                 group=d.group, condition=d.condition, order=d.order, limit=200,
                                 graded=graded)
    order = d.order.replace("_", " ")
    st.text(visible(f"{d.chart} · {d.title}: {found.total:,} requests"
            + (f" ({d.condition.replace('_', ' ')})" if d.condition else "")
            + (f", {order} first" if found.total else "") + "."))
    if found.spans.empty:
        st.info("No requests behind this point.", icon=":material/filter_alt_off:")
        return
    span_table.show(found.spans)
    if found.total > len(found.spans):
        st.caption(f"The first {len(found.spans):,} of {found.total:,}.")
    st.caption("Open a request to see its trace, its conversation, signals, feedback and grades.")


def open_drill(view: Overview) -> None:
    """The dialog of the point just clicked, once per click (a later rerun, say a filter
    change, does not reopen it)."""
    clicked_row = st.session_state.pop(DRILL_KEY, None)
    if clicked_row is None:
        return
    key, choices = clicked_row
    event = st.session_state.get(key)
    picked = (event or {}).get("selection", {}).get(PICK) or []
    if picked and picked[0].get(CHART_FIELD) in choices:
        name = picked[0][CHART_FIELD]
        drill_dialog(view, name, choices[name], picked[0])


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
    show_rows((("requests", None), ("failures", kind)), (("latency", pct), ("ttft", pct)))


def draw_tokens_and_cost() -> None:
    show_rows((("input_tokens", None), ("output_tokens", None)),
              (("cost_per_day", None), ("cost_per_1k", None)))


def draw_signals(view: Overview) -> None:
    if view.signals.empty:
        st.info("No automatic signals for these requests yet: they appear once the scorers "
                "have read the user messages and answers.", icon=":material/hourglass_empty:")
        return
    whose = choice(st, "Texts of", mc.SIGNALS_OF, "users", "signals_of")
    show_row(("offensive", whose), ("sentiment", whose))


def draw_correctness(view: Overview) -> None:
    draw_judge_choice(view)
    c = view.correctness
    if c.empty:
        st.info("No human grades or judge scores on these requests yet.",
                icon=":material/hourglass_empty:")
        return
    sources = [s for s in ("human", "judge") if (c["series"] == s).any()]
    show_row(*((f"correctness_{s}", None) for s in sources))
    for missing in {"human", "judge"} - set(sources):
        st.caption(f"No {missing} grades in this range.")
    n = c.groupby("series")["n"].sum()
    per = buckets.label(view.correctness_bucket).removeprefix("1 ")
    st.caption(f"Mean grade per {per} of the graded requests, by when they were answered, "
               f"with a 95% confidence interval: {int(n.get('human', 0)):,} requests graded by "
               f"reviewers and {int(n.get('judge', 0)):,} by the judge in this range. Grades "
               "from review queues count by their inclusion probability.")


def draw_estimates() -> None:
    with st.expander("Correctness of all traffic, estimated from review queues (with the judge: "
                     "PPI)"):
        quality_estimates.draw(store, f.start, f.end)


def draw_judge_choice(view: Overview) -> None:
    """Which judge versions the judge line rests on (names from data: plain text only)."""
    choice = view.judge_choice
    if choice is None or choice.table.empty:
        return
    st.text(choice.describe())
    with st.expander("Judge versions of this criterion: fit, not fit, not yet checked"):
        st.dataframe(choice.table, hide_index=True, placeholder="—")


def draw_canaries(runs: pd.DataFrame) -> None:
    """Each canary suite's mean score per run by the model version that answered. Suite,
    scorer and version names are data: chart values, never markdown."""
    ran = runs.dropna(subset=["run_id"])
    idle = sorted(set(runs["suite"]) - set(ran["suite"]))
    if idle:
        st.text(visible(f"No runs in this range: {', '.join(idle)}"))
    if ran.empty:
        return
    points = ran.assign(series=(ran["suite"] + " · " + ran["scorer"]).map(visible),
                        model_version=ran["model_version"].map(visible))
    st.altair_chart(alt.Chart(points).mark_line(point=True).encode(
        x=alt.X("started_at:T", title="run started (UTC)"),
        y=alt.Y("mean:Q", title="mean score", scale=alt.Scale(zero=False)),
        color=alt.Color("model_version:N", title="model version"),
        detail="series:N",
        tooltip=["series:N", "model_version:N", "run_id:Q", "items:Q",
                 alt.Tooltip("mean:Q", format=".3f")],
    ).properties(height=220).facet(row=alt.Row("series:N", title=None)))
    st.caption("Mean score per canary run (suite · scorer), coloured by the model version that "
               "answered: a silent model update shows as a new colour and a drop. Canary calls "
               "are not counted in the charts above. Details on the Experiments page.")


def draw_feedback(view: Overview) -> None:
    if view.feedback.empty:
        st.info("No end-user feedback on these requests yet.", icon=":material/hourglass_empty:")
        return
    show_row(("feedback_rate", None), ("thumbs_down", None))


def draw_sections(view: Overview) -> None:
    """The charts in tabs, one group of signals each (``SECTIONS``); only the open tab runs
    and is drawn. Drawing the Vega views is most of a page load in the browser (seven views
    took about four fifths of it: benchmarks/RESULTS.md), so a load draws two; the others are
    one click away, and the open tab is in the URL. The canary tab shows only when suites
    exist."""
    runs = state.aggregate(store, canaries.monitor_series, f.start, f.end)
    labels = [s for s in SECTIONS if s != "Canaries" or not runs.empty]
    draw = {"Traffic and latency": draw_requests, "Tokens and cost": draw_tokens_and_cost,
            "Signals": partial(draw_signals, view),
            "Correctness": lambda: (draw_correctness(view), draw_estimates()),
            "Feedback": partial(draw_feedback, view), "Canaries": partial(draw_canaries, runs)}
    for label, tab in zip(labels, st.tabs(labels, key="section", bind="query-params"),
                          strict=True):
        if tab.open:
            with tab:
                draw[label]()


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
            st.text(visible(f"{r.kind.replace('_', ' ')} ({app}), from "
                            f"{r.starts_at:%Y-%m-%d %H:%M} UTC {until}: {r.description}"))


def draw_detected(view: Overview) -> None:
    """Say what the purple windows are (detection) apart from the red ones (the demo's
    answer key), with the way to the Anomalies page."""
    detected = state.monitor_detected(store, f)
    if detected.empty:
        return
    opened = int((detected["status"] == "open").sum())
    left, right = st.columns([4, 1])
    left.caption(f"Purple windows labelled 'detected': {len(detected):,} anomalies found by "
                 f"detection in this range ({opened:,} open)"
                 + ("; red windows: the demo's own incidents, its answer key, drawn apart."
                    if len(view.incidents) else "."))
    page = next((p for p in state.navigation_pages() if p.url_path == "anomalies"), None)
    if page is not None:
        right.page_link(page, label="Anomalies", icon=":material/crisis_alert:")


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
    st.error(md(str(exc), 2000), icon=":material/error:")
    st.stop()

st.caption(f"{phrase.capitalize()}: {f.start:%Y-%m-%d %H:%M} to {f.end:%Y-%m-%d %H:%M} UTC, "
           f"in buckets of {buckets.label(view.bucket)}. Requests are LLM calls; agent, "
           "retrieval and tool steps are not counted. Dashed lines mark the first request of "
           "a new model version. Click a point to list the requests behind it.")
if view.empty:
    st.info("No requests match these filters in this time range.", icon=":material/filter_alt_off:")
    st.stop()

draw_detected(view)
draw_tiles(view)
draw_sections(view)
draw_incidents(view)
open_drill(view)
