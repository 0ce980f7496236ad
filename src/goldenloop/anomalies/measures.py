"""From the SQL aggregates to one matrix per metric: the value of every series in every
bucket on the metric's comparison scale, its sampling variance, and its counts.

A series is one (app, dimension, value): the whole app (dimension None), one model version,
one prompt version or one component. Quantile variances use the large-sample variance of a
sample quantile, ``q(1-q) / (n f(x_q)^2)``, with the log-value spread taken from the bucket's
own p50 and p95 (a log-normal shape); means use the bucket's own variance over n.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from goldenloop.anomalies.catalogue import Metric

MIN_N = 10  # a continuous value from fewer requests is not tested
# A quantile is tested only when this many requests lie beyond it: the p99 of 70 requests is
# one request, and no formula makes one request a reliable statistic.
MIN_TAIL = 5
Z = {0.5: 0.0, 0.95: stats.norm.ppf(0.95), 0.99: stats.norm.ppf(0.99)}


@dataclass
class Matrix:
    """One metric over a grid of series x buckets."""

    metric: Metric
    keys: list[tuple[str, str | None, str | None]]  # (app, dimension, value) per row
    first: int  # bucket number of column 0
    width_us: int
    raw: np.ndarray  # the value in its own unit (what is reported)
    y: np.ndarray  # on the comparison scale
    v: np.ndarray  # sampling variance of y
    n: np.ndarray  # the requests (or other denominator) behind the value
    k: np.ndarray | None = None  # rates: the numerator


def _grid(df: pd.DataFrame, first: int, count: int) -> tuple[list, np.ndarray, np.ndarray]:
    keys_df = df[["app", "dimension", "value"]].astype(object).where(
        df[["app", "dimension", "value"]].notna(), None)
    keys = list(zip(keys_df["app"], keys_df["dimension"], keys_df["value"], strict=True))
    uniq = sorted(set(keys), key=lambda k: (k[0], k[1] or "", k[2] or ""))
    row_of = {k: i for i, k in enumerate(uniq)}
    rows = np.fromiter((row_of[k] for k in keys), dtype=np.int64, count=len(keys))
    cols = df["b"].to_numpy(np.int64) - first
    ok = (cols >= 0) & (cols < count)
    return uniq, rows[ok], cols[ok], ok


def _place(shape, rows, cols, values, fill=np.nan) -> np.ndarray:
    out = np.full(shape, fill, dtype=float)
    out[rows, cols] = values
    return out


def _col(df: pd.DataFrame, name: str, ok) -> np.ndarray:
    return df[name].to_numpy(dtype=float, na_value=np.nan)[ok]


def build(frame: pd.DataFrame, metrics: list[Metric], first: int, count: int,
          width_us: int) -> list[Matrix]:
    """A matrix for each metric in ``metrics`` from one aggregate ``frame``."""
    if frame.empty:
        return []
    keys, rows, cols, ok = _grid(frame, first, count)
    shape = (len(keys), count)
    out = []
    for m in metrics:
        parts = _extract(m, frame, ok)
        if parts is None:
            continue
        raw, y, v, n, k = parts
        if m.name == "requests":  # missing buckets had no requests: a count of 0
            raw, y, v, n = (_place(shape, rows, cols, a, 0.0) for a in (raw, y, v, n))
            v[:] = 0.25
        else:
            raw, y, v, n = (_place(shape, rows, cols, a) for a in (raw, y, v, n))
            n = np.nan_to_num(n)
        kk = None if k is None else np.nan_to_num(_place(shape, rows, cols, k))
        if m.kind != "rate" and m.name != "requests":
            thin = n < MIN_N
            y[thin] = np.nan
        if m.name == "requests":  # before its first request a series did not exist yet
            seen = np.cumsum(n > 0, axis=1) > 0
            y[~seen] = np.nan
        if m.name == "requests":  # versions come and go: their volume is not a health signal
            keep = np.array([key[1] is None for key in keys])
            raw, y, v, n = raw[keep], y[keep], v[keep], n[keep]
            mkeys = [key for key in keys if key[1] is None]
        else:
            mkeys = keys
        out.append(Matrix(m, mkeys, first, width_us, raw, y, v, n, kk))
    return out


_RATES = {  # metric: (numerator column, denominator column)
    "error_rate": ("errors", "requests"), "timeout_rate": ("timeouts", "requests"),
    "empty_rate": ("empty", "requests"), "user_offensive_rate": ("user_off_k", "user_off_n"),
    "output_offensive_rate": ("out_off_k", "out_off_n"), "refusal_rate": ("refusal_k", "refusal_n"),
    "negative_feedback_rate": ("down", "thumbs"), "dropoff_rate": ("dropped", "sessions"),
    "tool_error_rate": ("tool_fail", "tool_n"),
}
_MEANS = {  # metric: (mean, variance, count) columns
    "input_tokens": ("in_tok_mean", "in_tok_var", "in_tok_n"),
    "output_tokens": ("out_tok_mean", "out_tok_var", "out_tok_n"),
    "cost_usd": ("cost_mean", "cost_var", "cost_n"),
    "user_sentiment": ("user_sent_mean", "user_sent_var", "user_sent_n"),
    "output_sentiment": ("out_sent_mean", "out_sent_var", "out_sent_n"),
    "turns_per_session": ("turns_mean", "turns_var", "sessions"),
    "correctness": ("grade_mean", "grade_var", "graded"),
}
_QUANTILES = {  # metric: (quantile column, prefix of its p50/p95 columns, q, count column)
    "latency_p50": ("lat_p50", "lat", 0.5, "requests"),
    "latency_p95": ("lat_p95", "lat", 0.95, "requests"),
    "latency_p99": ("lat_p99", "lat", 0.99, "requests"),
    "ttft_p95": ("ttft_p95", "ttft", 0.95, "ttft_n"),
    "tool_latency_p95": ("tool_lat_p95", "tool_lat", 0.95, "tool_n"),
}


def _extract(m: Metric, df: pd.DataFrame, ok):
    """(raw, y, v, n, k) of metric ``m`` per row of ``df``, or None when ``df`` lacks it."""
    if m.name == "requests":
        if "requests" not in df:
            return None
        n = _col(df, "requests", ok)
        return n, np.sqrt(n), np.full_like(n, 0.25), n, None
    if m.name in _RATES:
        num, den = _RATES[m.name]
        if num not in df:
            return None
        k, n = _col(df, num, ok), _col(df, den, ok)
        with np.errstate(all="ignore"):
            p = np.where(n > 0, k / n, np.nan)
        return p, p, p * (1 - p) / n, n, k
    if m.name in _MEANS:
        mean_c, var_c, n_c = _MEANS[m.name]
        if mean_c not in df:
            return None
        mean, var, n = _col(df, mean_c, ok), _col(df, var_c, ok), _col(df, n_c, ok)
        var = np.nan_to_num(var)
        with np.errstate(all="ignore"):
            if m.scale == "log":
                y = np.where(mean > 0, np.log(mean), np.nan)
                v = var / (n * mean ** 2)
            else:
                y, v = mean, var / n
        return mean, y, v, n, None
    if m.name in _QUANTILES:
        col, prefix, q, n_c = _QUANTILES[m.name]
        if col not in df:
            return None
        val = _col(df, col, ok)
        p50, p95 = _col(df, f"{prefix}_p50", ok), _col(df, f"{prefix}_p95", ok)
        n = _col(df, n_c, ok)
        with np.errstate(all="ignore"):
            y = np.where(val > 0, np.log(val), np.nan)
            sigma = np.clip((np.log(p95) - np.log(p50)) / Z[0.95], 0.05, None)
            v = q * (1 - q) * sigma ** 2 / (n * stats.norm.pdf(Z[q]) ** 2)
        y[n * (1 - q) < MIN_TAIL] = np.nan
        return val, y, np.nan_to_num(v, nan=np.inf), n, None
    return None


def to_natural(m: Metric, y: np.ndarray) -> np.ndarray:
    """A value on the comparison scale back in the metric's own unit."""
    if m.scale == "log":
        return np.exp(y)
    if m.scale == "sqrt":
        return np.square(np.clip(y, 0, None))
    return y


def effect(m: Metric, observed: np.ndarray, base: np.ndarray) -> np.ndarray:
    """The change in the unit ``min_effect`` is stated in: for log and sqrt metrics the fold
    change less one, signed (2x more: +1, 2x less: -1, so rises and falls weigh alike),
    otherwise the absolute difference."""
    with np.errstate(all="ignore"):
        if m.scale in ("log", "sqrt"):
            return np.where(observed >= base, observed / base - 1, -(base / observed - 1))
        return observed - base
