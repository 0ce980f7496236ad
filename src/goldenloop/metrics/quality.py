"""What the answers were like: automatic signals (offensive language, sentiment), correctness
from human grades and judge scores, and end users' feedback, as tidy time series (the
columns of ``series``, plus a confidence interval for correctness).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import pandas as pd

from goldenloop.metrics import buckets, sql, sql_in
from goldenloop.metrics.filters import FilterError, SpanFilter, check_split
from goldenloop.metrics.series import TIDY, complete_grid
from goldenloop.spanstore.base import DUCKDB, SpanStore
from goldenloop.store import Store

SIGNALS = ("user_offensive", "output_offensive", "user_sentiment", "output_sentiment")
FEEDBACK_COUNTS = ("requests", "with_feedback", "thumbs", "down")
GRADE_SOURCES = ("human", "judge")
CORRECTNESS = "correctness"
Z_975 = 1.959963984540054


def signals(store: Store, f: SpanFilter, split: str | None = None,
            bucket: timedelta | None = None) -> pd.DataFrame:
    """Share of user messages and of answers at or above ``OFFENSIVE_THRESHOLD`` offensive
    probability, and their mean sentiment (-1..1), per bucket: series ``user_offensive``,
    ``output_offensive``, ``user_sentiment``, ``output_sentiment``. Only spans the scorers
    have seen count; no rows at all means nothing is scored yet."""
    check_split(split)
    bucket = bucket or _default_bucket(f)
    return _signals(sql.signals(store, f, split, buckets.to_us(bucket)), f, bucket)


def signals_in(spans: SpanStore, f: SpanFilter, split: str | None = None,
               bucket: timedelta | None = None) -> pd.DataFrame:
    """``signals`` read from a span store of either dialect."""
    check_split(split)
    bucket = bucket or _default_bucket(f)
    return _signals(sql_in.signals_in(spans, f, split, buckets.to_us(bucket)), f, bucket)


def _signals(frame: pd.DataFrame, f: SpanFilter, bucket: timedelta) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=TIDY)
    full = complete_grid(frame, f.start, f.end, bucket, ("scored", *(f"{s}_n" for s in SIGNALS)))
    parts = [pd.DataFrame({"time": full["time"], "group": full["group"], "series": name,
                           "value": full[name].astype(float), "n": full[f"{name}_n"]})
             for name in SIGNALS]
    return pd.concat(parts, ignore_index=True)


def correctness(store: Store, f: SpanFilter, split: str | None = None, *,
                criterion: str = CORRECTNESS, sources: tuple[str, ...] = GRADE_SOURCES,
                weights: str = "inclusion", bucket: timedelta = buckets.DAY,
                judge_versions: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean grade of ``criterion`` per day (of the graded span's start), per source (series
    ``human``, ``judge``) and group, with ``n`` graded spans and a 95% confidence interval
    (``ci_low``, ``ci_high``; missing for a single grade).

    ``weights`` is the hook for sampling designs: "inclusion" weighs a grade that answers a
    review-queue item by 1 / its inclusion probability (a Hajek mean, with Kish's effective
    sample size in the interval); grades outside queues, and all grades under "equal", weigh
    1, which gives the plain mean and Student's t interval.

    Judge grades count only from ``judge_versions`` (None: every version); the Monitor
    passes the versions ``agreement.fitness.choose`` keeps (by default, those fit for use).
    """
    check_split(split)
    if weights not in sql.GRADE_WEIGHTS:
        raise FilterError(f"weights must be one of {', '.join(sql.GRADE_WEIGHTS)}")
    _default_bucket(f)  # checks the range
    frame = sql.correctness(store, f, split, criterion, sources, weights, buckets.to_us(bucket),
                            judge_versions)
    return _correctness(frame)


def correctness_in(spans: SpanStore, store: Store, f: SpanFilter, split: str | None = None, *,
                   criterion: str = CORRECTNESS, sources: tuple[str, ...] = GRADE_SOURCES,
                   weights: str = "inclusion", bucket: timedelta = buckets.DAY,
                   judge_versions: Sequence[str] | None = None) -> pd.DataFrame:
    """``correctness`` with its spans in ``spans`` (either dialect) and its grades in the
    workflow ``store``. On DuckDB both are one file and it is ``correctness``'s one query;
    on ClickHouse the join is split (``sql_in.correctness_in``)."""
    if spans.dialect == DUCKDB:
        return correctness(spans.store, f, split, criterion=criterion, sources=sources,
                           weights=weights, bucket=bucket, judge_versions=judge_versions)
    check_split(split)
    if weights not in sql.GRADE_WEIGHTS:
        raise FilterError(f"weights must be one of {', '.join(sql.GRADE_WEIGHTS)}")
    _default_bucket(f)  # checks the range
    graded = sql_in.graded_spans(store, criterion, sources, weights, judge_versions)
    return _correctness(sql_in.correctness_in(spans, f, split, graded, buckets.to_us(bucket)))


def _correctness(frame: pd.DataFrame) -> pd.DataFrame:
    cols = [*TIDY, "ci_low", "ci_high", "n_eff"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    n_eff = frame["sum_w"] ** 2 / frame["sum_w2"]
    var = (frame["mean_sq"] - frame["mean"] ** 2).clip(lower=0) * n_eff / (n_eff - 1)
    half = t_975(n_eff - 1) * np.sqrt(var / n_eff)
    out = frame.assign(series=frame["source"], value=frame["mean"], n_eff=n_eff,
                       ci_low=frame["mean"] - half, ci_high=frame["mean"] + half)
    return out[cols].reset_index(drop=True)


def feedback(store: Store, f: SpanFilter, split: str | None = None,
             bucket: timedelta | None = None) -> pd.DataFrame:
    """End-user feedback per bucket: series ``feedback_rate`` (share of requests that got
    any, ``n`` = requests) and ``thumbs_down`` (share of thumbs that were down, ``n`` =
    thumbs given).

    Feedback is sparse (a few percent of requests), so the buckets widen until each holds
    about ``buckets.MIN_PER_BUCKET`` answers per line; the counts add up exactly."""
    check_split(split)
    bucket = bucket or _default_bucket(f)
    return _feedback(sql.feedback(store, f, split, buckets.to_us(bucket)), f, bucket)


def feedback_in(spans: SpanStore, f: SpanFilter, split: str | None = None,
                bucket: timedelta | None = None) -> pd.DataFrame:
    """``feedback`` read from a span store of either dialect."""
    check_split(split)
    bucket = bucket or _default_bucket(f)
    return _feedback(sql_in.feedback_in(spans, f, split, buckets.to_us(bucket)), f, bucket)


def _feedback(frame: pd.DataFrame, f: SpanFilter, bucket: timedelta) -> pd.DataFrame:
    if frame.empty or not frame["with_feedback"].any():
        return pd.DataFrame(columns=TIDY)
    wide = buckets.choose_bucket(f.end - f.start, lines=frame["group"].nunique(),
                                 requests=int(frame["with_feedback"].sum()))
    if wide > bucket:
        bucket = wide
        frame = (frame.assign(time=buckets.floor(frame["time"], wide))
                 .groupby(["time", "group"], as_index=False)[list(FEEDBACK_COUNTS)].sum())
    full = complete_grid(frame, f.start, f.end, bucket, FEEDBACK_COUNTS)
    rate = full["with_feedback"] / full["requests"].where(full["requests"] > 0)
    down = full["down"] / full["thumbs"].where(full["thumbs"] > 0)
    return pd.concat([
        pd.DataFrame({"time": full["time"], "group": full["group"], "series": "feedback_rate",
                      "value": rate.astype(float), "n": full["requests"]}),
        pd.DataFrame({"time": full["time"], "group": full["group"], "series": "thumbs_down",
                      "value": down.astype(float), "n": full["thumbs"]}),
    ], ignore_index=True)


def graded_criteria(store: Store) -> pd.DataFrame:
    """Numeric criteria graded on spans, most graded first, with their scale when known."""
    return sql.numeric_criteria(store)


def t_975(df: pd.Series | float) -> pd.Series | float:
    """Student's t 97.5% quantile for ``df`` degrees of freedom, non-integer allowed (Kish's
    effective sample size minus one). Hill's algorithm 396 from 2 on (error under 0.001);
    between 1 and 2 the value for 1, which is wider (conservative); missing below 1. The
    library does without scipy."""
    v = np.asarray(df, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        n = np.maximum(v, 2.0)
        a = 1 / (n - 0.5)
        b = 48 / (a * a)
        c = ((20700 * a / b - 98) * a - 16) * a + 96.36
        d = ((94.5 / (b + c) - 3) / b + 1) * np.sqrt(a * math.pi / 2) * n
        y = (d * 0.05) ** (2 / n)
        x = Z_975
        c_tail = np.where(n < 5, c + 0.3 * (n - 4.5) * (x + 0.6), c)
        c_tail = (((0.05 * d * x - 5) * x - 7) * x - 2) * x + b + c_tail
        y_tail = np.expm1(a * ((((((0.4 * x * x + 6.3) * x * x + 36) * x * x + 94.5) / c_tail
                                 - x * x - 3) / b + 1) * x) ** 2)
        y_body = (((1 / (((n + 6) / (n * y) - 0.089 * d - 0.822) * (n + 2) * 3) + 0.5 / (n + 4))
                   * y - 1) * (n + 1) / (n + 2) + 1 / y)
        hill = np.sqrt(n * np.where(y > 0.05 + a, y_tail, y_body))
    out = np.where(v >= 2, hill, np.where(v >= 1, math.tan(math.pi * 0.475), np.nan))
    return pd.Series(out, index=df.index) if isinstance(df, pd.Series) else float(out)


def _default_bucket(f: SpanFilter) -> timedelta:
    if f.start is None or f.end is None:
        raise FilterError("a time series needs a time range: set the filter's start and end")
    return buckets.choose_bucket(f.end - f.start, lines=3)
