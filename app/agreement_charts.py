"""The Agreement page's charts: figures with intervals beside the human ceiling, the confusion
matrix as a clickable heatmap, and one statistic over time. Built from the library's frames;
nothing here computes a statistic."""

from __future__ import annotations

import altair as alt
import pandas as pd

from goldenloop.agreement.gate import CEILING, label

CELL = "cell"  # the confusion matrix's point selection: Streamlit returns its fields
JUDGE_COLOR = "#1f77b4"
HUMAN_COLOR = "#7f7f7f"
PASS_COLOR = "#2ca02c"
UNITS = ("mae", "bias")


def figures_chart(judges: pd.DataFrame, humans: pd.DataFrame, min_lower: float) -> alt.Chart:
    """One row per statistic: each judge version's value and 95% interval, and the reviewers'
    own agreement (the ceiling) on the rows where it exists; a rule at the gate's value."""
    j = judges[judges["comparison"] == "each human"].assign(
        who=lambda d: "judge " + d["judge_name"].astype(str) + " · " + d["judge_version"].astype(str))
    # Reviewers' figures sit on the row of the judge statistic they bound.
    same = {human: judge for judge, human in CEILING.items()}
    h = humans.assign(who="reviewers among themselves")
    h["statistic"] = h["statistic"].map(same)
    h = h[h["statistic"].notna()]
    df = pd.concat([j, h], ignore_index=True)
    # Errors in grade units (MAE, bias) do not share an axis with coefficients: table only.
    df = df[df["value"].notna() & ~df["statistic"].isin(UNITS)].assign(
        label=lambda d: d["statistic"].map(label),
        ci_low=lambda d: d["ci_low"].fillna(d["value"]),
        ci_high=lambda d: d["ci_high"].fillna(d["value"]))
    df = df[["label", "who", "value", "ci_low", "ci_high", "n"]]
    order = list(dict.fromkeys(df["label"]))
    who = list(dict.fromkeys(df["who"]))
    colors = [HUMAN_COLOR if w.startswith("reviewers") else c
              for w, c in zip(who, [JUDGE_COLOR, "#ff7f0e", "#9467bd", "#8c564b", "#17becf"] * 4,
                              strict=False)]
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    offset = alt.YOffset("who:N", sort=who)
    color = alt.Color("who:N", scale=alt.Scale(domain=who, range=colors),
                      legend=alt.Legend(orient="bottom", title=None, labelLimit=400))
    base = alt.Chart(df).encode(y=y, yOffset=offset, color=color)
    # From 0 (no better than chance) to 1, widened for anything below: where the gate sits
    # on that scale matters more than small differences.
    low = min(0.0, float(df["ci_low"].min()) if len(df) else 0.0, min_lower)
    bars = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", title="value with 95% interval",
                scale=alt.Scale(domain=[max(low, -1.0), 1.0], clamp=True)),
        x2="ci_high:Q")
    points = base.mark_point(filled=True, size=70).encode(
        x="value:Q",
        tooltip=[alt.Tooltip("who:N", title="who"), alt.Tooltip("label:N", title="statistic"),
                 alt.Tooltip("value:Q", format=".3f"), alt.Tooltip("ci_low:Q", format=".3f"),
                 alt.Tooltip("ci_high:Q", format=".3f"), alt.Tooltip("n:Q", title="pairs")])
    gate = alt.Chart(pd.DataFrame({"x": [min_lower]})).mark_rule(
        color=PASS_COLOR, strokeDash=[4, 4]).encode(x="x:Q")
    return (bars + points + gate).properties(height=alt.Step(14))


def confusion_chart(table: pd.DataFrame) -> alt.Chart:
    """Counts of (human, judge) categories; a click selects a cell (fields human and judge)."""
    cats = [str(c) for c in table.index]
    df = table.rename_axis(index="human", columns="judge").stack().rename("count").reset_index()
    df["human"] = df["human"].astype(str)
    df["judge"] = df["judge"].astype(str)
    df["agree"] = df["human"] == df["judge"]
    df["share"] = df["count"] / max(int(df["count"].sum()), 1)
    pick = alt.selection_point(name=CELL, fields=["human", "judge"], on="click", clear="dblclick")
    base = alt.Chart(df).encode(
        x=alt.X("judge:N", sort=cats, title="judge's grade", axis=alt.Axis(labelAngle=0,
                                                                          orient="top")),
        y=alt.Y("human:N", sort=cats, title="reviewer's grade"))
    heat = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
        tooltip=[alt.Tooltip("human:N", title="reviewer"), alt.Tooltip("judge:N", title="judge"),
                 alt.Tooltip("count:Q", title="pairs"),
                 alt.Tooltip("share:Q", title="share", format=".1%")],
    ).add_params(pick)
    text = base.mark_text(fontSize=13).encode(
        text="count:Q",
        color=alt.condition("datum.share > 0.12", alt.value("white"), alt.value("black")))
    side = max(44, min(80, 420 // max(len(cats), 1)))
    return (heat + text).properties(width=side * len(cats), height=side * len(cats))


def over_time_chart(over_time: pd.DataFrame, statistic: str, ceiling: float | None,
                    min_lower: float) -> alt.Chart:
    """The statistic per window with its interval as a band; small windows as hollow points;
    the reviewers' own agreement and the gate's value as dashed rules."""
    df = over_time[over_time["value"].notna()].assign(
        who=lambda d: d["judge_name"].astype(str) + " · " + d["judge_version"].astype(str),
        size=lambda d: d["small"].map({True: "small (few sessions)", False: "enough"}))
    x = alt.X("window_start:T", title=None, axis=alt.Axis(format="%b %d"))
    y_title = label(statistic)
    base = alt.Chart(df).encode(x=x, color=alt.Color("who:N", title="judge",
                                                     legend=alt.Legend(orient="bottom")))
    band = base.mark_area(opacity=0.15).encode(
        y=alt.Y("ci_low:Q", title=y_title, scale=alt.Scale(domain=[-0.2, 1.0], clamp=True)),
        y2="ci_high:Q")
    line = base.mark_line().encode(y="value:Q")
    points = base.mark_point(size=55).encode(
        y="value:Q",
        fill=alt.condition("datum.small", alt.value("white"), alt.Color("who:N")),
        shape=alt.Shape("size:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("window_start:T", title="from"), alt.Tooltip("value:Q", format=".3f"),
                 alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f"),
                 alt.Tooltip("n:Q", title="pairs"), alt.Tooltip("n_clusters:Q", title="sessions"),
                 alt.Tooltip("small:N")])
    rules = pd.DataFrame({"y": [min_lower], "what": ["gate"]})
    if ceiling is not None:
        rules = pd.concat([rules, pd.DataFrame({"y": [ceiling], "what": ["reviewers"]})])
    lines = alt.Chart(rules).mark_rule(strokeDash=[4, 4]).encode(
        y="y:Q", color=alt.value(HUMAN_COLOR), tooltip=["what:N", alt.Tooltip("y:Q", format=".2f")])
    return (band + line + points + lines).properties(height=280)
