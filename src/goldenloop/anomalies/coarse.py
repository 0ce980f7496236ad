"""Daily buckets for quiet series: where an app, version or component has too little traffic
for most of its hours to be tested (means need 10 values an hour, a p95 100 calls), its
days are tested instead, so low volume still gets detection, only coarser.

Days are made from the hourly aggregates, not from another scan: counts add up, means and
variances combine exactly, and a day's percentile is the call-weighted geometric mean of
its hours' (an approximation, good enough to see a level jump and stated as such).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from goldenloop.anomalies.catalogue import Metric
from goldenloop.anomalies.engine import MetricTests

KEYS = ["app", "dimension", "value"]
HOURLY_ENOUGH = 0.5  # a series with at least this share of its hours tested stays hourly
_MEANS = (("in_tok_mean", "in_tok_var", "in_tok_n"), ("out_tok_mean", "out_tok_var", "out_tok_n"),
          ("cost_mean", "cost_var", "cost_n"), ("turns_mean", "turns_var", "sessions"))
_QUANTILES = (("lat_p50", "requests"), ("lat_p95", "requests"), ("lat_p99", "requests"),
              ("ttft_p50", "ttft_n"), ("ttft_p95", "ttft_n"), ("tool_lat_p50", "tool_n"),
              ("tool_lat_p95", "tool_n"))
_COUNTS = ("requests", "errors", "timeouts", "empty", "ttft_n", "user_off_k", "user_off_n",
           "out_off_k", "out_off_n", "user_sent_n", "out_sent_n", "refusal_k", "refusal_n",
           "thumbs", "down", "tool_n", "tool_fail", "dropped")


def daily(hourly: pd.DataFrame) -> pd.DataFrame:
    """The hourly aggregate ``hourly`` (columns of ``series_sql``) summed into days."""
    if hourly.empty:
        return hourly
    df = hourly.assign(b=hourly["b"] // 24)
    df[["dimension", "value"]] = df[["dimension", "value"]].astype(object).fillna("\0")
    keys = ["b", *KEYS]
    out = df.groupby(keys, sort=False)[[c for c in _COUNTS if c in df]].sum()
    for mean, var, n in _MEANS:
        if mean in df:
            out = out.join(_combine(df, keys, mean, var, n))
    for col, n in _QUANTILES:
        if col in df:
            w = df[n].where(df[col] > 0, 0)
            logs = np.log(df[col].where(df[col] > 0)).fillna(0) * w
            g = pd.DataFrame({"lw": logs, "w": w}).groupby([df[k] for k in keys]).sum()
            out[col] = np.exp(g["lw"] / g["w"].where(g["w"] > 0))
    out = out.reset_index()
    out[["dimension", "value"]] = out[["dimension", "value"]].replace("\0", None)
    return out


def _combine(df: pd.DataFrame, keys: list[str], mean: str, var: str, n: str) -> pd.DataFrame:
    """Mean and sample variance of a day from its hours' (n, mean, variance)."""
    k = df[n].fillna(0).where(df[mean].notna(), 0)
    m = df[mean].fillna(0)
    v = df[var].fillna(0)
    parts = pd.DataFrame({"n": k, "s": k * m, "ss": (k - 1).clip(lower=0) * v + k * m * m})
    g = parts.groupby([df[c] for c in keys]).sum()
    total = g["n"].where(g["n"] > 0)
    out = pd.DataFrame({mean: g["s"] / total})
    out[var] = (g["ss"] - total * out[mean] ** 2) / (total - 1).where(total > 1)
    if n not in _COUNTS:
        out[n] = g["n"]
    return out


def quiet_keys(t: MetricTests, lo: int, hi: int) -> set[tuple]:
    """Series of ``t`` whose hours with traffic in ``[lo, hi)`` were mostly too thin to
    test (hours without any, like those of a retired version, do not count)."""
    p = t.p_up if t.p_up is not None else t.p_down
    busy = t.matrix.n[:, lo:hi] > 0
    tested = np.sum(~np.isnan(p[:, lo:hi]) & busy, axis=1)
    share = tested / np.maximum(busy.sum(axis=1), 1)
    return {k for k, s, b in zip(t.matrix.keys, share, busy.any(axis=1), strict=True)
            if b and s < HOURLY_ENOUGH}


def keep_only(mx, keys: set[tuple]) -> None:
    """Blank the series of a daily matrix that were tested hourly (they are not retested)."""
    drop = np.array([k not in keys for k in mx.keys])
    mx.y[drop] = np.nan
    mx.n[drop] = 0
    if mx.k is not None:
        mx.k[drop] = 0


def metrics_for_days(metrics: list[Metric]) -> list[Metric]:
    """Volume keeps to hours (a day's volume swings with the week); the rest can go daily."""
    return [m for m in metrics if m.kind != "count"]
