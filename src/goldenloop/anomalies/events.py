"""Events that are anomalies by what they are, not by a test against a baseline: a new model
or prompt version appearing (with the metrics that moved against the version before it:
the same comparison as ``goldenloop.metrics.compare`` makes, read from the run's hourly
series instead of a bootstrap over spans, so it costs nothing) and a new failure kind (an
error type, or a failing component, never seen before in an app with history).

Each event is reported with p = 0: it happened, and no multiple-testing correction can make
it less true. What it costs in false alarms is the rules below (minimum history, counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from goldenloop.anomalies import series_sql as sql
from goldenloop.anomalies.catalogue import BY_NAME
from goldenloop.anomalies.measures import Matrix, effect, to_natural
from goldenloop.anomalies.records import SEVERITY_NAMES, Finding
from goldenloop.metrics import REQUEST_KIND
from goldenloop.spanstore.base import DUCKDB, SpanStore
from goldenloop.store import Store
from goldenloop.store.span_filter import SpanFilter
from goldenloop.store.span_filter import where as span_where

MIN_HISTORY = timedelta(days=3)  # before this much history, nothing is "new"
MIN_VERSION_REQUESTS = 30
MIN_FAILURES = 3  # one odd error is not yet a failure kind
COMPARE_SPAN = timedelta(days=3)  # each side of a version comparison, at most
VERSION_Z = 4.0  # a version comparison's z from which a metric "moved" (with the minimum effect)
VERSION = "1"
@dataclass
class Event:
    finding: Finding
    p: float = 0.0


def find(store: Store, since: datetime, until: datetime, mats: list[Matrix],
         spans: SpanStore | None = None) -> list[Event]:
    """New versions and new failure kinds; ``spans``: where the spans live (None: the
    store's own file)."""
    seen = sql.version_first_seen(store, until, spans)
    return (new_versions(store, since, until, mats, seen, spans)
            + new_failures(store, since, until, seen, spans))


# -- new versions ---------------------------------------------------------------------------------
def new_versions(store: Store, since: datetime, until: datetime, mats: list[Matrix],
                 seen: pd.DataFrame, spans: SpanStore | None = None) -> list[Event]:
    """Versions first seen in the range, in apps with some history before them; ``mats``
    are the run's series (the comparison reads them instead of scanning spans again),
    ``seen`` is ``series_sql.version_first_seen``."""
    app_start = seen[seen["dimension"].isna()].set_index("app")["first_seen"]
    out = []
    for r in seen[seen["dimension"].notna() & seen["value"].notna()].itertuples():
        first = r.first_seen.to_pydatetime()
        if not (since <= first < until) or r.requests < MIN_VERSION_REQUESTS:
            continue
        if first - app_start[r.app].to_pydatetime() < MIN_HISTORY:
            continue
        out += _version_event(store, mats, r.app, r.dimension, r.value, first,
                              r.last_seen.to_pydatetime(), until, spans)
    return out


def _previous(store: Store, app: str, dim: str, value: str, first: datetime,
              spans: SpanStore | None = None) -> str | None:
    """The version the new one replaced: of the app's versions in the days before ``first``,
    the one whose share of requests fell most in the days after (not simply the busiest:
    an app may run two models side by side)."""
    around = SpanFilter(start=first - COMPARE_SPAN, end=first + COMPARE_SPAN, apps=(app,),
                        kinds=(REQUEST_KIND,))
    if spans is not None and spans.dialect != DUCKDB:
        from goldenloop.anomalies.series_sql_clickhouse import previous_version

        return previous_version(spans, around, dim, value, first)
    where, params = span_where(around)
    rows = store.rows(
        f"""WITH v AS (
                SELECT s.{dim} AS version,
                       count(*) FILTER (WHERE s.start_time < $first) AS before,
                       count(*) FILTER (WHERE s.start_time >= $first) AS after
                FROM spans s
                WHERE {where} AND s.{dim} IS NOT NULL
                GROUP BY ALL
            )
            SELECT version FROM v WHERE before > 0 AND version <> $value
            ORDER BY before / sum(before) OVER () - after / greatest(sum(after) OVER (), 1) DESC,
                     before DESC
            LIMIT 1""",
        {**params, "value": value, "first": first})
    return rows[0][0] if rows else None


def _version_event(store: Store, mats: list[Matrix], app: str, dim: str, value: str,
                   first: datetime, last: datetime, until: datetime,
                   spans: SpanStore | None = None) -> list[Event]:
    prev = _previous(store, app, dim, value, first, spans)
    hour = first.replace(minute=0, second=0, microsecond=0)
    end = min(hour + COMPARE_SPAN, until)
    base = dict(metric="requests", app=app, dimension=dim, value=value, kind="new_version",
                direction="new", window_start=hour,
                window_end=end, baseline=None, baseline_low=None, baseline_high=None,
                observed=None, n=0, severity=1, score=0.0, detector="new_version",
                detector_version=VERSION, ongoing=last >= until - timedelta(hours=1))
    label = dim.replace("_", " ")
    if prev is None or prev == value:
        return [Event(Finding(**base, description=f"New {label} {value} in {app}.",
                              details={"previous": None}))]
    moved = [c for mx in mats if mx.metric.name != "requests"
             for c in [compare_versions(mx, (app, dim, prev), (app, dim, value), first)]
             if c is not None]
    details = {"previous": prev, "moved": [c.metric for c in moved],
               "compared": f"{COMPARE_SPAN.days} days before against up to "
                           f"{COMPARE_SPAN.days} days after"}
    if not moved:
        return [Event(Finding(**base, details=details,
                              description=f"New {label} {value} in {app} (after {prev}): no "
                                          "metric moved beyond its practical threshold."))]
    return [Event(_moved(base, c, prev, details)) for c in moved]


@dataclass
class Moved:
    metric: str
    a: float  # the previous version's value, in the metric's unit
    b: float  # the new version's
    n: int  # the new version's requests (or other denominator)
    z: float
    effect: float


def compare_versions(mx: Matrix, old: tuple, new: tuple, first: datetime) -> Moved | None:
    """The previous version over the span before ``first`` against the new one over the span
    from it: pooled rates with a two-proportion z, other values as the mean of their
    buckets with a Welch z over buckets. Kept when |z| >= ``VERSION_Z`` and the change is
    beyond the metric's practical minimum."""
    if old not in mx.keys or new not in mx.keys:
        return None
    m = mx.metric
    span = int(COMPARE_SPAN / timedelta(microseconds=mx.width_us))
    c = sql.to_bucket(first, mx.width_us) - mx.first
    sides = [(mx.keys.index(old), slice(max(c - span, 0), c)),
             (mx.keys.index(new), slice(c, c + span))]
    if m.kind == "rate":
        (ka, na), (kb, nb) = [(np.nansum(mx.k[r, sl]), np.nansum(mx.n[r, sl])) for r, sl in sides]
        if min(na, nb) < MIN_VERSION_REQUESTS:
            return None
        a, b, pool = ka / na, kb / nb, (ka + kb) / (na + nb)
        z = (b - a) / np.sqrt(max(pool * (1 - pool), 1e-12) * (1 / na + 1 / nb))
        n_new = nb
    else:
        vals = [mx.y[r, sl][np.isfinite(mx.y[r, sl])] for r, sl in sides]
        if min(len(v) for v in vals) < 3:
            return None
        ya, yb = (float(np.mean(v)) for v in vals)
        se = np.sqrt(sum(float(np.var(v, ddof=1)) / len(v) for v in vals))
        z = (yb - ya) / max(se, 1e-12)
        a, b = (float(to_natural(m, np.array(x))) for x in (ya, yb))
        n_new = np.nansum(mx.n[sides[1][0], sides[1][1]])
    eff = float(effect(m, np.array(b), np.array(a)))
    if abs(z) < VERSION_Z or abs(eff) < m.min_effect:
        return None
    return Moved(m.name, float(a), float(b), int(n_new), float(z), eff)


def _moved(base: dict, c: Moved, prev: str, details: dict) -> Finding:
    m = BY_NAME[c.metric]
    ratio = abs(c.effect) / m.min_effect
    bad = m.bad == "both" or (m.bad == "up") == (c.b > c.a)
    severity = (3 if ratio >= 4 else 2 if ratio >= 2 else 1) if bad else 1
    label = base["dimension"].replace("_", " ")
    change = f"{c.effect:+.0%}" if m.scale in ("log", "sqrt") else f"{c.effect:+.3g}"
    return Finding(**{**base, "metric": m.name, "direction": "up" if c.b > c.a else "down",
                      "baseline": c.a, "observed": c.b, "n": c.n, "severity": severity,
                      "score": abs(c.z)},
                   description=(f"New {label} {base['value']} in {base['app']} (after {prev}): "
                                f"{m.title.lower()} {c.a:,.3g} → {c.b:,.3g} ({change})."),
                   details={**details, "z": c.z, "severity_name": SEVERITY_NAMES[severity]})


# -- new failure kinds ----------------------------------------------------------------------------
def new_failures(store: Store, since: datetime, until: datetime,
                 seen: pd.DataFrame, spans: SpanStore | None = None) -> list[Event]:
    kinds = sql.failure_kinds(store, since, until, spans)
    if kinds.empty:
        return []
    app_start = seen[seen["dimension"].isna()].set_index("app")["first_seen"]
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
