"""Bucket width of a time series, chosen from its time range so no chart gets too many points.

Three limits, finest width that meets all of them:
- ``MAX_POINTS``: a chart draws at most 5,000 points (buckets × lines). Every point goes to
  the browser, and Vega slows down well before Altair's own 5,000-row guard.
- ``max_buckets`` (default ``TARGET_BUCKETS``): at most this many buckets per line. A bucket
  finer than a pixel only adds noise; a page of many half-width charts asks for fewer (the
  browser's cost grows with the points drawn).
- ``MIN_PER_BUCKET``: on average at least this many requests per bucket and line, so a p95
  means something; sparse traffic gets wider buckets.
Widths divide a day, so daily sums (cost per day) roll up from buckets exactly.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd

MAX_POINTS = 5_000
TARGET_BUCKETS = 1_000
MIN_PER_BUCKET = 20
LADDER = tuple(timedelta(minutes=m) for m in (5, 15, 30, 60, 120, 180, 360, 720, 1440))
DAY = timedelta(days=1)
ORIGIN = pd.Timestamp("1900-01-01")  # a Monday, as metrics.sql.BUCKET_ORIGIN_US


def choose_bucket(duration: timedelta, *, lines: int = 1, requests: int | None = None,
                  max_buckets: int = TARGET_BUCKETS) -> timedelta:
    """The bucket width for a chart of ``lines`` series over ``duration``, holding about
    ``requests`` requests (None: unknown, no density limit)."""
    lines = min(max(1, lines), MAX_POINTS // 2)
    seconds = max(duration.total_seconds(), 1.0)
    for width in LADDER:
        buckets = bucket_count(duration, width)
        dense = requests is None or requests / (buckets * lines) >= MIN_PER_BUCKET
        if buckets * lines <= MAX_POINTS and buckets <= max_buckets and dense:
            return width
    # Beyond the ladder (years of data, or many lines): whole days, still within the limit.
    per_line = MAX_POINTS // lines - 1  # buckets a line may have, one spare for alignment
    return timedelta(days=max(1, math.ceil(seconds / per_line / DAY.total_seconds())))


def bucket_count(duration: timedelta, width: timedelta) -> int:
    """Buckets a range touches at most: one more than fit, as it may start mid-bucket."""
    return math.ceil(max(duration.total_seconds(), 1.0) / width.total_seconds()) + 1


def points(duration: timedelta, width: timedelta, lines: int = 1) -> int:
    """The most points ``lines`` series of ``width`` buckets over ``duration`` can draw."""
    return bucket_count(duration, width) * max(1, lines)


def to_us(width: timedelta) -> int:
    return int(width / timedelta(microseconds=1))


def label(width: timedelta) -> str:
    """'5 min', '1 hour', '3 hours', '1 day', '3 days'."""
    minutes = int(width.total_seconds() // 60)
    if minutes % 1440 == 0:
        n, unit = minutes // 1440, "day"
    elif minutes % 60 == 0:
        n, unit = minutes // 60, "hour"
    else:
        return f"{minutes} min"
    return f"{n} {unit}" + ("" if n == 1 else "s")


def floor(times: pd.Series | pd.Timestamp, width: timedelta):
    """The start of the bucket of ``width`` holding each time, as the SQL numbers them."""
    return ORIGIN + ((times - ORIGIN) // width) * width
