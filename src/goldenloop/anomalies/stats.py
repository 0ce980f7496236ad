"""The statistics of detection, on numpy arrays: seasonal references, count-aware tests for
rates, noise-aware tests for continuous values and counts, change points, and the
Benjamini-Hochberg step that controls false alarms over every test of a run.

Arrays are ``[series, bucket]``. Values are on the metric's comparison scale (log, sqrt or
linear; see ``catalogue``); ``v`` is each value's own sampling variance on that scale.
"""

from __future__ import annotations

import numpy as np
import ruptures
from scipy import stats

HOURS_PER_DAY = 24
REF_DAYS = 7  # days of the same kind (weekday / weekend) whose same hours form the baseline
LOOKBACK_DAYS = 14  # how far back those days may lie
NEIGHBOURS = (-1, 0, 1)  # hours around the same hour of day (the daily cycle is smooth)
MIN_REFS = 6  # fewer usable reference buckets: the bucket is not tested
MAD_TO_SD = 1.4826
SHIFT_MIN_DAYS = 3  # a level must hold this many days to be a shift (shorter: a spike)


def reference_index(first_hour: int, hours: int) -> np.ndarray:
    """For each hour ``t`` of the grid, the grid positions of its reference hours: the same
    hour of day (and the hours beside it) on the latest ``REF_DAYS`` earlier days of the same
    kind (weekday or weekend; the grid's hour 0 is hour ``first_hour`` since a Monday) within
    ``LOOKBACK_DAYS``. -1 where there is none. Shape ``[hours, REF_DAYS * 3]``."""
    t = np.arange(hours)
    abs_hour = first_hour + t
    weekend = ((abs_hour // HOURS_PER_DAY) % 7) >= 5
    out = np.full((hours, REF_DAYS * len(NEIGHBOURS)), -1, dtype=np.int64)
    filled = np.zeros(hours, dtype=np.int64)
    for d in range(1, LOOKBACK_DAYS + 1):
        lag_day_weekend = (((abs_hour - d * HOURS_PER_DAY) // HOURS_PER_DAY) % 7) >= 5
        take = (lag_day_weekend == weekend) & (filled < REF_DAYS)
        for j, o in enumerate(NEIGHBOURS):
            pos = t - d * HOURS_PER_DAY + o
            ok = take & (pos >= 0)
            out[ok, filled[ok] * len(NEIGHBOURS) + j] = pos[ok]
        filled += take
    return out


def daily_reference_index(days: int) -> np.ndarray:
    """For daily buckets: the ``REF_DAYS`` days before each day (-1 where there is none)."""
    t = np.arange(days)[:, None] - np.arange(1, REF_DAYS + 1)[None, :]
    return np.where(t >= 0, t, -1).astype(np.int64)


def gather(a: np.ndarray, idx: np.ndarray, valid_from: np.ndarray | None = None) -> np.ndarray:
    """``a[:, idx]`` with NaN where ``idx`` is -1 or (per series and bucket) before
    ``valid_from`` (the start of the current level, after a shift)."""
    out = a[:, np.clip(idx, 0, None)].astype(float)
    bad = np.broadcast_to(idx < 0, out.shape)
    if valid_from is not None:
        bad = bad | (idx[None, :, :] < valid_from[:, :, None])
    out[bad] = np.nan
    return out


def nanmedian(a: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN (NaN where all are): one sort, instead of
    numpy's nanmedian, which goes through masked arrays and is ten times slower here."""
    srt = np.sort(a, axis=-1)  # NaN sort last
    count = np.sum(~np.isnan(a), axis=-1)
    lo = np.clip((count - 1) // 2, 0, None)[..., None]
    hi = np.clip(count // 2, 0, a.shape[-1] - 1)[..., None]
    med = (np.take_along_axis(srt, lo, -1) + np.take_along_axis(srt, hi, -1))[..., 0] / 2
    return np.where(count > 0, med, np.nan)


def robust_baseline(refs: np.ndarray, ref_v: np.ndarray) -> tuple[np.ndarray, ...]:
    """Median of the references, and the variance between buckets beyond their own sampling
    noise (MAD-based, so a past incident among the references does not widen it)."""
    count = np.sum(~np.isnan(refs), axis=2)
    with np.errstate(all="ignore"):
        med = nanmedian(refs)
        mad = nanmedian(np.abs(refs - med[:, :, None])) * MAD_TO_SD
        noise = nanmedian(np.where(np.isfinite(ref_v), ref_v, np.nan))
    between = np.clip(mad ** 2 - np.nan_to_num(noise), 0, None)
    med[count < MIN_REFS] = np.nan
    return med, between, mad


def rate_pvalues(k: np.ndarray, n: np.ndarray, p0: np.ndarray, between: np.ndarray,
                 up: bool) -> np.ndarray:
    """P-values of ``k`` out of ``n`` against a baseline rate ``p0`` that itself varies from
    bucket to bucket with variance ``between``: a beta-binomial test (a plain binomial when
    ``between`` is 0). Counts, not shares: 2 of 10 is weak evidence, 300 of 1,000 strong."""
    p0 = np.clip(p0, 1e-6, 1 - 1e-6)
    kk = np.rint(np.nan_to_num(k)).astype(np.int64)  # effective counts may be fractional
    nn = np.rint(np.nan_to_num(n)).astype(np.int64)
    # Beta(a, b) with mean p0 and variance `between`: a + b = p0(1-p0)/between - 1.
    with np.errstate(divide="ignore", invalid="ignore"):
        conc = np.clip(np.where(between > 0, p0 * (1 - p0) / between - 1, 1.0), 1.0, None)
    a, b = p0 * conc, (1 - p0) * conc
    extra = between > 0
    p = stats.binom.sf(kk - 1, nn, p0) if up else stats.binom.cdf(kk, nn, p0)
    if extra.any():
        p = np.where(extra, (stats.betabinom.sf(kk - 1, nn, a, b) if up
                             else stats.betabinom.cdf(kk, nn, a, b)), p)
    return np.where(nn > 0, p, np.nan)


def normal_pvalues(y: np.ndarray, base: np.ndarray, var: np.ndarray, up: bool) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (y - base) / np.sqrt(var)
    return stats.norm.sf(z) if up else stats.norm.cdf(z)


def benjamini_hochberg(p: np.ndarray, q: float) -> float:
    """The largest p-value declared significant at false discovery rate ``q`` over all
    tests of ``p`` (NaN: not tested); 0 when none is."""
    flat = np.sort(p[~np.isnan(p)])
    if flat.size == 0:
        return 0.0
    ok = flat <= q * np.arange(1, flat.size + 1) / flat.size
    return float(flat[np.nonzero(ok)[0][-1]]) if ok.any() else 0.0


def change_points(x: np.ndarray, penalty: float) -> list[int]:
    """Change points of a daily series (positions where a new level starts), by binary
    segmentation on the series scaled by its day-to-day noise (``ruptures``, least squares
    cost, BIC-like ``penalty``), each level at least ``SHIFT_MIN_DAYS`` long."""
    ok = ~np.isnan(x)
    if ok.sum() < 2 * SHIFT_MIN_DAYS + 1:
        return []
    xs = x[ok]
    diffs = np.diff(xs)
    noise = np.median(np.abs(diffs - np.median(diffs))) * MAD_TO_SD / np.sqrt(2)
    if not noise > 0:
        noise = np.std(xs) or 1.0
    algo = ruptures.Binseg(model="l2", min_size=SHIFT_MIN_DAYS, jump=1)
    bkps = algo.fit(((xs - np.median(xs)) / noise).reshape(-1, 1)).predict(pen=penalty)
    where = np.nonzero(ok)[0]
    return [int(where[b]) for b in bkps[:-1]]


def runs(mask: np.ndarray, max_gap: int = 1) -> list[tuple[int, int]]:
    """Runs of True in a 1-D mask as [start, end) pairs, bridging gaps up to ``max_gap``."""
    idx = np.nonzero(mask)[0]
    if idx.size == 0:
        return []
    out = []
    start = prev = int(idx[0])
    for i in idx[1:]:
        if i - prev > max_gap + 1:
            out.append((start, prev + 1))
            start = int(i)
        prev = int(i)
    out.append((start, prev + 1))
    return out
