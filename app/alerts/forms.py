"""The Alerts page's helpers: the lead's rule form (create or edit), and the tables of rules,
state transitions and notification deliveries.

Rule names, filter values and error messages come from users and receivers: they reach the
page only in dataframes, widget options (through ``visible``), ``st.text`` and ``st.code``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from goldenloop import alerts
from goldenloop.access import roles
from goldenloop.alerts.rules import format_duration
from goldenloop.errors import GoldenloopError
from goldenloop.experiments import canaries
from goldenloop.store import Store
from goldenloop_app import state
from goldenloop_app.untrusted import visible, visible_frame

RULE_COLUMNS = {
    "name": st.column_config.TextColumn("Rule"),
    "state": st.column_config.TextColumn("State"),
    "since": st.column_config.DatetimeColumn("Since (UTC)", format="YYYY-MM-DD HH:mm"),
    "metric": st.column_config.TextColumn("Metric"),
    "condition": st.column_config.TextColumn("Condition"),
    "value": st.column_config.NumberColumn("Last value", format="%.4g"),
    "checked_at": st.column_config.DatetimeColumn("Checked (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "origin": st.column_config.TextColumn("From", help="file: alerts.yaml; app: made here"),
    "enabled": st.column_config.CheckboxColumn("On"),
}
HISTORY_COLUMNS = {
    "changed_at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
    "from_state": st.column_config.TextColumn("From"),
    "to_state": st.column_config.TextColumn("To"),
    "value": st.column_config.NumberColumn("Value", format="%.4g"),
    "threshold": st.column_config.NumberColumn("Level", format="%.4g"),
    "samples": st.column_config.NumberColumn("Samples"),
    "reason": st.column_config.TextColumn("Why", width="large"),
}
DELIVERY_COLUMNS = {
    "created_at": st.column_config.DatetimeColumn("Queued (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "channel": st.column_config.TextColumn("Channel"),
    "kind": st.column_config.TextColumn("Message"),
    "status": st.column_config.TextColumn("Status"),
    "attempts": st.column_config.NumberColumn("Attempts"),
    "last_error": st.column_config.TextColumn("Last error", width="large"),
    "sent_at": st.column_config.DatetimeColumn("Sent (UTC)", format="YYYY-MM-DD HH:mm:ss"),
}
CONDITION_HELP = {
    "above": "WARN or ALERT when the value is above a level",
    "below": "WARN or ALERT when the value is below a level",
    "change": "relative change against the previous window or the same hours of past days",
    "anomaly": "any open anomaly of at least a severity (metric: anomalies)",
    "no_data": "NO_DATA when the window holds fewer samples than the minimum",
}


def table(df: pd.DataFrame, columns: dict) -> None:
    st.dataframe(visible_frame(df), hide_index=True, column_config=columns,
                 column_order=list(columns), placeholder="—")


def rule_form(store: Store, who: str, current: alerts.Rule | None = None) -> None:
    """Create a rule, or edit ``current`` (a rule made on this page)."""
    d = current or alerts.Rule(name="new rule", metric="error_rate", condition="above",
                               warn=0.05, critical=0.1)
    k = "gl_alert_edit_" if current else "gl_alert_"
    name = st.text_input("Rule name", d.name if current else "", key=f"{k}name",
                         placeholder="e.g. support errors")
    c1, c2, c3 = st.columns(3)
    metric = c1.selectbox("Metric", list(alerts.METRICS), key=f"{k}metric",
                          index=list(alerts.METRICS).index(d.metric))
    c1.text(alerts.METRICS[metric])
    condition = c2.selectbox("Condition", alerts.CONDITIONS, key=f"{k}condition",
                             index=alerts.CONDITIONS.index(d.condition))
    c2.text(CONDITION_HELP[condition])
    window = c3.text_input("Window", _dur(d.window), key=f"{k}window",
                           help="e.g. 15m, 1h, 1d")
    c1, c2, c3, c4 = st.columns(4)
    warn = c1.text_input("Warn level", _num(d.warn), key=f"{k}warn")
    critical = c2.text_input("Critical level", _num(d.critical), key=f"{k}critical")
    interval = c3.text_input("Evaluate every", _dur(d.interval), key=f"{k}interval")
    cooldown = c4.text_input("Cooldown", _dur(d.cooldown), key=f"{k}cooldown",
                             help="No second message within this time of the last one")
    c1, c2, c3 = st.columns(3)
    compare_to = c1.radio("Change against", ["previous", "baseline"], horizontal=True,
                          key=f"{k}compare", index=["previous", "baseline"].index(d.compare_to),
                          help="previous: the window before; baseline: the same hours of the "
                               "previous 7 days")
    directions = ["up", "down", "both"]
    direction = c2.radio("Change direction", directions, horizontal=True, key=f"{k}direction",
                         index=directions.index(d.direction))
    min_samples = c3.number_input("Minimum samples", 1, 1_000_000, d.min_samples,
                                  key=f"{k}min_samples",
                                  help="Fewer in the window: not judged (a lone failed call at "
                                       "night is 100% errors)")
    filters = _filter_inputs(store, d, k)
    scorer = _canary_inputs(store, d, k, filters) if metric == "canary_score" else None
    channel = _channel_inputs(d, k)
    enabled = st.checkbox("Enabled", d.enabled, key=f"{k}enabled",
                          help="A disabled rule keeps its history and is not evaluated")
    if not st.button("Save rule" if current else "Create rule", type="primary", key=f"{k}save"):
        return
    data = {"name": name, "metric": metric, "condition": condition, "window": window,
            "warn": _parse_num(warn), "critical": _parse_num(critical), "interval": interval,
            "cooldown": cooldown, "filter": filters, "channels": channel,
            "compare_to": compare_to, "direction": direction, "min_samples": int(min_samples),
            "enabled": enabled, "scorer": scorer}
    try:
        roles.require(store, who, roles.Action.MANAGE_ALERTS)  # refused before parsing
        rule = alerts.parse_rule({k: v for k, v in data.items() if v not in (None, "")})
        alerts.put_rule(store, rule, who, replaces=current.name if current else None)
    except (GoldenloopError, ValueError) as exc:
        st.error("The rule was not saved:", icon=":material/error:")
        st.text(str(exc))
        return
    st.success("Saved. The server evaluates it at its next interval; `goldenloop alerts "
               "check` evaluates every rule now.", icon=":material/check:")


def _filter_inputs(store: Store, d: alerts.Rule, k: str) -> dict:
    dims = state.monitor_dimensions(store)
    out = {}
    cols = st.columns(4)
    for col, (field, label) in zip(cols, (("apps", "Apps"), ("environments", "Environments"),
                                          ("model_versions", "Model versions"),
                                          ("tags", "Tags")), strict=True):
        options = sorted(set(dims.values.get(field, [])) | set(getattr(d.filter, field)))
        out[field] = col.multiselect(label, options, default=getattr(d.filter, field),
                                     key=f"{k}{field}", format_func=visible)
    return {f: v for f, v in out.items() if v}


def _canary_inputs(store: Store, d: alerts.Rule, k: str, filters: dict) -> str:
    """Metric canary_score: the scorer watched and the suites (added to ``filters``)."""
    c1, c2 = st.columns(2)
    scorer = c1.text_input("Canary scorer", d.scorer or "exact", key=f"{k}scorer",
                           help="The experiment scorer whose mean is watched: exact, token_f1, "
                                "judge:NAME, ...")
    names = sorted(set(canaries.suite_names(store)) | set(d.filter.suites))
    suites = c2.multiselect("Canary suites", names, default=d.filter.suites, key=f"{k}suites",
                            format_func=visible, placeholder="All")
    if suites:
        filters["suites"] = suites
    return scorer.strip()


def _channel_inputs(d: alerts.Rule, k: str) -> list[dict]:
    """One channel from the form (more channels: alerts.yaml)."""
    first = d.channels[0] if d.channels else None
    c1, c2, c3 = st.columns([1, 2, 2])
    kinds = ["none", "webhook", "apprise"]
    kind = c1.selectbox("Notify", kinds, key=f"{k}channel",
                        index=kinds.index(first.type) if first else 0)
    env = c2.text_input("URL from environment variable", (first.url_env or "") if first else "",
                        key=f"{k}url_env", help="The variable's name, e.g. SLACK_WEBHOOK_URL: "
                        "the URL itself is never stored")
    url = c3.text_input("or URL (stored: no secrets)", (first.url or "") if first else "",
                        key=f"{k}url", help="Only for a receiver whose address holds no token")
    if kind == "none":
        return []
    channel = {"type": kind, "url_env": env.strip() or None, "url": url.strip() or None}
    return [{key: v for key, v in channel.items() if v is not None}]


def _dur(td) -> str:
    return format_duration(td)


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:g}"


def _parse_num(text: str) -> float | str | None:
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text  # pydantic says which level is not a number


def draw_rule(store: Store, stored: alerts.StoredRule) -> None:
    """One rule: its definition as YAML, its transitions and its deliveries."""
    st.subheader("Definition")
    st.code(visible(alerts.to_yaml([stored.rule])), language="yaml")
    st.subheader("History")
    history = alerts.transitions(store, stored.rule.name)
    if history.empty:
        st.info("No state change yet.", icon=":material/history:")
    else:
        table(history, HISTORY_COLUMNS)
    st.subheader("Notifications")
    sent = alerts.deliveries(store, stored.rule.name)
    if sent.empty:
        st.info("No notification yet.", icon=":material/notifications:")
    else:
        table(sent, DELIVERY_COLUMNS)
