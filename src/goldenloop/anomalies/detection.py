"""``detect``: one pass over every monitored series, and the record of what it found.

The run reads hourly aggregates (daily for grades) from a few SQL scans, tests every bucket
of the range and every level change, and decides which tests are anomalies once for all of
them with the Benjamini-Hochberg procedure at the sensitivity's level, so the false alarms
of a run stay bounded however many series there are. New versions and new failure kinds are
events found by their own rules. Then each anomaly gets example spans and is stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from goldenloop.anomalies import canary, coarse, engine, events
from goldenloop.anomalies import series_sql as sql
from goldenloop.anomalies import stats as st
from goldenloop.anomalies.catalogue import METRICS
from goldenloop.anomalies.examples import attach_examples
from goldenloop.anomalies.measures import build
from goldenloop.anomalies.records import SEVERITY_NAMES, Finding, store_findings, utcnow
from goldenloop.errors import AnomalyError
from goldenloop.spanstore.base import DUCKDB, SpanStore
from goldenloop.store import Store

# The sensitivity is the false discovery rate of a run: under pure noise, the chance that a
# run reports any anomaly at all (see docs/detection.md).
SENSITIVITY_LEVELS = {"low": 1e-4, "medium": 1e-3, "high": 1e-2}
DEFAULT_SENSITIVITY = "medium"
DEFAULT_RANGE = timedelta(days=30)
HISTORY = timedelta(days=st.LOOKBACK_DAYS + 1)  # read before the range: the baselines
_SOURCES = {"requests": "request", "signals": "request", "feedback": "request",
            "tools": "tool", "sessions": "session", "grades": "grade", "canaries": "canary"}

Progress = Callable[[float, str], None]


@dataclass
class DetectionResult:
    since: datetime
    until: datetime
    series: int  # series x metrics tested
    tests: int  # bucket tests and shift tests
    threshold: float  # p-values at or below were significant (Benjamini-Hochberg)
    found: int
    added: int
    updated: int
    resolved: int
    seconds: float

    @property
    def summary(self) -> str:
        return (f"{self.found} anomalies ({self.added} new, {self.updated} updated, "
                f"{self.resolved} resolved) over {self.series:,} series, "
                f"{self.since:%Y-%m-%d %H:%M} to {self.until:%Y-%m-%d %H:%M}, "
                f"in {self.seconds:.2f} s")


def level(sensitivity: str | float | None) -> float:
    if sensitivity is None:
        sensitivity = DEFAULT_SENSITIVITY
    if isinstance(sensitivity, str):
        if sensitivity not in SENSITIVITY_LEVELS:
            raise AnomalyError(f"sensitivity is one of {', '.join(SENSITIVITY_LEVELS)} or a "
                               f"number between 0 and 0.2, not {sensitivity!r}")
        return SENSITIVITY_LEVELS[sensitivity]
    if not 0 < float(sensitivity) <= 0.2:
        raise AnomalyError(f"sensitivity must be between 0 and 0.2 (got {sensitivity})")
    return float(sensitivity)


def detect_range(store: Store, since: datetime | None, until: datetime | None,
                 now: datetime | None, spans: SpanStore | None = None
                 ) -> tuple[datetime, datetime] | None:
    """Complete hours only: ``until`` defaults to the start of the hour holding the latest
    span (that hour may still be filling), never past ``now``."""
    if spans is not None and spans.dialect != DUCKDB:
        from goldenloop.anomalies.series_sql_clickhouse import last_start

        last = last_start(spans)
    else:
        last = store.scalar(f"SELECT max(s.start_time) FROM spans s WHERE {sql.production()}")
    if last is None:
        return None
    end = min(until or last, now or utcnow(), last if until is None else until)
    end = end.replace(minute=0, second=0, microsecond=0)
    start = since or end - DEFAULT_RANGE
    if start >= end:
        raise AnomalyError(f"nothing to examine: the range starts ({start:%Y-%m-%d %H:%M}) "
                           f"at or after it ends ({end:%Y-%m-%d %H:%M})")
    return start, end


def detect(store: Store, *, since: datetime | None = None, until: datetime | None = None,
           now: datetime | None = None, sensitivity: str | float | None = None,
           progress: Progress | None = None, spans: SpanStore | None = None) -> DetectionResult:
    """Test every series over ``[since, until)`` (default: the last 30 days of data) and
    record the anomalies: new ones added, continuing ones extended, ended ones resolved.
    Canary suites' scores are tested too, run by run (``canary``). ``spans``: where the
    spans live (None: the store's own file); the series are read there."""
    t0 = time.perf_counter()
    q = level(sensitivity)
    note = progress or (lambda frac, msg: None)
    now = now or utcnow()
    rng = detect_range(store, since, until, now, spans)
    canaries = canary.find(store, since, until, now, q)
    if rng is None and canaries.since is None:
        return DetectionResult(since or now, until or now, 0, 0, 0.0, 0, 0, 0, 0, 0.0)
    found, series, n_tests, threshold = [], 0, 0, 0.0
    if rng is not None:
        since_p, until_p = rng
        note(0.05, "reading hourly aggregates")
        tests, series = _series_tests(store, since_p, until_p, spans)
        note(0.5, "testing")
        threshold, n_tests, cands = engine.decide(tests, q)
        found = _merge_dimensions([_finding(c, until_p) for c in cands])
        found_events = events.find(store, since_p, until_p, [t.matrix for t in tests], spans)
        found += [e.finding for e in found_events]  # events: no test, see events.py
        note(0.8, f"{len(found)} anomalies: finding examples")
        attach_examples(store, found, spans)
    found += canaries.found  # with their examples: the spans of the regressed items
    # Records in the union of both ranges that were not found again are resolved.
    ranges = [r for r in (rng, (canaries.since, canaries.until)) if r is not None and r[0]]
    since, until = min(r[0] for r in ranges), max(r[1] for r in ranges)
    added, updated, resolved = store.write(store_findings, found, since=since, until=until,
                                           now=now)
    note(1.0, "done")
    return DetectionResult(since, until, series + canaries.series, n_tests + canaries.tests,
                           threshold, len(found), added, updated, resolved,
                           time.perf_counter() - t0)


def _series_tests(store: Store, since: datetime, until: datetime,
                  spans: SpanStore | None = None) -> tuple[list[engine.MetricTests], int]:
    start = since - HISTORY
    first, last = sql.to_bucket(start), sql.to_bucket(until)
    hours = last - first
    lo = sql.to_bucket(since) - first
    frames = {"request": sql.request_buckets(store, start, until, spans=spans),
              "tool": sql.tool_buckets(store, start, until, spans=spans),
              "session": sql.session_buckets(store, start, until,
                                             settled=until - timedelta(minutes=30), spans=spans)}
    idx = st.reference_index(first % (7 * 24), hours)
    d_first, d_last = sql.to_bucket(start, sql.DAY_US), sql.to_bucket(until, sql.DAY_US)
    days = d_last - d_first
    d_idx = st.daily_reference_index(days)
    d_lo = sql.to_bucket(since, sql.DAY_US) - d_first
    tests = []
    for source, frame in frames.items():
        metrics = [m for m in METRICS if _SOURCES[m.source] == source]
        hourly = {mx.metric.name: engine.test_metric(mx, lo, hours, idx, 1 / 24)
                  for mx in build(frame, metrics, first, hours, sql.HOUR_US)}
        tests += hourly.values()
        # Quiet series, whose hours are mostly too thin to test, are tested by the day.
        for mx in build(coarse.daily(frame), coarse.metrics_for_days(metrics), d_first, days,
                        sql.DAY_US):
            quiet = coarse.quiet_keys(hourly[mx.metric.name], lo, hours)
            if quiet:
                coarse.keep_only(mx, quiet)
                tests.append(engine.test_metric(mx, d_lo, days, d_idx, 1.0))
    # Grades are few: one bucket per day, compared with the previous week's days.
    grades = sql.grade_buckets(store, start, until, spans=spans)
    for mx in build(grades, [m for m in METRICS if m.source == "grades"], d_first, days,
                    sql.DAY_US):
        tests.append(engine.test_metric(mx, d_lo, days, d_idx, 1.0))
    return tests, sum(len(t.matrix.keys) for t in tests if t.matrix.width_us == sql.HOUR_US)


def _finding(c: engine.Candidate, until: datetime) -> Finding:
    mx, m = c.matrix, c.matrix.metric
    start = sql.bucket_start(mx.first + c.start, mx.width_us)
    end = sql.bucket_start(mx.first + c.end, mx.width_us)
    ongoing = c.end >= mx.y.shape[1]
    score = float(-np.log10(max(np.nanmin(c.p), 1e-300)))
    minimum = m.min_effect if c.kind == "shift" else m.hourly_effect
    severity = severity_of(abs(c.effect) / minimum, score)
    app, dim, value = c.key
    daily = mx.width_us == sql.DAY_US and m.source != "grades"
    return Finding(
        metric=m.name, app=app, dimension=dim, value=value, kind=c.kind,
        direction=c.direction, window_start=start, window_end=min(end, until),
        baseline=c.baseline, baseline_low=c.low, baseline_high=c.high, observed=c.observed,
        n=c.n, severity=severity, score=score,
        detector=f"{c.kind}:{m.kind}" + (":daily" if daily else ""),
        detector_version=engine.DETECTOR_VERSION,
        description=describe(m, c, app, dim, value),
        details={**c.details, "effect": c.effect, "buckets": int(c.end - c.start),
                 "bucket": "day" if mx.width_us == sql.DAY_US else "hour",
                 "severity_name": SEVERITY_NAMES[severity]},
        ongoing=ongoing)


def severity_of(ratio: float, score: float) -> int:
    """High: at least 4x the practical minimum change and very unlikely by chance; medium:
    at least twice it; low otherwise."""
    if ratio >= 4 and score >= 6:
        return 3
    return 2 if ratio >= 2 else 1


def describe(m, c: engine.Candidate, app: str, dim: str | None, value: str | None) -> str:
    where = app + (f", {dim.replace('_', ' ')} {value}" if dim else "")
    what = {"spike": "rose", "dip": "fell", "shift": "shifted"}[c.kind]
    return (f"{m.title} {what} for {where}: {_fmt(m, c.observed)} against a usual "
            f"{_fmt(m, c.baseline)} ({_fmt_effect(m, c.effect)}).")


def _fmt(m, x: float) -> str:
    if m.unit == "share":
        return f"{x:.1%}"
    if m.unit == "USD":
        return f"${x:.4f}"
    return f"{x:,.3g}" if abs(x) < 100 else f"{x:,.0f}"


def _fmt_effect(m, e: float) -> str:
    if m.scale in ("log", "sqrt"):
        return f"{e:+.0%}"
    if m.unit == "share":
        return f"{e * 100:+.1f} percentage points"
    return f"{e:+.2f}"


def _merge_dimensions(found: list[Finding]) -> list[Finding]:
    """A change that shows for the whole app is reported once, for the app, naming the
    versions where it also showed; a change only one version shows stays as that version's."""
    apps = [f for f in found if f.dimension is None]
    out = list(apps)
    for f in found:
        if f.dimension is None:
            continue
        parent = next((a for a in apps if a.app == f.app and a.metric == f.metric
                       and a.kind == f.kind and a.window_start < f.window_end
                       and f.window_start < a.window_end), None)
        if parent is None:
            out.append(f)
        else:
            parent.details.setdefault("also_in", []).append(f"{f.dimension}={f.value}")
    return out
