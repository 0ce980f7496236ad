"""Events that are anomalies by what they are, not by a test against a baseline: a new model
or prompt version appearing (with the metrics that moved against the version before it,
from ``goldenloop.metrics.compare``) and a new failure kind (an error type, or a failing
component, never seen before in an app with history).

Each event is reported with p = 0: it happened, and no multiple-testing correction can make
it less true. What it costs in false alarms is the rules below (minimum history, counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from goldenloop.anomalies import series_sql as sql
from goldenloop.anomalies.catalogue import BY_NAME
from goldenloop.anomalies.records import SEVERITY_NAMES, Finding
from goldenloop.store import Store

MIN_HISTORY = timedelta(days=3)  # before this much history, nothing is "new"
MIN_VERSION_REQUESTS = 30
MIN_FAILURES = 3  # one odd error is not yet a failure kind
COMPARE_SPAN = timedelta(days=3)  # each side of a version comparison, at most
VERSION = "1"
# Version comparison keys (goldenloop.metrics.compare) and the catalogue's names for them.
COMPARE_TO_METRIC = {
    "latency_p50": "latency_p50", "latency_p95": "latency_p95", "input_tokens": "input_tokens",
    "output_tokens": "output_tokens", "cost_per_1k": "cost_usd", "error_rate": "error_rate",
    "timeout_rate": "timeout_rate", "empty_rate": "empty_rate", "refusal_rate": "refusal_rate",
    "output_offensive": "output_offensive_rate", "user_offensive": "user_offensive_rate",
    "output_sentiment": "output_sentiment", "user_sentiment": "user_sentiment",
    "thumbs_down": "negative_feedback_rate", "correctness_human": "correctness",
    "correctness_judge": "correctness",
}


@dataclass
class Event:
    finding: Finding
    p: float = 0.0


def find(store: Store, since: datetime, until: datetime) -> list[Event]:
    return new_versions(store, since, until) + new_failures(store, since, until)


# -- new versions ---------------------------------------------------------------------------------
def new_versions(store: Store, since: datetime, until: datetime) -> list[Event]:
    seen = sql.version_first_seen(store, until)
    app_start = seen[seen["dimension"].isna()].set_index("app")["first_seen"]
    out = []
    for r in seen[seen["dimension"].notna() & seen["value"].notna()].itertuples():
        first = r.first_seen.to_pydatetime()
        if not (since <= first < until) or r.requests < MIN_VERSION_REQUESTS:
            continue
        if first - app_start[r.app].to_pydatetime() < MIN_HISTORY:
            continue
        out += _version_event(store, r.app, r.dimension, r.value, first,
                              r.last_seen.to_pydatetime(), until)
    return out


def _previous(store: Store, app: str, dim: str, first: datetime) -> str | None:
    rows = store.rows(
        f"""SELECT s.{dim} FROM spans s
            WHERE s.app = ? AND s.kind = 'llm' AND {sql.production()} AND s.{dim} IS NOT NULL
              AND s.start_time >= ? AND s.start_time < ?
            GROUP BY ALL ORDER BY count(*) DESC LIMIT 1""",
        [app, first - COMPARE_SPAN, first])
    return rows[0][0] if rows else None


def _version_event(store: Store, app: str, dim: str, value: str, first: datetime,
                   last: datetime, until: datetime) -> list[Event]:
    from goldenloop.metrics.compare import compare, version_sides

    prev = _previous(store, app, dim, first)
    end = min(first + COMPARE_SPAN, until)
    base = dict(metric="requests", app=app, dimension=dim, value=value, kind="new_version",
                direction="new", window_start=first.replace(minute=0, second=0, microsecond=0),
                window_end=end, baseline=None, baseline_low=None, baseline_high=None,
                observed=None, n=0, severity=1, score=0.0, detector="new_version",
                detector_version=VERSION, ongoing=last >= until - timedelta(hours=1))
    label = dim.replace("_", " ")
    if prev is None or prev == value:
        return [Event(Finding(**base, description=f"New {label} {value} in {app}.",
                              details={"previous": None}))]
    cmp = compare(store, version_sides(app, dim, prev, value, first - COMPARE_SPAN, end),
                  n_boot=200)
    moved = cmp.flagged
    moved = moved[moved["key"].isin(COMPARE_TO_METRIC)]
    details = {"previous": prev, "requests": [int(x) for x in cmp.requests],
               "moved": moved["key"].tolist()}
    if moved.empty:
        return [Event(Finding(**{**base, "n": int(cmp.requests[1])}, details=details,
                              description=f"New {label} {value} in {app} (after {prev}): no "
                                          "metric moved beyond its practical threshold."))]
    return [Event(_moved(base, r, prev, cmp.requests[1], details))
            for r in moved.itertuples()]


def _moved(base: dict, r, prev: str, n: int, details: dict) -> Finding:
    m = BY_NAME[COMPARE_TO_METRIC[r.key]]
    rel = r.diff / abs(r.a) if r.a else float("inf")
    ratio = abs(rel if m.scale in ("log", "sqrt") else r.diff) / m.min_effect
    severity = 3 if ratio >= 4 else 2 if ratio >= 1 else 1
    label = base["dimension"].replace("_", " ")
    return Finding(**{**base, "metric": m.name, "direction": "up" if r.diff > 0 else "down",
                      "baseline": float(r.a), "observed": float(r.b),
                      "baseline_low": float(r.a + r.ci_low - r.diff),
                      "baseline_high": float(r.a + r.ci_high - r.diff), "n": int(n),
                      "severity": severity, "score": float(ratio)},
                   description=(f"New {label} {base['value']} in {base['app']} (after {prev}): "
                                f"{m.title.lower()} {r.a:,.3g} → {r.b:,.3g} ({rel:+.0%})."),
                   details={**details, "compare_key": r.key, "ci": [r.ci_low, r.ci_high],
                            "severity_name": SEVERITY_NAMES[severity]})


# -- new failure kinds ----------------------------------------------------------------------------
def new_failures(store: Store, since: datetime, until: datetime) -> list[Event]:
    kinds = sql.failure_kinds(store, since, until)
    if kinds.empty:
        return []
    starts = sql.version_first_seen(store, until)
    app_start = starts[starts["dimension"].isna()].set_index("app")["first_seen"]
    out = []
    for (app, component), grp in kinds.groupby(["app", "component"], dropna=False):
        key_col = "error_kind" if pd.isna(component) else None
        for key, rows in (grp.groupby(key_col) if key_col else [(component, grp)]):
            first = rows["first_seen"].min().to_pydatetime()
            if rows["before"].sum() > 0 or rows["since"].sum() < MIN_FAILURES:
                continue
            if first - app_start[app].to_pydatetime() < MIN_HISTORY or first < since:
                continue
            out.append(Event(_failure(app, component, key, rows, first, until)))
    return out


def _failure(app: str, component, key: str, rows: pd.DataFrame, first: datetime,
             until: datetime) -> Finding:
    last = rows["last_seen"].max().to_pydatetime()
    count = int(rows["since"].sum())
    tool = not pd.isna(component)
    keys = [int(k) for ks in rows["recent_keys"] for k in ks][:20]
    what = (f"component {component} failing ({', '.join(rows['failure'].head(3))})" if tool
            else f"failure kind {key}")
    return Finding(
        metric="tool_error_rate" if tool else "error_rate", app=app,
        dimension="component" if tool else "error_type", value=str(key), kind="new_failure",
        direction="new", window_start=first.replace(minute=0, second=0, microsecond=0),
        window_end=min(last.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1),
                       until),
        baseline=0.0, baseline_low=0.0, baseline_high=0.0, observed=float(count), n=count,
        severity=3 if count >= 30 else 2 if count >= 10 else 1, score=float(count),
        detector="new_failure", detector_version=VERSION,
        description=f"New {what} in {app}: {count} times since {first:%Y-%m-%d %H:%M}, never "
                    "before.",
        details={"messages": rows["failure"].head(5).tolist()}, example_span_keys=keys,
        ongoing=last >= until - timedelta(hours=1))
