"""Time series of requests (LLM calls): volume, latency and time to first token, tokens per
response, cost, failure rates. One SQL scan gives all of them (``request_stats``); the
methods of ``RequestStats`` only reshape its few thousand rows into tidy frames.

Tidy frames have the columns ``time`` (bucket start, naive UTC), ``group`` (the split value,
or ``"all"``), ``series`` (which measure, e.g. ``p95``), ``value`` and ``n`` (the requests
behind the value). Every bucket of the range is present for every group: volume is 0 where
nothing happened and rates are missing (NaN), so a line breaks at a gap instead of bridging it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from goldenloop.metrics import buckets, sql, sql_in
from goldenloop.metrics.filters import FilterError, SpanFilter, check_split
from goldenloop.spanstore.base import SpanStore
from goldenloop.store import Store

COUNT_COLUMNS = ("requests", "errors", "timeouts", "empty", "priced")
FAILURES = {"error": "errors", "timeout": "timeouts", "empty": "empty"}
LATENCY = {"p50": "latency_p50", "p95": "latency_p95", "p99": "latency_p99"}
TTFT = {"p50": "ttft_p50", "p95": "ttft_p95"}
TOKENS = {"input": "input_tokens", "output": "output_tokens"}
TIDY = ["time", "group", "series", "value", "n"]


@dataclass(frozen=True)
class RequestStats:
    """The request aggregate of one filter, split and bucket width."""

    frame: pd.DataFrame  # one row per bucket and group that had requests (SQL's columns)
    start: datetime
    end: datetime
    bucket: timedelta
    split: str | None

    @property
    def groups(self) -> list[str]:
        return sorted(self.frame["group"].unique().tolist())

    @property
    def empty(self) -> bool:
        return self.frame.empty

    def complete(self) -> pd.DataFrame:
        """``frame`` with a row for every bucket of the range and every group."""
        return complete_grid(self.frame, self.start, self.end, self.bucket, COUNT_COLUMNS)

    def volume(self) -> pd.DataFrame:
        full = self.complete()
        return _tidy(full, {"requests": "requests"}, n="requests")

    def latency(self) -> pd.DataFrame:
        """Exact latency percentiles, ms, of all requests (failed ones too)."""
        return _tidy(self.complete(), LATENCY, n="requests")

    def ttft(self) -> pd.DataFrame:
        """Time to first token percentiles, ms, of streamed requests (others have none).
        Needs ``request_stats(..., ttft=True)``."""
        if "ttft_p50" not in self.frame:
            raise ValueError("time to first token was not aggregated: pass ttft=True")
        return _tidy(self.complete(), TTFT, n="requests")

    def tokens(self) -> pd.DataFrame:
        """Mean input and output tokens per answered request."""
        full = self.complete()
        return _tidy(full.assign(answered=full["requests"] - full[list(FAILURES.values())].sum(axis=1)),
                     TOKENS, n="answered")

    def failures(self) -> pd.DataFrame:
        """Share of requests that failed, by status (error, timeout, empty answer) and in all."""
        full = self.complete()
        rates = {name: _ratio(full[col], full["requests"]) for name, col in FAILURES.items()}
        rates["all"] = _ratio(full[list(FAILURES.values())].sum(axis=1), full["requests"])
        return _tidy(full.assign(**{f"rate_{k}": v for k, v in rates.items()}),
                     {k: f"rate_{k}" for k in rates}, n="requests")

    def cost(self) -> pd.DataFrame:
        """Cost per bucket (USD) and per 1,000 requests (of the requests that have a cost)."""
        full = self.complete()
        full = full.assign(per_1k=1000 * _ratio(full["cost_usd"], full["priced"]))
        return _tidy(full, {"total": "cost_usd", "per_1k_requests": "per_1k"}, n="requests")

    def cost_per_day(self) -> pd.DataFrame:
        """Cost per calendar day (UTC), from the buckets (widths divide a day). Buckets wider
        than a day are spread evenly over their days."""
        frame = self.frame
        if self.bucket > buckets.DAY:
            days = self.bucket / buckets.DAY
            frame = frame.assign(cost_usd=frame["cost_usd"] / days)
        day = frame["time"].dt.floor("D")
        daily = (frame.assign(time=day).groupby(["time", "group"], as_index=False)
                 [["cost_usd", "requests", "priced"]].sum(min_count=1))
        daily = complete_grid(daily, self.start, self.end, max(self.bucket, buckets.DAY),
                              ("requests", "priced"))
        return _tidy(daily.assign(series="cost_per_day"), {"cost_per_day": "cost_usd"},
                     n="requests")


def request_stats(store: Store, f: SpanFilter, split: str | None = None,
                  bucket: timedelta | None = None, *, lines: int | None = None,
                  ttft: bool = False) -> RequestStats:
    """Requests matching ``f`` per bucket and group of ``split`` (time to first token too
    with ``ttft``). ``f`` must have a time range; the bucket width is chosen from it (for
    ``lines`` lines per chart: by default three unsplit, for p50/p95/p99) unless given."""
    check_split(split)
    start, end = _range(f)
    if bucket is None:
        bucket = buckets.choose_bucket(end - start, lines=lines or 3)
    frame = sql.request_stats(store, f, split, buckets.to_us(bucket), ttft=ttft)
    return RequestStats(frame, start, end, bucket, split)


def request_stats_in(spans: SpanStore, f: SpanFilter, split: str | None = None,
                     bucket: timedelta | None = None, *, lines: int | None = None,
                     ttft: bool = False) -> RequestStats:
    """``request_stats`` read from a span store of either dialect."""
    check_split(split)
    start, end = _range(f)
    if bucket is None:
        bucket = buckets.choose_bucket(end - start, lines=lines or 3)
    frame = sql_in.request_stats_in(spans, f, split, buckets.to_us(bucket), ttft=ttft)
    return RequestStats(frame, start, end, bucket, split)


def complete_grid(frame: pd.DataFrame, start: datetime, end: datetime, width: timedelta,
                  zero_columns: tuple[str, ...]) -> pd.DataFrame:
    """Every bucket from the one holding ``start`` to the one before ``end``, for every group
    in ``frame``; counts of missing buckets are 0, everything else missing."""
    if frame.empty:
        return frame
    first = buckets.floor(pd.Timestamp(start), width)
    times = pd.date_range(first, pd.Timestamp(end) - pd.Timedelta(microseconds=1), freq=width)
    times = times.union(pd.DatetimeIndex(frame["time"]))  # keep rows outside, never drop data
    index = pd.MultiIndex.from_product([times, sorted(frame["group"].unique())],
                                       names=["time", "group"])
    full = frame.set_index(["time", "group"]).reindex(index).reset_index()
    for col in zero_columns:
        if col in full:
            full[col] = full[col].fillna(0).astype(np.int64)
    return full


def _tidy(frame: pd.DataFrame, series: dict[str, str], *, n: str) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=TIDY)
    parts = [pd.DataFrame({"time": frame["time"], "group": frame["group"], "series": name,
                           "value": frame[col].astype(float), "n": frame[n]})
             for name, col in series.items()]
    return pd.concat(parts, ignore_index=True)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return num.astype(float) / den.where(den > 0).astype(float)


def _range(f: SpanFilter) -> tuple[datetime, datetime]:
    if f.start is None or f.end is None:
        raise FilterError("a time series needs a time range: set the filter's start and end")
    return f.start, f.end
