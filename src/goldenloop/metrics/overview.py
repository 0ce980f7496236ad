"""Everything the Monitor page draws for one filter, in one call: totals, the request series,
signals, correctness, feedback, the moments model versions first appeared, and (on demo
data) the injected incidents. Also the values each filter can take.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from goldenloop.agreement import fitness
from goldenloop.metrics import buckets, quality, sql, sql_in
from goldenloop.metrics.filters import FilterError, SpanFilter, check_split
from goldenloop.metrics.series import RequestStats, request_stats_in
from goldenloop.spanstore.base import SpanStore
from goldenloop.spanstore.duckdb_spans import DuckDBSpanStore
from goldenloop.store import Store
from goldenloop.store import incidents as incident_sql

DIMENSION_LIMIT = 200  # filter options per dimension, busiest first
UNSPLIT_LINES = 3  # the widest unsplit chart: latency p50/p95/p99, failures by status
# A version first seen this close to the first request of all was already in use when the
# data begins: its first request is not a change worth a marker.
PRESENT_FROM_START = timedelta(hours=1)


@dataclass(frozen=True)
class Dimensions:
    first: datetime | None  # first request
    last: datetime | None
    requests: int
    values: dict[str, list[str]]  # filter name (apps, environments, ...) -> values

    @property
    def empty(self) -> bool:
        return self.requests == 0


@dataclass(frozen=True)
class Totals:
    requests: int
    failures: int
    failure_rate: float | None
    latency_p50: float | None
    latency_p95: float | None
    output_tokens: float | None
    cost_usd: float | None
    priced: int
    groups: int


@dataclass(frozen=True)
class Overview:
    filter: SpanFilter
    split: str | None
    totals: Totals
    requests: RequestStats
    signals: pd.DataFrame
    correctness: pd.DataFrame
    feedback: pd.DataFrame
    markers: pd.DataFrame  # model_version, first_seen: versions that appeared in the range
    incidents: pd.DataFrame  # kind, app, model_version, starts_at, ends_at, description
    correctness_scale: tuple[float | None, float | None] = (None, None)  # the rubric's range
    correctness_bucket: timedelta = buckets.DAY  # grades are sparse: a day at the finest
    judge_choice: fitness.JudgeChoice | None = None  # which judge versions correctness counts

    @property
    def bucket(self) -> timedelta:
        return self.requests.bucket

    @property
    def empty(self) -> bool:
        return self.totals.requests == 0


_DIMENSIONS = {"app": "apps", "environment": "environments", "model_version": "model_versions",
               "prompt_version": "prompt_versions", "tags": "tags"}


def dimensions(store: Store, limit: int = DIMENSION_LIMIT) -> Dimensions:
    return dimensions_in(DuckDBSpanStore(store), limit)


def dimensions_in(spans: SpanStore, limit: int = DIMENSION_LIMIT) -> Dimensions:
    """The values each filter can take and the request range, from a span store of either
    dialect."""
    first, last, n = sql_in.request_range_in(spans)
    values: dict[str, list[str]] = {name: [] for name in _DIMENSIONS.values()}
    if n:
        frame = sql_in.dimension_values_in(spans, limit)
        for dim, group in frame.groupby("dimension", sort=False):
            values[_DIMENSIONS[dim]] = group["value"].tolist()
    return Dimensions(first, last, n, values)


def totals(store: Store, f: SpanFilter, split: str | None = None) -> Totals:
    return totals_in(DuckDBSpanStore(store), f, split)


def totals_in(spans: SpanStore, f: SpanFilter, split: str | None = None) -> Totals:
    """The headline figures over ``f``, from a span store of either dialect."""
    row = sql.request_totals_in(spans, f, check_split(split)).iloc[0]
    requests = int(row["requests"])
    failures = int(row["errors"] + row["timeouts"] + row["empty"])
    return Totals(
        requests=requests, failures=failures,
        failure_rate=failures / requests if requests else None,
        latency_p50=_num(row["latency_p50"]), latency_p95=_num(row["latency_p95"]),
        output_tokens=_num(row["output_tokens"]), cost_usd=_num(row["cost_usd"]),
        priced=int(row["priced"]), groups=int(row["groups"]),
    )


def version_markers(store: Store, f: SpanFilter) -> pd.DataFrame:
    """Model versions whose first request (under ``f``'s other filters, over all time) falls
    inside ``f``'s time range and after the data began: model_version, first_seen, requests."""
    return version_markers_in(DuckDBSpanStore(store), f)


def version_markers_in(spans: SpanStore, f: SpanFilter) -> pd.DataFrame:
    """``version_markers`` from a span store of either dialect."""
    seen = sql.version_first_seen_in(spans, f)
    cols = ["model_version", "first_seen", "requests"]
    if seen.empty:
        return pd.DataFrame(columns=cols)
    appeared = seen["first_seen"] - seen["data_start"] >= PRESENT_FROM_START
    inside = pd.Series(True, index=seen.index)
    if f.start is not None:
        inside &= seen["first_seen"] >= f.start
    if f.end is not None:
        inside &= seen["first_seen"] < f.end
    return seen.loc[appeared & inside, cols].reset_index(drop=True)


def incidents(store: Store, f: SpanFilter) -> pd.DataFrame:
    """Recorded (demo) incidents overlapping the range, of the filtered apps when set."""
    rows = incident_sql.list_incidents(store.cursor(), since=f.start, until=f.end)
    if f.apps:
        rows = [r for r in rows if r["app"] is None or r["app"] in f.apps]
    return pd.DataFrame(rows, columns=list(incident_sql.COLUMNS))


def overview(store: Store, f: SpanFilter, split: str | None = None, *,
             criterion: str = quality.CORRECTNESS,
             max_buckets: int = buckets.TARGET_BUCKETS) -> Overview:
    """All the Monitor's series for ``f`` (which must have a time range), split by ``split``
    (one of ``SPLITS``), from the store's own spans: ``overview_in`` with the DuckDB span
    store of ``store``."""
    return overview_in(DuckDBSpanStore(store), store, f, split, criterion=criterion,
                       max_buckets=max_buckets)


def overview_in(spans: SpanStore, store: Store, f: SpanFilter, split: str | None = None, *,
                criterion: str = quality.CORRECTNESS,
                max_buckets: int = buckets.TARGET_BUCKETS) -> Overview:
    """All the Monitor's series for ``f`` (which must have a time range), split by ``split``
    (one of ``SPLITS``), with spans, signals and feedback read from ``spans`` (DuckDB or
    ClickHouse) and grades, judges, rubrics and incidents from the workflow ``store``. The
    bucket width is chosen once, from the range, the number of lines the widest chart draws,
    the number of requests and ``max_buckets``, and shared by every chart. Judge scores count
    only from the judge versions ``f.judges`` keeps (by default the versions fit for use on
    ``criterion``; ``f.judge_versions`` names them instead)."""
    check_split(split)
    t = totals_in(spans, f, split)
    lines = max(t.groups, 1) if split else UNSPLIT_LINES
    start, end = _range(f)
    bucket = buckets.choose_bucket(end - start, lines=lines, requests=t.requests,
                                   max_buckets=max_buckets)
    stats = request_stats_in(spans, f, split, bucket, ttft=True)
    graded = max(buckets.DAY, bucket)  # wider than a day only where the point budget says so
    choice = fitness.choose(store, criterion, f.judges, f.judge_versions)
    return Overview(
        filter=f, split=split, totals=t, requests=stats,
        signals=quality.signals_in(spans, f, split, bucket),
        correctness=quality.correctness_in(spans, store, f, split, criterion=criterion,
                                           bucket=graded,
                                           judge_versions=fitness.sql_versions(choice)),
        feedback=quality.feedback_in(spans, f, split, bucket),
        markers=version_markers_in(spans, f),
        incidents=incidents(store, f),
        correctness_scale=criterion_scale(store, criterion),
        correctness_bucket=graded,
        judge_choice=choice,
    )


def criterion_scale(store: Store, criterion: str) -> tuple[float | None, float | None]:
    """The range a rubric states for ``criterion`` (None where it states none)."""
    rows = quality.graded_criteria(store)
    row = rows[rows["criterion"] == criterion]
    if row.empty:
        return None, None
    return _num(row["min_value"].iloc[0]), _num(row["max_value"].iloc[0])


def _range(f: SpanFilter) -> tuple[datetime, datetime]:
    if f.start is None or f.end is None:
        raise FilterError("the overview needs a time range: set the filter's start and end")
    return f.start, f.end


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)



