"""Version comparison: two sides of one app's traffic (two model versions, two prompt
versions, or two time windows), each metric for both, the difference B − A with a 95%
session-bootstrap confidence interval, and a flag only where the difference is both
significant (the interval excludes 0) and practically large (beyond a threshold per metric,
relative or absolute, that the user can set): with 100k requests almost any difference is
significant, and only the practical threshold says which ones matter.

    sides = version_sides("support-bot", "model_version", "gpt-4o-2024-08-06",
                          "gpt-4o-2024-11-20", start, end)
    result = compare(store, sides)
    result.table        # one row per metric: a, b, diff, ci_low, ci_high, flag, ...
    result.flagged      # the rows that matter

Sums per session come from one SQL statement per side (``metrics.sql_compare``); the bootstrap
resamples sessions in numpy (``compare_stats``). Ratio metrics are ratios of sums; latency
quantiles are exact quantiles of the resampled requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from goldenloop.agreement import fitness
from goldenloop.errors import GoldenloopError
from goldenloop.metrics import compare_stats as cs
from goldenloop.metrics import sql, sql_in
from goldenloop.metrics import sql_compare as compare_sql
from goldenloop.metrics.compare_metrics import METRICS, Metric, Threshold
from goldenloop.metrics.filters import SpanFilter
from goldenloop.spanstore.base import SpanStore
from goldenloop.spanstore.duckdb_spans import DuckDBSpanStore
from goldenloop.store import Store

BY = {"model_version": "model_versions", "prompt_version": "prompt_versions", "time": None}
QUANTILES = {"latency_ms": (0.5, 0.95), "ttft_ms": (0.5,)}
N_BOOT = 1000
COLUMNS = ["key", "metric", "section", "unit", "a", "b", "diff", "rel_diff", "ci_low",
           "ci_high", "n_a", "n_b", "threshold", "limit", "significant", "practical", "flag",
           "verdict"]


class CompareError(GoldenloopError):
    """Two sides that cannot be compared (the same version twice, an unknown dimension)."""


@dataclass(frozen=True)
class Sides:
    """What is compared: side A (the baseline) and side B, as filters, with their labels.
    ``by`` is ``model_version``, ``prompt_version`` or ``time``. Frozen: a cache key."""

    by: str
    a: SpanFilter
    b: SpanFilter
    a_label: str
    b_label: str


def version_sides(app: str, by: str, a: str, b: str, start: datetime | None = None,
                  end: datetime | None = None, *, environments: tuple[str, ...] = ()) -> Sides:
    """Two model versions (``by="model_version"``) or prompt versions of ``app`` over the
    same time range."""
    if by not in ("model_version", "prompt_version"):
        raise CompareError(f"cannot compare by {by!r}: choose model_version or prompt_version")
    if a == b:
        raise CompareError(f"both sides are {by.replace('_', ' ')} {a!r}: choose two")
    base = SpanFilter(start=start, end=end, apps=(app,), environments=environments)
    return Sides(by, replace(base, **{BY[by]: (a,)}), replace(base, **{BY[by]: (b,)}), a, b)


def window_sides(app: str, a: tuple[datetime, datetime], b: tuple[datetime, datetime], *,
                 environments: tuple[str, ...] = (), model_versions: tuple[str, ...] = (),
                 prompt_versions: tuple[str, ...] = ()) -> Sides:
    """Two time windows ``[start, end)`` of ``app`` (e.g. last week against the one before)."""
    if a == b:
        raise CompareError("both sides are the same time window: choose two")
    base = SpanFilter(apps=(app,), environments=environments, model_versions=model_versions,
                      prompt_versions=prompt_versions)
    fa, fb = base.with_range(*a), base.with_range(*b)
    return Sides("time", fa, fb, _window_label(*a), _window_label(*b))


@dataclass(frozen=True)
class Comparison:
    sides: Sides
    # COLUMNS, one row per metric with data on either side. ``limit`` is the threshold in the
    # metric's unit (a relative one times |a|); ``n_a``, ``n_b`` the values behind each side.
    table: pd.DataFrame
    sessions: tuple[int, int]
    requests: tuple[int, int]
    n_boot: int
    level: float
    judge_choice: fitness.JudgeChoice | None = None  # which judge versions correctness counts

    @property
    def flagged(self) -> pd.DataFrame:
        return self.table[self.table["flag"]].reset_index(drop=True)

    @property
    def empty(self) -> bool:
        return min(self.requests) == 0


@dataclass(frozen=True)
class Grades:
    """The workflow side of a comparison: which judge versions count, and the grades of the
    criterion per graded span (``sql_in.graded_spans``). Frozen: a cache key."""

    criterion: str
    choice: fitness.JudgeChoice
    graded: pd.DataFrame


def compare_grades(store: Store, sides: Sides, criterion: str = "correctness",
                   judges: str | None = None, judge_versions: tuple[str, ...] = ()) -> Grades:
    """The grades a comparison of ``sides`` counts, read from the workflow ``store``: judge
    versions as ``judges`` keeps them (by default side A's filter's choice: those fit for use
    on ``criterion``; ``judge_versions`` names them instead)."""
    choice = fitness.choose(store, criterion, judges or sides.a.judges,
                            judge_versions or sides.a.judge_versions)
    graded = sql_in.graded_spans(store, criterion, ("human", "judge"), "inclusion",
                                 fitness.sql_versions(choice))
    return Grades(criterion, choice, graded)


def compare(store: Store, sides: Sides, thresholds: tuple[tuple[str, str, float], ...] = (), *,
            criterion: str = "correctness", n_boot: int = N_BOOT, seed: int = 0,
            level: float = 0.95, judges: str | None = None,
            judge_versions: tuple[str, ...] = ()) -> Comparison:
    """Every metric of ``METRICS`` for both sides, the difference B − A with its
    session-bootstrap interval at ``level``, and the flags, from the store's own spans.
    ``thresholds`` overrides the defaults: ``(metric key, "relative" | "absolute", value)``
    triples (tuples, so the call can be cached). The same ``seed`` gives the same intervals.
    Judge scores count only from the versions ``judges`` keeps (see ``compare_grades``)."""
    grades = compare_grades(store, sides, criterion, judges, judge_versions)
    return compare_in(DuckDBSpanStore(store), sides, thresholds, grades=grades, n_boot=n_boot,
                      seed=seed, level=level)


def compare_in(spans: SpanStore, sides: Sides,
               thresholds: tuple[tuple[str, str, float], ...] = (), *, grades: Grades,
               n_boot: int = N_BOOT, seed: int = 0, level: float = 0.95) -> Comparison:
    """``compare`` with the spans, signals and feedback read from ``spans`` (DuckDB or
    ClickHouse) and the grades given (``compare_grades`` of the workflow store)."""
    limits = thresholds_by_key(thresholds)
    rng = np.random.default_rng(seed)
    samples = [_sample(spans, f, grades) for f in (sides.a, sides.b)]
    reps = [cs.bootstrap(s, QUANTILES, n_boot, rng) for s in samples]
    rows = [_volume_rows(spans, sides, samples)]
    for m in METRICS:
        row = _metric_row(m, samples, reps, limits[m.key], level)
        if row is not None:
            rows.append(pd.DataFrame([row]))
    table = pd.concat(rows, ignore_index=True)[COLUMNS]
    return Comparison(sides, table, (samples[0].sessions, samples[1].sessions),
                      (int(samples[0].total("requests")), int(samples[1].total("requests"))),
                      n_boot, level, grades.choice)


def side_options(store: Store, app: str, by: str) -> pd.DataFrame:
    """What can be compared within ``app`` by ``by`` (model_version or prompt_version): each
    value with its requests, first and last request and requested model, the oldest first."""
    if by not in ("model_version", "prompt_version"):
        raise CompareError(f"cannot compare by {by!r}: choose model_version or prompt_version")
    return compare_sql.side_values(store, app, by)


def side_options_in(spans: SpanStore, app: str, by: str) -> pd.DataFrame:
    """``side_options`` read from a span store of either dialect."""
    if by not in ("model_version", "prompt_version"):
        raise CompareError(f"cannot compare by {by!r}: choose model_version or prompt_version")
    return compare_sql.side_values_in(spans, app, by)


def default_pair(options: pd.DataFrame) -> tuple[str, str] | None:
    """The comparison a user most likely wants (rows of ``side_options``): B the newest
    value, A what it most likely replaced: of the values requested as the same model as B
    (a provider's earlier snapshot), else of all others, the busiest."""
    if len(options) < 2:
        return None
    b = options.iloc[-1]
    others = options.iloc[:-1]
    same = others[others["model"] == b["model"]] if pd.notna(b["model"]) else others.iloc[:0]
    pool = same if len(same) else others
    return str(pool.sort_values("requests", ascending=False, kind="stable")["value"].iloc[0]), \
        str(b["value"])


def thresholds_by_key(overrides: tuple[tuple[str, str, float], ...] = ()) -> dict[str, Threshold]:
    """The practical threshold of every metric: its default, or the override given."""
    limits = {m.key: m.threshold for m in METRICS}
    for key, kind, value in overrides:
        if key not in limits:
            raise CompareError(f"no metric {key!r} to set a threshold for: choose one of "
                               f"{', '.join(limits)}")
        limits[key] = Threshold(kind, float(value))
    return limits


def _sample(spans: SpanStore, f: SpanFilter, grades: Grades) -> cs.Sample:
    sums = compare_sql.session_sums_in(spans, f, grades.criterion, grades.graded,
                                       judge_versions=fitness.sql_versions(grades.choice))
    sums["failures"] = sums["errors"] + sums["timeouts"] + sums["empty"]
    sums["sessions"] = np.ones_like(sums["requests"])
    values = {col: compare_sql.request_latencies_in(spans, f, col) for col in QUANTILES}
    return cs.Sample(sums, values)


def _metric_row(m: Metric, samples: list[cs.Sample], reps: list[cs.Replicates],
                limit: Threshold, level: float) -> dict | None:
    if m.quantile is not None:
        name, q = m.quantile
        n = [len(s.values[name][0]) for s in samples]
        point = [s.quantile(name, q) * m.scale for s in samples]
        rep = [r.quantiles[(name, q)] * m.scale for r in reps]
    else:
        n = [int(s.total(m.n)) for s in samples]
        point = [float(cs.ratio(s.total(m.num), s.total(m.den))) * m.scale for s in samples]
        rep = [cs.ratio(r.sums[m.num], r.sums[m.den]) * m.scale for r in reps]
    if max(n) == 0:
        return None  # neither side has data (no grades, no streaming): nothing to show
    a, b = point
    diff = b - a
    low, high = cs.percentile_interval(rep[1] - rep[0], level)
    significant = bool(low > 0 or high < 0)  # False when the interval is missing
    practical = bool(np.isfinite(diff) and limit.practical(a, diff))
    flag = significant and practical
    return dict(key=m.key, metric=m.label, section=m.section, unit=m.unit, a=a, b=b, diff=diff,
                rel_diff=diff / abs(a) if a else math.nan, ci_low=low, ci_high=high,
                n_a=n[0], n_b=n[1], threshold=limit.describe(m.unit),
                limit=limit.value * abs(a) if limit.kind == "relative" else limit.value,
                significant=significant,
                practical=practical, flag=flag, verdict=_verdict(m, diff) if flag else "")


def _volume_rows(spans: SpanStore, sides: Sides, samples: list[cs.Sample]) -> pd.DataFrame:
    """Requests and sessions per side, and how much traffic each side is: its share of the
    app's requests (versions) or its requests per day (windows). Shown, never flagged: a
    volume difference is a choice of traffic, not a change in behaviour."""
    requests = [s.total("requests") for s in samples]
    rows = [_info("requests", "Requests", "count", requests),
            _info("sessions", "Sessions", "count", [float(s.sessions) for s in samples])]
    if sides.by == "time":
        days = [(f.end - f.start).total_seconds() / 86400 for f in (sides.a, sides.b)]
        rows.append(_info("requests_per_day", "Requests per day", "count",
                          [r / d for r, d in zip(requests, days, strict=True)]))
    else:
        field = BY[sides.by]
        totals = [float(sql.request_totals_in(spans, replace(f, **{field: ()}), None)["requests"].iloc[0])
                  for f in (sides.a, sides.b)]
        rows.append(_info("traffic_share", "Share of the app's requests", "rate",
                          [r / t if t else math.nan for r, t in zip(requests, totals, strict=True)]))
    return pd.DataFrame(rows)


def _info(key: str, label: str, unit: str, values: list[float]) -> dict:
    a, b = values
    return dict(key=key, metric=label, section="Volume", unit=unit, a=a, b=b, diff=b - a,
                rel_diff=(b - a) / abs(a) if a else math.nan, ci_low=math.nan, ci_high=math.nan,
                n_a=math.nan, n_b=math.nan, threshold="not flagged", limit=math.nan, significant=False,
                practical=False, flag=False, verdict="")


def _verdict(m: Metric, diff: float) -> str:
    if m.better is None:
        return "higher in B" if diff > 0 else "lower in B"
    return "better in B" if (diff > 0) == (m.better == "higher") else "worse in B"


def _window_label(start: datetime, end: datetime) -> str:
    """Whole days read as inclusive dates ("2026-02-01 to 2026-02-07"); else start to end."""
    if start == datetime.combine(start.date(), datetime.min.time()) and \
            end == datetime.combine(end.date(), datetime.min.time()):
        last = (end - timedelta(days=1)).date()
        return f"{start:%Y-%m-%d}" if last == start.date() else f"{start:%Y-%m-%d} to {last}"
    return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"
