"""Agreement: can this judge be trusted on this criterion?

A lead chooses a criterion, judge versions and slices in the sidebar; the page answers first
(the gate, per judge version, beside what reviewers reach among themselves), then shows why:
every figure with its interval, the confusion matrix, agreement over time, slices, judge
versions side by side, and the disagreements themselves, which one action turns into an
adjudication queue. Everything comes from one cached library call per choice
(``goldenloop.agreement.criterion_report``). Texts from users' data reach the page only as
dataframe cells, widget options, chart data and plain text.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pandas as pd
import streamlit as st

from goldenloop.agreement import criterion_report as pdata
from goldenloop.agreement import fitness
from goldenloop.agreement import gate as g
from goldenloop.errors import GoldenloopError
from goldenloop_app import state
from goldenloop_app.agreement import across, charts, disagreement_panel
from goldenloop_app.common import identity
from goldenloop_app.untrusted import md, visible, visible_frame

SLICE_LABELS = {"model_version": "model version", "app": "app", "reviewer": "reviewer",
                "time": "week"}
FIGURE_COLUMNS = {
    "who": st.column_config.TextColumn("Who"),
    "label": st.column_config.TextColumn("Statistic"),
    "value": st.column_config.NumberColumn("Value", format="%.3f"),
    "ci_low": st.column_config.NumberColumn("95% low", format="%.3f"),
    "ci_high": st.column_config.NumberColumn("95% high", format="%.3f"),
    "n": st.column_config.NumberColumn("Pairs", format="localized",
                                       help="Graded pairs (a judge grade and a human grade)"),
    "n_items": st.column_config.NumberColumn("Items", format="localized"),
    "n_clusters": st.column_config.NumberColumn(
        "Sessions", format="localized", help="Independent units the interval resamples"),
    "note": st.column_config.TextColumn("Note", width="large"),
}


def judge_name(key: tuple[str, str]) -> str:
    return f"{key[0]} · {key[1]}"


def versions_of(crit) -> str:
    """The rubric version of a criterion row, or the versions whose grades meet under it."""
    v = crit["rubric_version"]
    if isinstance(v, str) and v:
        return v
    many = crit.get("rubric_versions")
    return ", ".join(many) if many is not None and len(many) else "any version"


def choose_criterion(store) -> pd.Series | None:
    crit = state.aggregate(store, pdata.criteria)
    if crit.empty:
        return None
    names = [visible(f"{r.criterion} ({r.value_type}) · {r.rubric_name}/{versions_of(r._asdict())}")
             for r in crit.itertuples()]
    chosen = st.sidebar.selectbox("Criterion", names, key="criterion", bind="query-params")
    return crit.iloc[names.index(chosen) if chosen in names else 0]


def choose_filter(store, crit: pd.Series) -> pdata.PageFilter:
    c = state.aggregate(store, pdata.choices, crit["criterion"], crit["rubric_name"],
                        crit["rubric_version"])
    labels = {judge_name(k): k for k in c.judges}
    # Keys per criterion: another criterion offers other judges, versions and days.
    tag = f"{crit['rubric_name']}/{crit['rubric_version']}/{crit['criterion']}"
    judges = st.sidebar.multiselect("Judge versions", list(labels), default=list(labels),
                                    key=f"judges:{tag}", format_func=visible)
    st.sidebar.subheader("Slices")
    models = st.sidebar.multiselect("Model versions", c.model_versions, key=f"models:{tag}",
                                    placeholder="All", format_func=visible)
    apps = st.sidebar.multiselect("Apps", c.apps, key=f"apps:{tag}", placeholder="All",
                                  format_func=visible)
    reviewers = st.sidebar.multiselect("Reviewers", c.reviewers, key=f"reviewers:{tag}",
                                       placeholder="All", format_func=visible)
    start = end = None
    if c.first is not None:
        picked = st.sidebar.date_input("Time window (UTC)", (c.first.date(), c.last.date()),
                                       min_value=c.first.date(), max_value=c.last.date(),
                                       key=f"window:{tag}")
        if len(picked) == 2 and picked != (c.first.date(), c.last.date()):
            start = datetime.combine(picked[0], time())
            end = datetime.combine(picked[1] + timedelta(days=1), time())
    return pdata.PageFilter(
        crit["criterion"], crit["rubric_name"], crit["rubric_version"],
        judges=tuple(labels[j] for j in judges) if len(judges) < len(labels) else (),
        model_versions=tuple(models), apps=tuple(apps), reviewers=tuple(reviewers),
        start=start, end=end)


def choose_rule(value_type: str) -> tuple[g.GateRule, float]:
    st.sidebar.subheader("Gate")
    options = g.gate_statistics(value_type)
    statistic = st.sidebar.selectbox("Statistic", options, format_func=g.label,
                                     key=f"gate_stat:{value_type}")
    low = st.sidebar.slider("Lower end of the 95% interval at least", -0.2, 1.0,
                            g.DEFAULT_MIN_LOWER, 0.05, key="gate_low")
    items = st.sidebar.number_input("On at least this many graded items", 1, 100_000,
                                    g.DEFAULT_MIN_ITEMS, 10, key="gate_n")
    tolerance = 0.0
    if value_type == "interval":
        tolerance = st.sidebar.number_input("A disagreement is a gap larger than", 0.0,
                                            value=0.0, step=0.5, key="tolerance")
    return g.GateRule(statistic, float(low), int(items)), float(tolerance)


def draw_verdicts(page: pdata.AgreementPage) -> None:
    rule = page.query.rule
    ceiling = g.ceiling(page.humans, rule.statistic)
    alpha = g.ceiling(page.humans, "krippendorff_alpha")
    for v in page.verdicts.itertuples():
        with st.container(border=True):
            left, mid, right = st.columns([2, 2, 3])
            if v.fit:
                left.success("**Fit for use**", icon=":material/verified:")
            else:
                left.error("**Not fit for use**", icon=":material/block:")
            left.text(visible(judge_name((v.judge_name, v.judge_version))))
            value = "—" if pd.isna(v.value) else f"{v.value:.2f}"
            interval = ("no interval" if pd.isna(v.ci_low)
                        else f"95% interval {v.ci_low:.2f} to {v.ci_high:.2f}")
            mid.metric(g.label(v.statistic), value, help=rule.describe(), border=False)
            mid.caption(f"{interval} · {v.n:,} pairs on {v.n_items:,} items")
            right.text(visible(f"Why: {v.reason}."))  # reasons quote names: plain text
            right.caption(ceiling_text(page, (v.judge_name, v.judge_version), ceiling, alpha))
    st.caption(f"Gate: {rule.describe()}. Change it in the sidebar.")


def ceiling_text(page: pdata.AgreementPage, key: tuple[str, str], ceiling, alpha) -> str:
    """The judge's figure beside the same figure between reviewers: the ceiling."""
    row = ceiling if ceiling is not None else alpha
    if row is None:
        return "No item was graded by two reviewers here: no human ceiling to compare with."
    stat = page.query.rule.statistic if ceiling is not None else "krippendorff_alpha"
    mine = page.judges[(page.judges["judge_name"] == key[0])
                       & (page.judges["judge_version"] == key[1])
                       & (page.judges["comparison"] == "each human")
                       & (page.judges["statistic"] == stat)]
    judge = (f"The judge's {g.label(stat)} {mine.iloc[0]['value']:.2f} ({_ci(mine.iloc[0])}); "
             if len(mine) and pd.notna(mine.iloc[0]["value"]) else "")
    return (f"{judge}reviewers among themselves {row['value']:.2f} ({_ci(row)}, "
            f"{int(row['n_items']):,} items graded by two or more) — the most a judge can be "
            "expected to reach.")


def _ci(row) -> str:
    if pd.isna(row["ci_low"]):
        return "no interval"
    return f"95% interval {row['ci_low']:.2f} to {row['ci_high']:.2f}"


def draw_figures(page: pdata.AgreementPage, specs: dict) -> None:
    st.subheader("Figures with 95% intervals")
    st.vega_lite_chart(spec=specs["figures"], width="stretch")
    judges = page.judges.assign(
        who=lambda d: charts.who_column(d) + " vs " + d["comparison"])
    humans = page.humans.assign(who=charts.HUMANS)
    table = pd.concat([judges, humans], ignore_index=True).assign(
        label=lambda d: d["statistic"].map(g.label))
    with st.expander("Every figure: pairs, items, sessions and notes"):
        st.dataframe(visible_frame(table), hide_index=True, column_config=FIGURE_COLUMNS,
                     column_order=list(FIGURE_COLUMNS), placeholder="—")
        st.caption("Against each human: every judge grade paired with every reviewer's grade "
                   "of the item. Against the consensus: items with two or more reviewers, "
                   "against their median (ordinal), majority (nominal) or mean (interval). "
                   "Intervals resample whole sessions.")


def draw_matrix_and_time(page: pdata.AgreementPage, specs: dict, key: tuple[str, str]
                         ) -> tuple | None:
    """Both charts side by side; returns the clicked confusion-matrix cell, if any."""
    rule = page.query.rule
    left, right = st.columns([2, 3])
    cell = None
    with left:
        st.subheader("Confusion matrix")
        spec = specs.get(f"confusion:{key[0]}:{key[1]}")
        if spec is None:
            st.info("Interval criteria have no confusion matrix: see the figures above.",
                    icon=":material/info:")
        else:
            # Keyed by criterion and judge: a cell picked elsewhere means nothing here.
            event = st.vega_lite_chart(spec=spec, on_select="rerun",
                                       key=f"matrix:{page.query.filter.criterion}:{key[0]}:{key[1]}",
                                       selection_mode=charts.CELL)
            picked = event.selection.get(charts.CELL) or []
            if picked:
                cell = (str(picked[0]["human"]), str(picked[0]["judge"]))
            st.caption("Rows: the reviewer's grade; columns: the judge's. Click a cell to list "
                       "its items below; double-click the matrix to list every disagreement "
                       "again.")
    with right:
        st.subheader("Agreement over time")
        ot = page.over_time
        ceiling = g.ceiling(page.humans, rule.statistic)
        if "over_time" not in specs:
            st.info("Not enough graded pairs in any time window.", icon=":material/info:")
        else:
            st.vega_lite_chart(spec=specs["over_time"], width="stretch")
            small = int(ot["small"].sum())
            st.caption(f"{g.label(rule.statistic)} per {_window(ot['window'].iloc[0])}, shaded "
                       f"95% interval. Hollow points: windows with fewer than "
                       f"{pdata.SMALL_SLICE} sessions ({small} of {len(ot)}), kept, not hidden. "
                       "Dashed: the gate's value"
                       + (" and the reviewers' own agreement." if ceiling is not None else "."))
    return cell


def _window(freq: str) -> str:
    return {"6h": "6 hours", "1D": "day", "7D": "week", "28D": "4 weeks",
            "91D": "quarter"}.get(freq, freq)


def draw_slices(page: pdata.AgreementPage, slice_by: str) -> None:
    st.subheader(f"By {SLICE_LABELS.get(slice_by, 'item metadata')}")
    if slice_by not in SLICE_LABELS:  # a metadata key comes from data: plain text only
        st.text(visible(slice_by.removeprefix("meta:")))
    df = page.slices
    if df.empty:
        st.info("No pairs to slice.", icon=":material/info:")
        return
    df = df.assign(judge=charts.who_column,
                   size=lambda d: d["small"].map({True: "small: read with care", False: ""}),
                   slice_value=lambda d: d["slice_value"].astype(str))
    st.dataframe(visible_frame(df), hide_index=True, column_order=[
        "judge", "slice_value", "value", "ci_low", "ci_high", "n", "n_items", "n_clusters",
        "size", "note"], column_config={
        "judge": st.column_config.TextColumn("Judge"),
        "slice_value": st.column_config.TextColumn(
            SLICE_LABELS.get(slice_by, "item metadata").capitalize()),
        "size": st.column_config.TextColumn("Size", help=f"Fewer than {pdata.SMALL_SLICE} "
                                            "sessions: the interval is wide"),
        **{k: v for k, v in FIGURE_COLUMNS.items() if k not in ("who", "label")}}, placeholder="—")


def draw_versions(page: pdata.AgreementPage) -> None:
    v = page.versions
    if v.empty:
        return
    st.subheader("Judge versions side by side, on the same items")
    v = v.assign(judge=charts.who_column)
    st.dataframe(visible_frame(v), hide_index=True, column_order=[
        "judge", "value", "ci_low", "ci_high", "diff", "diff_low", "diff_high", "n", "n_items",
        "note"], column_config={
        "judge": st.column_config.TextColumn("Judge"),
        "diff": st.column_config.NumberColumn("Difference to the first", format="%+.3f"),
        "diff_low": st.column_config.NumberColumn("95% low", format="%+.3f"),
        "diff_high": st.column_config.NumberColumn("95% high", format="%+.3f"),
        **{k: v for k, v in FIGURE_COLUMNS.items() if k not in ("who", "label")}}, placeholder="—")
    st.caption(f"{g.label(page.query.rule.statistic)} on the {int(v['n'].iloc[0]):,} grades "
               "every version made; the difference's interval resamples the same sessions "
               "for every version (paired). An interval that excludes 0 is a real difference.")


st.title("Agreement")
store = state.get_store()
who = identity.current(store)
crit = choose_criterion(store)
if crit is None:
    st.info("No criterion has both human and judge grades yet. Grade a queue on the Grade page "
            "and run a judge on the same items (or start on the demo history: "
            "`goldenloop demo`).", icon=":material/inbox:")
    st.stop()
flt = choose_filter(store, crit)
rule, tolerance = choose_rule(str(crit["value_type"]))
slice_options = [*pdata.SLICE_BY, *state.aggregate(
    store, pdata.choices, crit["criterion"], crit["rubric_name"], crit["rubric_version"]).metadata]
slice_by = st.sidebar.radio(
    "Slice the table by", slice_options, key="slice_by", horizontal=True,
    format_func=lambda k: SLICE_LABELS.get(k) or visible(f"item {k.removeprefix('meta:')}"))
query = pdata.PageQuery(flt, rule, slice_by=slice_by, tolerance=tolerance)
try:
    page = state.aggregate(store, pdata.agreement_page, query)
except GoldenloopError as exc:
    st.error(md(str(exc), 2000), icon=":material/error:")
    st.stop()

st.text(visible(f"{crit['criterion']} ({crit['value_type']}), rubric {crit['rubric_name']} "
                f"(versions {versions_of(crit)})"))  # names from data: plain text
st.caption(f"{page.n_pairs:,} pairs of a judge grade and a reviewer's grade of the same item in "
           "the chosen slices.")
if page.empty:
    st.info("No item in these slices has both a judge grade and a reviewer's grade. Widen "
            "the slices in the sidebar.", icon=":material/filter_alt_off:")
    st.stop()

specs = state.aggregate(store, charts.specs, query)
draw_verdicts(page)
unchecked = state.aggregate(store, fitness.judge_status, str(crit["criterion"]))
unchecked = unchecked[unchecked["status"] == fitness.UNCHECKED]
if len(unchecked):  # shown apart: no reviewer graded their items, so they count nowhere
    st.text(visible("Not yet checked, so not counted in quality figures (no reviewer graded "
                    "the same items): " + ", ".join(f"{n} {v}" for n, v in zip(
                        unchecked["judge_name"], unchecked["judge_version"], strict=True))))
draw_figures(page, specs)
judges = sorted(page.disagreements)
key = judges[0]
if len(judges) > 1:
    key = st.selectbox("Judge version for the matrix and the disagreements", judges,
                       format_func=lambda k: visible(judge_name(k)), key="matrix_judge")
cell = draw_matrix_and_time(page, specs, key)
draw_slices(page, slice_by)
across.draw(store, page, slice_options, field_label=lambda k: SLICE_LABELS.get(k) or visible(
    f"item {k.removeprefix('meta:')}"), judge_label=lambda k: visible(judge_name(k)))
draw_versions(page)
disagreement_panel.draw(store, page, key, cell, who)
