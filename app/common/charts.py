"""Altair time charts shared by pages: lines, daily bars and means with confidence bands over
a fixed UTC time range, with labelled vertical rules where model versions first appeared and
shaded bands for known incidents. Drawing only; the numbers come from ``goldenloop.metrics``.

Charts reference their data by name and ``vega_spec`` attaches the frames afterwards: Altair
never copies rows into JSON, and the spec is built without schema validation (the tests
validate every chart), which together take most of the time of ``st.altair_chart``.
Times are naive UTC; the x scale is UTC, so every browser shows the hours the captions name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import altair as alt
import pandas as pd

from goldenloop_app.untrusted import visible

HEIGHT = 250  # the whole chart: title, legend, axes and plot
MARKER_COLOR = "#3b3b3b"
INCIDENT_COLOR = "#d6404e"
DETECTED_COLOR = "#7b3294"  # anomalies found by detection: not the demo's answer key
WHEN = "%Y-%m-%d %H:%M"
# Fixed colours for the measures of an unsplit chart, so "p95" or "timeouts" look the same
# everywhere; groups of a split chart take the category palette in sorted order instead.
SERIES_COLORS = {
    "requests": "#4c78a8", "p50": "#72b7b2", "p95": "#4c78a8", "p99": "#e45756",
    "errors": "#e45756", "timeouts": "#f58518", "empty answers": "#b279a2",
    "all failures": "#e45756", "input": "#4c78a8", "output": "#f58518",
    "users": "#f58518", "model": "#4c78a8", "human": "#4c78a8", "judge": "#f58518",
    "cost": "#54a24b", "per 1k requests": "#54a24b", "feedback given": "#4c78a8",
    "thumbs down": "#e45756",
}


@dataclass(frozen=True)
class Frame:
    """What every time chart of one page shares: the x range, the groups (for stable colours),
    version markers (model_version, first_seen) and incidents (kind, starts_at, ends_at)."""

    start: datetime
    end: datetime
    groups: list[str] = field(default_factory=list)
    markers: pd.DataFrame = field(default_factory=pd.DataFrame)
    incidents: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class Spec:
    """How to draw one measure: titles, the value's format, and which incidents belong."""

    title: str
    y_title: str
    value_format: str = ",.0f"
    n_title: str = "requests"
    incidents: tuple[str, ...] = ()
    zero: bool = True
    percent: bool = False
    log: bool = False  # latency: p50 and a 30 s timeout p99 both stay readable
    axis_format: str | None = None


@dataclass
class Chart:
    """An Altair chart whose layers name their data, and the frames behind the names."""

    chart: alt.TopLevelMixin
    datasets: dict[str, pd.DataFrame]

    def vega_spec(self, validate: bool = False) -> dict:
        spec = self.chart.to_dict(validate=validate)
        spec["datasets"] = dict(self.datasets)
        return spec

    @property
    def points(self) -> int:
        """Rows sent to the browser, all layers together."""
        return sum(len(d) for d in self.datasets.values())


def named_data(name: str) -> alt.NamedData:
    # The frames arrive with real timestamps: no per-point date parsing in the browser, where
    # Streamlit evaluates Vega expressions with a slow (CSP-safe) interpreter.
    return alt.NamedData(name=name, format=alt.DataFormat(parse=None))


def _utc(t: datetime) -> alt.DateTime:
    # A DateTime, not epoch milliseconds: Streamlit's Vega build reads a numeric domain of
    # a time scale differently from the data and squeezes every point to one edge.
    return alt.DateTime(year=t.year, month=t.month, date=t.day, hours=t.hour,
                        minutes=t.minute, seconds=t.second, utc=True)


def _x(frame: Frame, field_name: str = "time") -> alt.X:
    return alt.X(
        field_name, type="temporal", title=None,
        scale=alt.Scale(type="utc", domain=[_utc(frame.start), _utc(frame.end)]),
        axis=alt.Axis(format="%b %d", formatType="utc", labelOverlap=True, grid=False,
                      tickCount=8),
    )


def _color(split: bool, frame: Frame, names: list[str], symbol: str = "stroke",
           legend: bool = True) -> alt.Color:
    # Two columns when split: three version names side by side overflow half a page.
    shown = alt.Legend(orient="top", title=None, labelLimit=200, symbolType=symbol,
                       columns=2 if split else 0) if legend else None
    if split:
        return alt.Color("group:N", legend=shown,
                         scale=alt.Scale(domain=frame.groups, scheme="tableau10"))
    colors = [SERIES_COLORS.get(n, "#888888") for n in names]
    return alt.Color("series:N", legend=shown, scale=alt.Scale(domain=names, range=colors),
                     sort=names)


def _tooltip(value_title: str, value_format: str, n_title: str, split: bool) -> list:
    # Evaluated for every point as it is drawn (by Streamlit's CSP-safe expression
    # interpreter): a short tooltip is a visibly faster page.
    return [
        alt.Tooltip("time:T", title="from (UTC)", format=WHEN, formatType="utc"),
        alt.Tooltip("group:N" if split else "series:N", title="group" if split else "measure"),
        alt.Tooltip("value:Q", title=value_title, format=value_format),
        alt.Tooltip("n:Q", title=n_title, format=","),
    ]


def overlays(frame: Frame, incident_kinds: tuple[str, ...]) -> tuple[list, dict]:
    """Version markers (every chart) and the incidents of ``incident_kinds``, as layers that
    share the chart's x scale, and their data."""
    layers: list[alt.Chart] = []
    data: dict[str, pd.DataFrame] = {}
    inc = frame.incidents
    if len(inc) and incident_kinds:
        inc = inc.loc[inc["kind"].isin(incident_kinds), ["kind", "starts_at", "ends_at"]]
        inc = inc.assign(label=inc["kind"].str.replace("_", " "),
                         until=inc["ends_at"].fillna(pd.Timestamp(frame.end)))
    if len(inc) and incident_kinds:
        data["incidents"] = inc
        edge = alt.Chart(named_data("incidents")).encode(x=_x(frame, "starts_at"))
        closed = edge.transform_filter("isValid(datum.ends_at)")
        layers.append(closed.mark_rect(color=INCIDENT_COLOR, opacity=0.18).encode(x2="until:T"))
        layers.append(edge.mark_rule(color=INCIDENT_COLOR, strokeWidth=1, opacity=0.7))
        # A second row of labels (version labels take the first). A pixel y beyond the plot
        # would make Vega grow the chart and squash the data.
        layers.append(edge.mark_text(align="left", baseline="top", dx=3, dy=14, fontSize=10,
                                     color=INCIDENT_COLOR).encode(text="label:N", y=alt.value(0)))
    if len(frame.markers):
        data["markers"] = frame.markers[["model_version", "first_seen"]]
        rule = alt.Chart(named_data("markers")).encode(
            x=_x(frame, "first_seen"),
            tooltip=[alt.Tooltip("model_version:N", title="model version first seen"),
                     alt.Tooltip("first_seen:T", title="at (UTC)", format=WHEN,
                                 formatType="utc")])
        layers.append(rule.mark_rule(color=MARKER_COLOR, strokeDash=[5, 3], strokeWidth=1.5))
        layers.append(rule.mark_text(align="left", baseline="top", dx=4, dy=2, fontSize=10,
                                     color=MARKER_COLOR).encode(text="model_version:N",
                                                                y=alt.value(0)))
    return layers, data


# The point selection every chart carries: a click on a point (or a bar) picks its bucket,
# group and series, and the page shows the spans behind it (``st.vega_lite_chart(...,
# on_select=...)`` returns the picked fields under this name).
PICK = "pick"


def _pick_param() -> alt.Parameter:
    return alt.selection_point(name=PICK, fields=["time", "group", "series"], on="click",
                               clear="dblclick", toggle=False)


def _pick_layer(frame: Frame, y: alt.Y, tooltip: list) -> alt.Chart:
    """Invisible points on every value, the click targets of the selection: a line is one
    mark, so a click on it would name its first point, not the bucket under the pointer.
    They carry the tooltip too, which a line shows only for its first point."""
    return alt.Chart(named_data("main")).mark_point(size=90, filled=True, opacity=0).encode(
        x=_x(frame), y=y, detail="group:N", tooltip=tooltip).add_params(_pick_param())


def _names(data: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(data["series"])) if len(data) else []


def line_chart(data: pd.DataFrame, spec: Spec, frame: Frame, split: bool) -> Chart:
    """Lines of a tidy frame (time, group, series, value, n): one per group when split, one
    per series otherwise."""
    axis = alt.Axis(format=spec.axis_format or (".0%" if spec.percent else "~s"),
                    title=spec.y_title)
    scale = alt.Scale(type="log") if spec.log else alt.Scale(zero=spec.zero)
    tip = _tooltip(spec.y_title, spec.value_format, spec.n_title, split)
    y = alt.Y("value:Q", axis=axis, scale=scale)
    base = alt.Chart(named_data("main")).mark_line(strokeWidth=1.6, clip=True).encode(
        x=_x(frame), y=y, color=_color(split, frame, _names(data)), detail="group:N",
    )
    return _finish(alt.layer(base, _pick_layer(frame, y, tip)),
                   data[["time", "group", "series", "value", "n"]], spec, frame)


def bar_chart(data: pd.DataFrame, spec: Spec, frame: Frame, split: bool) -> Chart:
    """Daily bars, stacked by group when split. Each bar spans most of its day and the stack
    is computed here: Vega's own stacking of bars on a time scale draws slivers."""
    data = data.sort_values(["time", "group"]).assign(value=lambda d: d["value"].fillna(0.0))
    top = data.groupby("time")["value"].cumsum()
    data = data.assign(top=top, bottom=top - data["value"],
                       until=data["time"] + pd.Timedelta(hours=22))
    base = alt.Chart(named_data("main")).mark_rect(opacity=0.85, clip=True).encode(
        x=_x(frame), x2="until:T",
        y=alt.Y("bottom:Q", axis=alt.Axis(format="$~s", title=spec.y_title)), y2="top:Q",
        color=_color(split, frame, _names(data), symbol="square"),
        tooltip=_tooltip(spec.y_title, spec.value_format, spec.n_title, split),
    ).add_params(_pick_param())  # a bar is its own click target
    cols = ["time", "until", "group", "series", "value", "n", "top", "bottom"]
    return _finish(base, data[cols], spec, frame)


def ci_chart(data: pd.DataFrame, spec: Spec, frame: Frame, split: bool,
             scale: tuple[float | None, float | None] = (None, None)) -> Chart:
    """Means with their 95% confidence interval as a band (columns ci_low, ci_high)."""
    names = _names(data)
    known = all(v is not None and pd.notna(v) for v in scale)
    y_scale = alt.Scale(domain=[float(v) for v in scale]) if known else alt.Scale(zero=False)
    if known:  # an interval of a mean can reach past the scale (few grades): stop at its ends
        data = data.assign(ci_low=data["ci_low"].clip(lower=scale[0]),
                           ci_high=data["ci_high"].clip(upper=scale[1]))
    tip = [*_tooltip(spec.y_title, ".2f", spec.n_title, split),
           alt.Tooltip("ci_low:Q", title="95% CI from", format=".2f"),
           alt.Tooltip("ci_high:Q", title="95% CI to", format=".2f")]
    base = alt.Chart(named_data("main")).encode(x=_x(frame), detail="group:N")
    band = base.mark_area(opacity=0.18, clip=True).encode(
        y=alt.Y("ci_low:Q", scale=y_scale, axis=alt.Axis(title=spec.y_title)), y2="ci_high:Q",
        color=_color(split, frame, names, legend=False))
    y = alt.Y("value:Q", scale=y_scale)
    line = base.mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=1.6, clip=True).encode(
        y=y, color=_color(split, frame, names, symbol="circle"))
    cols = ["time", "group", "series", "value", "n", "ci_low", "ci_high"]
    return _finish(alt.layer(band, line, _pick_layer(frame, y, tip)), data[cols], spec, frame)


def _finish(base, data: pd.DataFrame, spec: Spec, frame: Frame) -> Chart:
    extra, datasets = overlays(frame, spec.incidents)
    data = visible_groups(data)
    chart = alt.layer(base, *extra).properties(
        height=HEIGHT, title=alt.TitleParams(spec.title, anchor="start", fontSize=14),
    ).configure_axis(labelFontSize=11, titleFontSize=11, titleFontWeight="normal") \
        .configure_view(strokeWidth=0) \
        .configure(aria=False)  # no screen-reader text per point: evaluated for every point
    return Chart(chart, {"main": data.reset_index(drop=True), **datasets})


def visible_groups(data: pd.DataFrame) -> pd.DataFrame:
    """Group names (apps, versions: data) with bidi and invisible characters made visible,
    as the legend and tooltips show them (``untrusted.visible``)."""
    if "group" not in data or data.empty:
        return data
    names = {g: visible(g) for g in data["group"].dropna().unique()}
    if all(k == v for k, v in names.items()):
        return data
    return data.assign(group=data["group"].map(names))


def add_detected(chart: Chart, frame: Frame, detected: pd.DataFrame) -> Chart:
    """Anomalies found by detection (columns start, end, label, and the tooltip's what,
    where, severity) as shaded windows with a label at the foot of the plot: a layer of their
    own, apart from the demo's answer key (``overlays``), which is labelled at the top."""
    if detected.empty:
        return chart
    data = detected.assign(start=detected["start"].clip(lower=pd.Timestamp(frame.start)),
                           end=detected["end"].clip(upper=pd.Timestamp(frame.end)))
    edge = alt.Chart(named_data("detected")).encode(
        x=_x(frame, "start"),
        tooltip=[alt.Tooltip("what:N", title="detected anomaly"), alt.Tooltip("where:N"),
                 alt.Tooltip("severity:N"),
                 alt.Tooltip("start:T", title="from (UTC)", format=WHEN, formatType="utc")])
    chart.chart.layer += [
        edge.mark_rect(color=DETECTED_COLOR, opacity=0.14).encode(x2="end:T"),
        edge.mark_rule(color=DETECTED_COLOR, strokeWidth=1.5),
        edge.mark_text(align="left", baseline="bottom", dx=3, dy=-2, fontSize=10,
                       color=DETECTED_COLOR).encode(text="label:N", y=alt.value("height")),
    ]
    chart.datasets["detected"] = data.reset_index(drop=True)
    return chart


# -- One view per row ----------------------------------------------------------------------
# Every ``st.vega_lite_chart`` is its own vega-embed instance (its own parse, dataflow, axes,
# Arrow decoding and React element); drawing two charts of a row as one ``hconcat`` view
# cuts the browser's CPU for the Monitor page by about a fifth (benchmarks/bench_monitor_page).
# Concatenated views cannot stretch with the page, so each chart gets a fixed size: two fit
# beside each other in the main area of a 1,400-pixel window with the sidebar open.
ROW_PLOT_WIDTH = 380   # pixels of plot per chart; axes, legend and title come on top
ROW_PLOT_HEIGHT = 175  # with its title, legend and axis a chart stays about HEIGHT tall
CHART_FIELD = "chart"  # in every chart's main data: a click names the chart it came from


def side_by_side(named: list[tuple[str, dict]]) -> dict:
    """The finished specs (``Chart.vega_spec``) of one row, by chart name, as one view.

    Datasets and views are renamed ``<chart>_<name>`` so the charts' data stay apart; their
    point selections become one ``PICK`` over every view whose fields add ``CHART_FIELD``,
    so a click names its chart, and a click in one chart replaces the pick in the other.
    """
    views, datasets, picks = [], {}, []
    config = {}
    for name, spec in named:
        spec = dict(spec)
        for key, frame in spec.pop("datasets").items():
            # A dictionary-encoded column: the name once, not once per row in the Arrow data.
            datasets[f"{name}_{key}"] = frame.assign(
                **{CHART_FIELD: pd.Categorical([name] * len(frame))}) if key == "main" else frame
        config = spec.pop("config", config)
        for key in ("$schema", "autosize"):
            spec.pop(key, None)
        picks += [_renamed(p, name) for p in spec.pop("params", [])]
        views.append(_renamed(spec, name) | {"width": ROW_PLOT_WIDTH, "height": ROW_PLOT_HEIGHT})
    out = {"hconcat": views, "spacing": 36, "config": config, "datasets": datasets,
           "autosize": {"type": "pad", "contains": "padding"},  # "fit" is for single views
           # SVG, as a single chart of this size gets: Streamlit switches a view with more
           # than 2,000 data-driven marks to canvas, which has no text or paths to read.
           "usermeta": {"embedOptions": {"renderer": "svg"}},
           # Each chart keeps its own scales and legend (a shared colour scale would merge
           # "p95" with "errors").
           "resolve": {"scale": {"color": "independent", "x": "independent",
                                 "y": "independent"}, "legend": {"color": "independent"}}}
    if picks:
        select = dict(picks[0]["select"])
        select["fields"] = [CHART_FIELD, *select["fields"]]
        out["params"] = [{"name": PICK, "select": select,
                          "views": [v for p in picks for v in p.get("views", [])]}]
    return out


def _renamed(node, chart: str):
    """A copy of a spec part with its data and view names prefixed by the chart's name."""
    if isinstance(node, list):
        return [_renamed(v, chart) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _renamed(v, chart) for k, v in node.items()}
    if isinstance(node.get("data"), dict) and "name" in node["data"]:
        out["data"] = {**node["data"], "name": f"{chart}_{node['data']['name']}"}
    if "views" in node:
        out["views"] = [f"{chart}_{v}" for v in node["views"]]
    if "name" in node and ("mark" in node or "layer" in node):  # a view's own name
        out["name"] = f"{chart}_{node['name']}"
    return out


def grid(rows: list[list[tuple[str, dict]]]) -> dict:
    """Rows of finished specs by chart name (each row as in ``side_by_side``) as one view: a
    ``vconcat`` of the rows. One vega-embed instance draws a page's section instead of one
    per row, and one ``PICK`` covers every chart of it."""
    built = [side_by_side(row) for row in rows]
    if len(built) == 1:
        return built[0]
    first = built[0]
    out = {"vconcat": [{"hconcat": b["hconcat"], "spacing": b["spacing"], "resolve": b["resolve"]}
                       for b in built],
           "spacing": 24, "config": first["config"], "autosize": first["autosize"],
           "usermeta": first["usermeta"], "resolve": first["resolve"],
           "datasets": {k: v for b in built for k, v in b["datasets"].items()}}
    picks = [b["params"][0] for b in built if b.get("params")]
    if picks:
        out["params"] = [{"name": PICK, "select": picks[0]["select"],
                          "views": [v for p in picks for v in p["views"]]}]
    return out
