"""Charts of the Conversations page (Altair, drawing only; the numbers come from
``goldenloop.metrics.conversations``): turns per session, drop-off by reason, turns to
resolution, and user-message signals by turn depth."""

from __future__ import annotations

import altair as alt
import pandas as pd

from goldenloop.metrics import conversations as C
from goldenloop_app.common.charts import SERIES_COLORS

HEIGHT = 300  # the whole chart; axis titles must stay shorter than the plot, or it shrinks
REASONS = {"unanswered": "unanswered", "errored": "errored",
           "negative_feedback": "negative feedback"}


def _titled(chart: alt.Chart, title: str) -> alt.Chart:
    return chart.properties(height=HEIGHT, title=alt.TitleParams(title, anchor="start", fontSize=14))


def _turn_label(turns: pd.Series, cap: int) -> pd.Series:
    return turns.map(lambda t: f"{cap}+" if t >= cap else str(int(t)))


def turns_per_session(data: pd.DataFrame) -> alt.Chart:
    """Share of each version's sessions by their number of turns, versions side by side."""
    data = data.assign(label=_turn_label(data["turns"], C.MAX_TURNS))
    order = data.sort_values("turns")["label"].drop_duplicates().tolist()
    chart = alt.Chart(data).mark_bar().encode(
        x=alt.X("label:N", sort=order, title="turns in the session", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("model_version:N"),
        y=alt.Y("share:Q", title="share of sessions", axis=alt.Axis(format=".0%")),
        color=_version_color(),
        tooltip=[alt.Tooltip("model_version:N", title="model version"),
                 alt.Tooltip("label:N", title="turns"),
                 alt.Tooltip("sessions:Q", format=","), alt.Tooltip("share:Q", format=".1%")],
    )
    return _titled(chart, "Turns per session, by model version")


def dropoff(data: pd.DataFrame) -> alt.Chart:
    """Share of each version's sessions whose last turn went unanswered, errored or got
    negative feedback (each reason on its own), and any of these; versions side by side."""
    long = data.melt(id_vars=["model_version", "sessions"], value_vars=[*REASONS, "any"],
                     var_name="reason", value_name="count")
    labels = [*REASONS.values(), "any of these"]
    long = long.assign(reason=long["reason"].map({**REASONS, "any": "any of these"}),
                       share=long["count"] / long["sessions"])
    chart = alt.Chart(long).mark_bar().encode(
        x=alt.X("reason:N", sort=labels, title="how the session's last turn went",
                axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("model_version:N"),
        y=alt.Y("share:Q", title="share of sessions", axis=alt.Axis(format=".1%")),
        color=_version_color(),
        tooltip=[alt.Tooltip("model_version:N", title="model version"), alt.Tooltip("reason:N"),
                 alt.Tooltip("count:Q", title="sessions", format=","),
                 alt.Tooltip("share:Q", format=".2%"),
                 alt.Tooltip("sessions:Q", title="of sessions", format=",")],
    )
    return _titled(chart, "Drop-off by model version")


def _version_color() -> alt.Color:
    return alt.Color("model_version:N", title=None, legend=alt.Legend(orient="top", columns=2),
                     scale=alt.Scale(scheme="tableau10"))


def resolution(data: pd.DataFrame) -> alt.Chart:
    data = data.assign(label=_turn_label(data["turns"], C.MAX_TURNS))
    order = data.sort_values("turns")["label"].tolist()
    chart = alt.Chart(data).mark_bar(color=SERIES_COLORS["cost"]).encode(
        x=alt.X("label:N", sort=order, title="turns until positive feedback",
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("resolved:Q", title="resolved sessions"),
        tooltip=[alt.Tooltip("label:N", title="turns"), alt.Tooltip("resolved:Q", format=","),
                 alt.Tooltip("share:Q", title="share of resolved", format=".1%")],
    )
    return _titled(chart, "Turns to resolution (sessions ending with positive feedback)")


def _depth_x(data: pd.DataFrame) -> alt.X:
    labels = _turn_label(data["depth"], C.MAX_DEPTH)
    return alt.X("label:N", sort=labels.tolist(), title="turn depth (1 = first turn of a session)",
                 axis=alt.Axis(labelAngle=0))


def offensive_by_depth(data: pd.DataFrame) -> alt.Chart:
    data = data.assign(label=_turn_label(data["depth"], C.MAX_DEPTH))
    base = alt.Chart(data).encode(x=_depth_x(data))
    band = base.mark_area(opacity=0.2, color=SERIES_COLORS["users"]).encode(
        y=alt.Y("offensive_low:Q", title="share of messages", axis=alt.Axis(format=".1%")),
        y2="offensive_high:Q")
    line = base.mark_line(point=True, color=SERIES_COLORS["users"]).encode(
        y="offensive_share:Q",
        tooltip=[alt.Tooltip("label:N", title="turn depth"),
                 alt.Tooltip("offensive_share:Q", title="offensive", format=".2%"),
                 alt.Tooltip("offensive_low:Q", title="95% CI from", format=".2%"),
                 alt.Tooltip("offensive_high:Q", title="95% CI to", format=".2%"),
                 alt.Tooltip("scored:Q", title="messages scored", format=",")])
    return _titled(alt.layer(band, line), "Offensive user messages by turn depth, with a 95% CI")


def sentiment_by_depth(data: pd.DataFrame) -> alt.Chart:
    data = data.assign(label=_turn_label(data["depth"], C.MAX_DEPTH))
    base = alt.Chart(data).encode(x=_depth_x(data))
    band = base.mark_area(opacity=0.2, color=SERIES_COLORS["users"]).encode(
        y=alt.Y("sentiment_low:Q", title="mean sentiment", scale=alt.Scale(zero=False)),
        y2="sentiment_high:Q")
    line = base.mark_line(point=True, color=SERIES_COLORS["users"]).encode(
        y="sentiment:Q",
        tooltip=[alt.Tooltip("label:N", title="turn depth"),
                 alt.Tooltip("sentiment:Q", title="mean sentiment", format=".3f"),
                 alt.Tooltip("sentiment_low:Q", title="95% CI from", format=".3f"),
                 alt.Tooltip("sentiment_high:Q", title="95% CI to", format=".3f"),
                 alt.Tooltip("sentiment_n:Q", title="messages scored", format=",")])
    return _titled(alt.layer(band, line), "User sentiment by turn depth, with a 95% CI")
