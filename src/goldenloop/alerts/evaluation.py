"""Evaluating rules: each rule's value over its window at a time ``at``, and the state it
puts the rule in (OK, WARN, ALERT, NO_DATA) with the level crossed and a one-line reason.

Reading only: recording transitions and sending notifications is ``engine``'s work.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime

from goldenloop.alerts.rules import EXTENSIVE, Rule, format_duration
from goldenloop.alerts.values import FAMILY_OF, Periods, anomaly_severity, family_values
from goldenloop.store.store import Store


@dataclass(frozen=True)
class Evaluation:
    rule: str
    metric: str
    state: str
    value: float | None          # the metric over the window (max severity for anomalies)
    samples: int                 # what the value rests on: requests, texts, grades, anomalies
    threshold: float | None      # the level crossed, when WARN or ALERT
    reference: float | None      # "change": the value it is compared with
    change: float | None         # "change": relative change against the reference
    window_start: datetime
    window_end: datetime
    reason: str


def periods_of(rule: Rule, at: datetime) -> Periods:
    reference = rule.compare_to if rule.condition == "change" else None
    return Periods(at - rule.window, at, reference, rule.baseline_days)


def evaluate(store: Store, rules: list[Rule], at: datetime) -> list[Evaluation]:
    """Every rule at ``at``. Rules sharing family, filter, window and reference share one
    statement."""
    wanted: dict[tuple, set[str]] = defaultdict(set)
    for r in rules:
        if r.condition != "anomaly":
            key = (FAMILY_OF[r.metric], r.filter.key(), periods_of(r, at), _subject(r))
            wanted[key].add(r.metric)
    values: dict[tuple, dict] = {}
    for key, metrics in wanted.items():
        family, _, periods, criterion = key
        rule_filter = next(r.filter for r in rules if r.filter.key() == key[1])
        f = rule_filter if family == "canaries" else rule_filter.span_filter()
        values[key] = family_values(store, family, metrics, f, periods, criterion)
    out = []
    for r in rules:
        periods = periods_of(r, at)
        if r.condition == "anomaly":
            severity, count, top = anomaly_severity(store, r.filter.apps, r.anomaly_metrics,
                                                    periods.start, at)
            ev = _classify(r, periods, (float(severity), count), (None, 0))
            if top and ev.state != "OK":  # what to look at, in the message itself
                ev = replace(ev, reason=f"{ev.reason}; most severe: {top}")
            out.append(ev)
            continue
        got = values[(FAMILY_OF[r.metric], r.filter.key(), periods, _subject(r))]
        out.append(_classify(r, periods, got.get((0, r.metric), (None, 0)),
                             got.get((1, r.metric), (None, 0))))
    return out


def _subject(r: Rule) -> str:
    """What a rule's metric is of: the graded criterion, or a canary rule's scorer."""
    return (r.scorer or "") if r.metric == "canary_score" else r.criterion


def _classify(r: Rule, p: Periods, current: tuple, reference: tuple) -> Evaluation:
    value, n = current
    if r.metric in EXTENSIVE and value is None:
        value = 0.0  # no requests in the window: zero requests, zero cost
    base = dict(rule=r.name, metric=r.metric, value=value, samples=n, threshold=None,
                reference=None, change=None, window_start=p.start, window_end=p.end)
    over = f"over {format_duration(p.window)}"
    if r.condition == "no_data":
        if n >= r.min_samples:
            return Evaluation(state="OK", reason=f"{n:,} samples {over}", **base)
        return Evaluation(state=r.no_data_state, reason=f"no data {over} ({n:,} samples, "
                          f"{r.min_samples:,} needed)", **base)
    if value is None:
        return Evaluation(state=r.no_data_state, reason=f"no data {over}", **base)
    # Too few to judge is not "no data": a quiet night must not page anyone either way.
    # Totals and anomaly severities are values whatever was counted (zero included).
    if n < r.min_samples and r.metric not in EXTENSIVE and r.condition != "anomaly":
        return Evaluation(state="OK", reason=f"{r.metric} {fmt(r.metric, value)} {over} rests "
                          f"on {n:,} samples, fewer than min_samples ({r.min_samples:,}): not "
                          "judged", **base)
    if r.condition == "change":
        return _change(r, p, value, reference, base, over)
    shown = f"{r.metric} {fmt(r.metric, value)} {over} ({n:,} samples)"
    for state, level in (("ALERT", r.critical), ("WARN", r.warn)):
        if level is not None and _crosses(r.condition, value, level):
            word = {"above": "above", "below": "below", "anomaly": "at or above"}[r.condition]
            return Evaluation(state=state, reason=f"{shown}: {word} {state_level(state)} "
                              f"{fmt(r.metric, level)}", **base | {"threshold": level})
    return Evaluation(state="OK", reason=shown, **base)


def _crosses(condition: str, value: float, level: float) -> bool:
    if condition == "above":
        return value > level
    if condition == "below":
        return value < level
    return value >= level  # anomaly severities: "severity >= S"


def _change(r: Rule, p: Periods, value: float, reference: tuple, base: dict,
            over: str) -> Evaluation:
    ref, ref_n = reference
    if r.metric in EXTENSIVE:  # totals of a longer period, brought to the window's length
        ref = (ref or 0.0) * (p.window / p.reference_length)
    against = "the previous window" if r.compare_to == "previous" else \
        f"the same hours of the previous {r.baseline_days} days"
    if ref is None or ref == 0 or (ref_n < r.min_samples and r.metric not in EXTENSIVE):
        return Evaluation(state="OK", reason=f"nothing to compare with in {against}", **base)
    change = (value - ref) / abs(ref)
    base |= {"reference": ref, "change": change}
    shown = (f"{r.metric} {fmt(r.metric, value)} {over}, {change:+.0%} against {against} "
             f"({fmt(r.metric, ref)})")
    moved = {"up": change, "down": -change, "both": abs(change)}[r.direction]
    for state, level in (("ALERT", r.critical), ("WARN", r.warn)):
        if level is not None and moved > level:
            return Evaluation(state=state, reason=f"{shown}: beyond {state_level(state)} "
                              f"{level:.0%}", **base | {"threshold": level})
    return Evaluation(state="OK", reason=shown, **base)


def state_level(state: str) -> str:
    return "critical" if state == "ALERT" else "warn"


def fmt(metric: str, value: float | None) -> str:
    """A metric's value as people read it: rates in %, times in ms, cost in USD."""
    if value is None:
        return "-"
    if metric.endswith("_rate"):
        return f"{value:.1%}"
    if "latency" in metric or metric.startswith("ttft"):
        return f"{value:,.0f} ms"
    if metric.startswith("cost"):
        return f"${value:,.2f}"
    if metric in ("requests", "anomalies"):
        return f"{value:,.0f}"
    return f"{value:,.3g}"
