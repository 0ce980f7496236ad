"""The Agreement page's charts: figures with intervals beside the human ceiling, the confusion
matrix as a clickable heatmap, and one statistic over time. Built from the library's frames;
nothing here computes a statistic.

As on the Monitor, charts name their data and the frames are attached afterwards, the spec
is built without schema validation (the tests validate it), and colours are data columns
rather than Vega expressions (Streamlit evaluates expressions with a slow interpreter). The
finished specs of one page view are cached as one aggregate (``specs``).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from goldenloop.agreement import criterion_report as pdata
from goldenloop.agreement.gate import CEILING, ceiling, label
from goldenloop.store import Store
from goldenloop_app import state
from goldenloop_app.common.charts import Chart, named_data

CELL = "cell"  # the confusion matrix's point selection: Streamlit returns its fields
JUDGE_COLORS = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#bcbd22")
HUMAN_COLOR = "#7f7f7f"
GATE_COLOR = "#2ca02c"
HUMANS = "reviewers among themselves"
UNITS = ("mae", "bias")  # in grade units: they do not share an axis with coefficients


def who_column(d: pd.DataFrame) -> pd.Series:
    return d["judge_name"].astype(str) + " · " + d["judge_version"].astype(str)


def palette(who: list[str]) -> tuple[alt.Scale, dict[str, str]]:
    """The same colour for a judge version on every chart; grey for the reviewers."""
    judges = sorted(w for w in who if w != HUMANS)
    colors = {w: JUDGE_COLORS[i % len(JUDGE_COLORS)] for i, w in enumerate(judges)}
    colors[HUMANS] = HUMAN_COLOR
    return alt.Scale(domain=who, range=[colors[w] for w in who]), colors


def figures_chart(judges: pd.DataFrame, humans: pd.DataFrame, min_lower: float) -> Chart:
    """One row per statistic: each judge version's value and 95% interval, and the reviewers'
    own agreement (the ceiling) on the rows where it exists; a rule at the gate's value."""
    j = judges[judges["comparison"] == "each human"].assign(who=who_column)
    same = {human: judge for judge, human in CEILING.items()}  # reviewers' figure → its row
    h = humans.assign(who=HUMANS, statistic=humans["statistic"].map(same))
    df = pd.concat([j, h[h["statistic"].notna()]], ignore_index=True)
    df = df[df["value"].notna() & ~df["statistic"].isin(UNITS)].assign(
        label=lambda d: d["statistic"].map(label),
        ci_low=lambda d: d["ci_low"].fillna(d["value"]),
        ci_high=lambda d: d["ci_high"].fillna(d["value"]))
    df = df[["label", "who", "value", "ci_low", "ci_high", "n"]].reset_index(drop=True)
    order = list(dict.fromkeys(df["label"]))
    who = list(dict.fromkeys(df["who"]))
    scale, _ = palette(who)
    # From 0 (no better than chance) to 1, widened for anything below: where the gate sits
    # on that scale matters more than small differences between figures.
    low = max(-1.0, min(0.0, float(df["ci_low"].min()) if len(df) else 0.0, min_lower))
    x_scale = alt.Scale(domain=[low, 1.0], clamp=True)
    base = alt.Chart(named_data("figures")).encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
        yOffset=alt.YOffset("who:N", sort=who),
        color=alt.Color("who:N", scale=scale,
                        legend=alt.Legend(orient="bottom", title=None, labelLimit=400)))
    bars = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", title="value with 95% interval", scale=x_scale), x2="ci_high:Q")
    points = base.mark_point(filled=True, size=70).encode(
        x=alt.X("value:Q", scale=x_scale),
        tooltip=[alt.Tooltip("who:N", title="who"), alt.Tooltip("label:N", title="statistic"),
                 alt.Tooltip("value:Q", format=".3f"), alt.Tooltip("ci_low:Q", format=".3f"),
                 alt.Tooltip("ci_high:Q", format=".3f"), alt.Tooltip("n:Q", title="pairs")])
    gate = alt.Chart(named_data("gate")).mark_rule(color=GATE_COLOR, strokeDash=[4, 4]).encode(
        x=alt.X("x:Q", scale=x_scale))
    chart = (bars + points + gate).properties(height=alt.Step(14))
    return Chart(chart, {"figures": df, "gate": pd.DataFrame({"x": [min_lower]})})


def confusion_chart(table: pd.DataFrame) -> Chart:
    """Counts of (human, judge) categories; a click selects a cell (fields human and judge).
    Cells are drawn in reading order: reviewer's grade, then judge's."""
    cats = [str(c) for c in table.index]
    df = table.rename_axis(index="human", columns="judge").stack().rename("count").reset_index()
    df["human"] = df["human"].astype(str)
    df["judge"] = df["judge"].astype(str)
    df["share"] = df["count"] / max(int(df["count"].sum()), 1)
    df["ink"] = df["share"].gt(0.12).map({True: "white", False: "black"})
    pick = alt.selection_point(name=CELL, fields=["human", "judge"], on="click",
                               clear="dblclick")
    # Every category named, tilted when the names are words rather than grades.
    angle = -30 if max((len(c) for c in cats), default=0) > 4 else 0
    base = alt.Chart(named_data("confusion")).encode(
        x=alt.X("judge:N", sort=cats, title="judge's grade",
                axis=alt.Axis(labelAngle=angle, orient="top", labelOverlap=False)),
        y=alt.Y("human:N", sort=cats, title="reviewer's grade"))
    heat = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
        tooltip=[alt.Tooltip("human:N", title="reviewer"), alt.Tooltip("judge:N", title="judge"),
                 alt.Tooltip("count:Q", title="pairs"),
                 alt.Tooltip("share:Q", title="share", format=".1%")],
    ).add_params(pick)
    text = base.mark_text(fontSize=13).encode(text="count:Q",
                                              color=alt.Color("ink:N", scale=None))
    side = max(44, min(80, 420 // max(len(cats), 1)))
    # The text's colours are literal: its colour scale must not merge with the heat's.
    chart = (heat + text).resolve_scale(color="independent").properties(
        width=side * len(cats), height=side * len(cats))
    return Chart(chart, {"confusion": df})


def over_time_chart(over_time: pd.DataFrame, statistic: str, human: float | None,
                    min_lower: float) -> Chart:
    """The statistic per window with its interval as a band; small windows as hollow points;
    the gate's value and the reviewers' own agreement as dashed rules."""
    df = over_time[over_time["value"].notna()].assign(who=who_column)
    who = sorted(set(df["who"]))
    scale, colors = palette(who)
    df["fill"] = df["who"].map(colors).where(~df["small"].astype(bool), "white")
    df = df[["who", "window_start", "value", "ci_low", "ci_high", "n", "n_clusters", "small",
             "fill"]].reset_index(drop=True)
    base = alt.Chart(named_data("over_time")).encode(
        x=alt.X("window_start:T", title=None, axis=alt.Axis(format="%b %d")),
        color=alt.Color("who:N", title=None, scale=scale,
                        legend=alt.Legend(orient="bottom", labelLimit=400)))
    y_scale = alt.Scale(domain=[-0.2, 1.0], clamp=True)
    band = base.mark_area(opacity=0.15).encode(
        y=alt.Y("ci_low:Q", title=label(statistic), scale=y_scale), y2="ci_high:Q")
    line = base.mark_line().encode(y=alt.Y("value:Q", scale=y_scale))
    # Points carry their own stroke and literal fill (hollow when small), not the colour
    # channel, which Vega-Lite drops when a fill is given.
    points = alt.Chart(named_data("over_time")).mark_point(size=55, strokeWidth=1.5).encode(
        x=alt.X("window_start:T"), y=alt.Y("value:Q", scale=y_scale),
        stroke=alt.Stroke("who:N", scale=scale, legend=None),
        fill=alt.Fill("fill:N", scale=None), opacity=alt.value(1),
        tooltip=[alt.Tooltip("window_start:T", title="from"),
                 alt.Tooltip("value:Q", format=".3f"), alt.Tooltip("ci_low:Q", format=".3f"),
                 alt.Tooltip("ci_high:Q", format=".3f"), alt.Tooltip("n:Q", title="pairs"),
                 alt.Tooltip("n_clusters:Q", title="sessions"), alt.Tooltip("small:N")])
    rules = pd.DataFrame({"y": [min_lower], "what": ["gate"]})
    if human is not None:
        rules = pd.concat([rules, pd.DataFrame({"y": [human], "what": [HUMANS]})],
                          ignore_index=True)
    lines = alt.Chart(named_data("rules")).mark_rule(strokeDash=[4, 4], color=HUMAN_COLOR).encode(
        y=alt.Y("y:Q", scale=y_scale), tooltip=["what:N", alt.Tooltip("y:Q", format=".2f")])
    chart = (band + line + points + lines).properties(height=280)
    return Chart(chart, {"over_time": df, "rules": rules})


def across_slices_chart(rows: pd.DataFrame, statistic: str) -> Chart:
    """One judge's statistic per slice: a dot with its 95% interval, red or orange where the
    heterogeneity check flags the slice (lower or higher than the rest), and a grey tick at
    the judge's figure on the rest of its slices."""
    df = rows.assign(
        slice=rows["slice_value"].astype(str),
        mark=rows["direction"].map({"lower": "flagged: lower", "higher": "flagged: higher"})
        .fillna("not flagged"),
        low=rows["agreement_low"].fillna(rows["agreement"]),
        high=rows["agreement_high"].fillna(rows["agreement"]))
    df = df[df["agreement"].notna()]
    df = df[["slice", "mark", "agreement", "low", "high", "elsewhere", "n", "q"]].reset_index(
        drop=True)
    colors = alt.Scale(domain=["not flagged", "flagged: lower", "flagged: higher"],
                       range=["#1f77b4", "#d62728", "#ff7f0e"])
    color = alt.Color("mark:N", scale=colors, title=None,
                      legend=alt.Legend(orient="bottom", title=None))
    base = alt.Chart(named_data("across_slices")).encode(
        y=alt.Y("slice:N", title=None, sort=None, axis=alt.Axis(labelLimit=260)))
    bars = base.mark_rule(strokeWidth=2).encode(x=alt.X("low:Q", title=label(statistic)),
                                                x2="high:Q", color=color)
    dots = base.mark_point(filled=True, size=70).encode(
        x="agreement:Q", color=color,
        tooltip=["slice:N", alt.Tooltip("agreement:Q", format=".3f"),
                 alt.Tooltip("elsewhere:Q", format=".3f"), "n:Q", alt.Tooltip("q:Q", format=".3f")])
    rest = base.mark_tick(color=HUMAN_COLOR, thickness=2).encode(x="elsewhere:Q")
    chart = (bars + rest + dots).properties(height=alt.Step(28))
    return Chart(chart, {"across_slices": df})


def specs(store: Store, query: pdata.PageQuery) -> dict[str, dict]:
    """Every chart of one page view as a finished Vega-Lite spec, data included:
    ``figures``, ``over_time`` and ``confusion:<judge name>:<version>`` per judge version."""
    page = state.aggregate(store, pdata.agreement_page, query)
    rule = query.rule
    out = {"figures": figures_chart(page.judges, page.humans, rule.min_lower).vega_spec()}
    ot = page.over_time
    if not ot.empty and ot["value"].notna().any():
        human = ceiling(page.humans, rule.statistic)
        out["over_time"] = over_time_chart(
            ot, rule.statistic, None if human is None else float(human["value"]),
            rule.min_lower).vega_spec()
    for (name, version), table in page.confusion.items():
        out[f"confusion:{name}:{version}"] = confusion_chart(table).vega_spec()
    return out
