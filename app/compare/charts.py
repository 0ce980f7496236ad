"""Drawing pieces of the Compare page: numbers formatted by their unit, the table the page
shows (and its column settings), the threshold editor's rows, and the chart of differences
with their intervals. Nothing here reads the store or caches."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st

from goldenloop.metrics import METRICS, Comparison, Threshold

CLIP = 10.0  # the chart's x axis ends at ten thresholds; longer intervals are cut, and say so
STATUS_COLORS = {"flagged": "#d62728", "significant, below threshold": "#ff9f40",
                 "not significant": "#8c8c8c"}
# Thresholds as the editor shows them: relative ones in %, rates in percentage points.
EDIT_UNITS = {"relative": "% of A", "rate": "percentage points", "ms": "ms", "tokens": "tokens",
              "chars": "characters", "usd": "USD", "score": "sentiment points",
              "points": "grade points", "count": ""}


def fmt(value: float, unit: str, *, signed: bool = False) -> str:
    """One value in its unit: 1.2 s, 830 ms, 12.5%, +1.3 pp, $2.16, 0.31."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    sign = "+" if signed and value > 0 else ""
    if unit == "rate":
        return f"{sign}{value * 100:.1f} pp" if signed else f"{value:.1%}"
    if unit == "ms":
        return f"{sign}{value / 1000:.2f} s" if abs(value) >= 1000 else f"{sign}{value:.0f} ms"
    if unit == "usd":
        return f"{'-' if value < 0 else sign}${abs(value):,.2f}"
    if unit in ("score", "points"):
        return f"{sign}{value:.2f}"
    if unit == "count" and float(value).is_integer():
        return f"{sign}{value:,.0f}"
    return f"{sign}{value:,.1f}"


TABLE_COLUMNS = {
    "Flag": st.column_config.TextColumn(width=80, help="flagged: B − A is significant and "
                                        "reaches the practical threshold"),
    "Metric": st.column_config.TextColumn(width=230),
    "A": st.column_config.TextColumn(width=75),
    "B": st.column_config.TextColumn(width=75),
    "B − A": st.column_config.TextColumn(width=135),
    "95% interval": st.column_config.TextColumn(width=165, help="95% bootstrap interval of B − A"),
    "Threshold": st.column_config.TextColumn(width=80, help="the practical threshold: a share "
                                             "of A's value or an amount"),
    "Values": st.column_config.TextColumn(width=115, help="requests (or texts, thumbs, graded "
                                          "requests) behind A / B"),
}
UNIT_WORDS = {"tokens": " tokens", "chars": " characters", "points": " points"}


def table(result: Comparison) -> pd.DataFrame:
    """The comparison as the page shows it: formatted text, one row per metric."""
    t = result.table
    interval = [f"{fmt(lo, u, signed=True)} to {fmt(hi, u, signed=True)}" if not math.isnan(lo)
                else "" for lo, hi, u in zip(t["ci_low"], t["ci_high"], t["unit"], strict=True)]
    rel = [f" ({r:+.0%})" if u != "rate" and not math.isnan(r) and abs(r) < 100 else ""
           for r, u in zip(t["rel_diff"], t["unit"], strict=True)]
    return pd.DataFrame({
        "Flag": ["⚑ " + v.removesuffix(" in B") if f else ""
                 for f, v in zip(t["flag"], t["verdict"], strict=True)],
        "Metric": t["metric"],
        "A": [fmt(v, u) for v, u in zip(t["a"], t["unit"], strict=True)],
        "B": [fmt(v, u) for v, u in zip(t["b"], t["unit"], strict=True)],
        "B − A": [fmt(v, u, signed=True) + r
                  for v, u, r in zip(t["diff"], t["unit"], rel, strict=True)],
        "95% interval": interval, "Threshold": t["threshold"],
        "Values": ["" if pd.isna(a) else f"{int(a):,} / {int(b):,}"
                   for a, b in zip(t["n_a"], t["n_b"], strict=True)],
    })


def summary(result: Comparison) -> str:
    """The flagged metrics as a Markdown list, worse first. Only our own metric names and
    words go in: no user data reaches Markdown."""
    flagged = result.flagged
    order = {"worse in B": 0, "better in B": 1}
    flagged = flagged.assign(o=flagged["verdict"].map(order).fillna(2)).sort_values("o", kind="stable")
    lines = [f"- **{v}**: {m}, {fmt(d, u, signed=True)}{UNIT_WORDS.get(u, '')}"
             for v, m, d, u in zip(flagged["verdict"], flagged["metric"], flagged["diff"],
                                   flagged["unit"], strict=True)]
    return (f"{len(flagged)} of {int(result.table['ci_low'].notna().sum())} metrics differ "
            "significantly and beyond their practical threshold:\n" + "\n".join(lines))


def threshold_rows(current: dict[str, Threshold]) -> pd.DataFrame:
    """One editable row per metric, in the units a person thinks in."""
    rows = []
    for m in METRICS:
        th = current[m.key]
        unit = "relative" if th.kind == "relative" else m.unit
        shown = th.value * 100 if unit in ("relative", "rate") else th.value
        rows.append({"key": m.key, "Metric": m.label, "Threshold": shown, "Unit": EDIT_UNITS[unit]})
    return pd.DataFrame(rows)


def thresholds_from_rows(rows: pd.DataFrame) -> tuple[tuple[str, str, float], ...]:
    """The edited rows as the library takes them: (key, kind, value) in the metric's unit."""
    kinds = {m.key: m for m in METRICS}
    out = []
    for key, shown in zip(rows["key"], rows["Threshold"], strict=True):
        m = kinds[key]
        value = float(shown) if pd.notna(shown) else m.threshold.value
        if m.threshold.kind == "relative" or m.unit == "rate":
            value = float(shown) / 100 if pd.notna(shown) else m.threshold.value
        out.append((key, m.threshold.kind, max(value, 0.0)))
    return tuple(out)


def differences_chart(result: Comparison) -> alt.LayerChart:
    """Each metric's difference B − A and its interval, in thresholds: ±1 is the practical
    threshold (shaded), so one axis holds milliseconds, rates and sentiment alike."""
    t = result.table[result.table["limit"] > 0].copy()
    t["x"] = (t["diff"] / t["limit"]).clip(-CLIP, CLIP)
    t["lo"] = (t["ci_low"] / t["limit"]).clip(-CLIP, CLIP)
    t["hi"] = (t["ci_high"] / t["limit"]).clip(-CLIP, CLIP)
    t["status"] = ["flagged" if f else "significant, below threshold" if s else "not significant"
                   for f, s in zip(t["flag"], t["significant"], strict=True)]
    t["difference"] = [fmt(v, u, signed=True) for v, u in zip(t["diff"], t["unit"], strict=True)]
    order = t["metric"].tolist()
    y = alt.Y("metric:N", sort=order, title=None,
              axis=alt.Axis(labelLimit=260, labelOverlap=False, labelFontSize=12))
    x_scale = alt.Scale(domain=[-CLIP, CLIP])
    band = alt.Chart(pd.DataFrame({"a": [-1.0], "b": [1.0]})).mark_rect(
        color="#e8f0e8", opacity=0.8).encode(x=alt.X("a:Q", scale=x_scale), x2="b:Q")
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#555").encode(x="x:Q")
    color = alt.Color("status:N", title=None, legend=alt.Legend(orient="top", labelLimit=300),
                      scale=alt.Scale(domain=list(STATUS_COLORS), range=list(STATUS_COLORS.values())))
    tooltip = [alt.Tooltip("metric:N", title="Metric"),
               alt.Tooltip("difference:N", title="B − A"),
               alt.Tooltip("threshold:N", title="Threshold"), alt.Tooltip("status:N", title="")]
    base = alt.Chart(t).encode(y=y, color=color, tooltip=tooltip)
    bars = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("lo:Q", scale=x_scale,
                title="Difference B − A in practical thresholds (shaded: within ±1; axis cut at ±10)"),
        x2="hi:Q")
    dots = base.mark_point(filled=True, size=70).encode(x="x:Q")
    return alt.layer(band, zero, bars, dots).properties(height=24 * len(t) + 40)
