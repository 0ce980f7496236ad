"""Spikes, dips and level shifts of one metric's series (a ``measures.Matrix``).

Shifts first: each series' daily levels go through change-point detection, and each change
is tested (the level after against the level before, with the day-to-day noise) and kept
when large enough in practice. Then every bucket of the detection range is tested against
its seasonal baseline taken only from the current level, so a lasting change is one shift
rather than a spike every hour for a week. Tests return candidates with p-values; which of
them are anomalies is decided once for the whole run (``benjamini_hochberg``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats as scipy_stats

from goldenloop.anomalies import stats as st
from goldenloop.anomalies.measures import Matrix, effect, to_natural

SHIFT_PENALTY = 3.0  # times log(days): binary segmentation's penalty on the noise-scaled series
DETECTOR_VERSION = "1"
MIN_EXCESS = 3  # a rate anomaly needs at least this many events more (or fewer) than expected
RUN_GAP = 2  # flagged hours this close form one anomaly (as records.JOIN_GAP joins them)
BAND_Z = 2.0  # the baseline band drawn around the baseline: +-2 standard deviations
MIN_COUNT_CHANGE = 10  # a volume anomaly needs at least this many requests more (or fewer)


@dataclass
class Candidate:
    metric: str
    key: tuple[str, str | None, str | None]
    kind: str  # spike, dip, shift
    direction: str
    start: int  # grid positions (hours), [start, end)
    end: int
    p: np.ndarray  # p-value of each bucket of the run (one value for a shift)
    observed: float
    baseline: float
    low: float
    high: float
    n: int
    effect: float
    details: dict = field(default_factory=dict)
    matrix: Matrix | None = None  # the grid the positions refer to (set by ``decide``)


@dataclass
class MetricTests:
    """Everything tested for one metric: p-values per direction and bucket, whether the
    change is large enough in practice, and the shifts."""

    matrix: Matrix
    base: np.ndarray
    band: np.ndarray  # half-width of the baseline band per bucket, comparison scale
    p_up: np.ndarray | None
    p_down: np.ndarray | None
    big_up: np.ndarray
    big_down: np.ndarray
    shifts: list[Candidate]


def directions(bad: str) -> tuple[bool, bool]:
    return bad in ("up", "both"), bad in ("down", "both")


def test_metric(mx: Matrix, lo: int, hi: int, idx: np.ndarray, days_per_bucket: float
                ) -> MetricTests:
    """Test buckets ``[lo, hi)`` of every series of ``mx``. ``idx`` is the reference index
    (``stats.reference_index``) of the grid."""
    m = mx.metric
    up, down = directions(m.bad)
    level_from, shifts = _shifts(mx, lo, hi, days_per_bucket) if m.kind != "count" else (
        np.zeros(mx.y.shape, dtype=np.int64), [])
    tested = np.zeros(mx.y.shape, dtype=bool)
    tested[:, lo:hi] = True
    tested &= ~np.isnan(mx.y)
    model = _rate_model if m.kind == "rate" else _value_model
    base, band, pvals, excess, least = model(mx, idx, level_from, tested)
    eff = effect(m, mx.raw, to_natural(m, base))
    big_up = tested & (eff >= m.hourly_effect) if up else np.zeros_like(tested)
    big_down = tested & (eff <= -m.hourly_effect) if down else np.zeros_like(tested)
    if excess is not None:  # a handful of events or calls is never an incident
        with np.errstate(invalid="ignore"):
            big_up &= excess >= least
            big_down &= -excess >= least
    # Only changes beyond the practical minimum can be anomalies: the others count as tests
    # in the run's false-discovery control with p = 1 (which only makes it stricter).
    p_up = _sparse(tested, big_up, lambda mask: pvals(mask, True)) if up else None
    p_down = _sparse(tested, big_down, lambda mask: pvals(mask, False)) if down else None
    return MetricTests(mx, base, band, p_up, p_down, big_up, big_down, shifts)


def _rate_model(mx: Matrix, idx: np.ndarray, level_from: np.ndarray, tested: np.ndarray):
    """Baseline, band and p-values of a rate; narrows ``tested`` to buckets with a baseline."""
    base = np.clip(_pooled_rate(mx, idx, level_from), _rate_floor(mx, idx, level_from), None)
    tested &= ~np.isnan(base) & (mx.n > 0)
    # Requests of one conversation share a user and a topic: events come in clusters, so
    # counts carry less evidence than independent draws. Divide them by the dispersion.
    # (The spread of hourly shares of a few events says little, its MAD being a step of
    # 1/n: this is where extra variation of rates is accounted for.)
    phi = _dispersion(mx, base, tested)
    with np.errstate(all="ignore"):
        band = BAND_Z * np.sqrt(phi[:, None] * base * (1 - base) / np.maximum(mx.n, 1))
        excess = mx.k - mx.n * base

    def pvals(mask: np.ndarray, upward: bool) -> np.ndarray:
        div = phi[np.nonzero(mask)[0]]
        return st.rate_pvalues(mx.k[mask] / div, mx.n[mask] / div, base[mask],
                               np.zeros(int(mask.sum())), upward)
    return base, band, pvals, excess, MIN_EXCESS


def _value_model(mx: Matrix, idx: np.ndarray, level_from: np.ndarray, tested: np.ndarray):
    """Baseline, band and p-values of a mean, a percentile or a count (on its comparison
    scale); narrows ``tested`` to buckets with a baseline."""
    base, between, _ = st.robust_baseline(st.gather(mx.y, idx, level_from),
                                          st.gather(mx.v, idx, level_from))
    tested &= ~np.isnan(base)
    with np.errstate(all="ignore"):
        # A bucket's own spread can be tiny by chance (ten sessions of one turn each): its
        # variance is at least the references' typical spread per call over its n.
        if mx.metric.kind == "count":
            # Quasi-Poisson: calls come in sessions, so counts vary more than Poisson; the
            # dispersion is measured on the counts (Pearson residuals) and scales the
            # sqrt-scale variance 0.25. The MAD of a few night hours would say too little.
            mu = np.square(base)
            r2 = (mx.raw - mu) ** 2 / mu
            var = mx.v * _trimmed_scale(np.where(tested & np.isfinite(r2), r2, np.nan))[:, None]
        else:
            per_item = st.nanmedian(st.gather(mx.v * mx.n, idx, level_from))
            var = between + np.fmax(mx.v, per_item / mx.n)
            # Calibrated on the series itself: hours of one conversation, mixtures of models
            # and bursty clients make values vary more than their sampling variance says.
            z2 = (mx.y - base) ** 2 / var
            var = var * _trimmed_scale(np.where(tested & np.isfinite(z2), z2, np.nan))[:, None]
        # From 0 to 6 calls is an infinite fold change, and nothing.
        excess = mx.raw - to_natural(mx.metric, base) if mx.metric.kind == "count" else None

    def pvals(mask: np.ndarray, upward: bool) -> np.ndarray:
        return st.normal_pvalues(mx.y[mask], base[mask], var[mask], upward)
    return base, BAND_Z * np.sqrt(var), pvals, excess, MIN_COUNT_CHANGE


def _sparse(tested: np.ndarray, mask: np.ndarray, fn) -> np.ndarray:
    p = np.where(tested, 1.0, np.nan)
    if mask.any():
        p[mask] = fn(mask)
    return p


def _dispersion(mx: Matrix, base: np.ndarray, tested: np.ndarray) -> np.ndarray:
    """Per series: the quasi-binomial dispersion, from the squared Pearson residuals of its
    buckets against their baselines."""
    with np.errstate(all="ignore"):
        r2 = (mx.k - mx.n * base) ** 2 / (mx.n * base * (1 - base))
    return _trimmed_scale(np.where(tested & np.isfinite(r2), r2, np.nan))


# Mean of the lower 95% of a chi-square with one degree of freedom: P(chi2_3 < 3.841) / 0.95.
_TRIMMED_CHI2_MEAN = 0.7590


def _trimmed_scale(r2: np.ndarray) -> np.ndarray:
    """Per row: how much larger squared standardised residuals are than the model says
    (their mean with the top 5% left out, so incidents do not inflate it, over what that
    mean is for a chi-square); at least 1, and 1 with fewer than 20 values."""
    out = np.ones(r2.shape[0])
    for s in range(r2.shape[0]):
        row = r2[s][~np.isnan(r2[s])]
        if row.size >= 20:
            trimmed = np.sort(row)[: int(row.size * 0.95)]
            out[s] = max(1.0, float(np.mean(trimmed)) / _TRIMMED_CHI2_MEAN)
    return out


def _pooled_rate(mx: Matrix, idx: np.ndarray, level_from: np.ndarray) -> np.ndarray:
    """The references' pooled rate (events over requests), each reference hour's count
    capped near what that rate predicts, so a past burst among them barely moves it. The
    median of hourly rates would say 0 for any rare event."""
    rk = st.gather(mx.k, idx, level_from)
    rn = st.gather(mx.n, idx, level_from)
    usable = np.sum(rn > 0, axis=2)
    with np.errstate(all="ignore"):
        p = np.nansum(rk, axis=2) / np.nansum(rn, axis=2)
        for _ in range(2):
            expect = rn * p[:, :, None]
            capped = np.minimum(rk, expect + 3 * np.sqrt(expect) + 2)
            p = np.nansum(capped, axis=2) / np.nansum(rn, axis=2)
    p[usable < st.MIN_REFS] = np.nan
    return p


def _rate_floor(mx: Matrix, idx: np.ndarray, level_from: np.ndarray) -> np.ndarray:
    """Half an event over the reference buckets' requests: a baseline of exactly 0 would make
    one error in a busy hour infinitely surprising."""
    ref_n = np.nansum(st.gather(mx.n, idx, level_from), axis=2)
    with np.errstate(divide="ignore"):
        return np.where(ref_n > 0, 0.5 / ref_n, 0.5)


def decide(tests: list[MetricTests], q: float) -> tuple[float, int, list[Candidate]]:
    """Which tests of a run are anomalies: Benjamini-Hochberg at false discovery rate ``q``
    over every bucket test and shift test of the run at once. Returns the p-value threshold,
    the number of tests, and the anomalies (runs of flagged buckets, and shifts)."""
    pool = [p.ravel() for t in tests for p in (t.p_up, t.p_down) if p is not None]
    pool += [c.p for t in tests for c in t.shifts]
    flat = np.concatenate(pool) if pool else np.array([])
    threshold = st.benjamini_hochberg(flat, q)
    cands = []
    for t in tests:
        for c in spike_candidates(t, threshold) + [c for c in t.shifts if c.p[0] <= threshold]:
            c.matrix = t.matrix
            cands.append(c)
    return threshold, int(np.sum(~np.isnan(flat))), cands


def spike_candidates(t: MetricTests, threshold: float) -> list[Candidate]:
    """Runs of significant, practically large buckets, per series and direction."""
    out = []
    for p, big, kind, direction in ((t.p_up, t.big_up, "spike", "up"),
                                    (t.p_down, t.big_down, "dip", "down")):
        if p is None:
            continue
        flagged = (p <= threshold) & big
        for s in np.nonzero(flagged.any(axis=1))[0]:
            for a, b in st.runs(flagged[s], max_gap=RUN_GAP):
                out.append(_spike(t, s, a, b, p[s, a:b], kind, direction))
    return out


def _spike(t: MetricTests, s: int, a: int, b: int, p: np.ndarray, kind: str,
           direction: str) -> Candidate:
    mx, m = t.matrix, t.matrix.metric
    n = mx.n[s, a:b]
    if m.kind == "rate":
        observed = float(np.nansum(mx.k[s, a:b]) / max(np.nansum(n), 1))
    elif m.name == "requests":
        observed = float(np.nanmean(mx.raw[s, a:b]))
    else:
        w = np.where(np.isnan(mx.raw[s, a:b]), 0, n)
        observed = float(np.nansum(np.nan_to_num(mx.raw[s, a:b]) * w) / max(w.sum(), 1))
    base_y = float(np.nanmedian(t.base[s, a:b]))
    band = float(np.nanmedian(t.band[s, a:b]))
    nat = to_natural(m, np.array([base_y, base_y - band, base_y + band]))
    return Candidate(m.name, mx.keys[s], kind, direction, a, b, p, observed, float(nat[0]),
                     float(nat[1]), float(nat[2]), int(np.nansum(n)),
                     float(effect(m, np.array(observed), np.array(nat[0]))))


def _shifts(mx: Matrix, lo: int, hi: int, days_per_bucket: float
            ) -> tuple[np.ndarray, list[Candidate]]:
    """Validated level shifts per series, and for every bucket the grid position its
    current level starts at (references before it belong to another level)."""
    per_day = max(round(1 / days_per_bucket), 1)
    s_count, hours = mx.y.shape
    days = hours // per_day
    level_from = np.zeros((s_count, hours), dtype=np.int64)
    out: list[Candidate] = []
    if days < 2 * st.SHIFT_MIN_DAYS + 1:
        return level_from, out
    offset = hours - days * per_day  # whole days counted back from the end of the grid
    for s in range(s_count):
        daily, dn = _daily(mx, s, offset, per_day, days)
        for cp in st.change_points(daily, SHIFT_PENALTY * np.log(days)):
            cand = _shift(mx, s, daily, dn, cp, offset, per_day)
            if cand is None:
                continue
            level_from[s, cand.start:] = cand.start
            if lo <= cand.start < hi:
                out.append(cand)
    return level_from, out


def _daily(mx: Matrix, s: int, offset: int, per_day: int, days: int):
    m = mx.metric
    sl = slice(offset, offset + days * per_day)
    n = mx.n[s, sl].reshape(days, per_day)
    if m.kind == "rate":
        k = mx.k[s, sl].reshape(days, per_day)
        with np.errstate(all="ignore"):
            level = np.where(n.sum(1) > 0, k.sum(1) / n.sum(1), np.nan)
    else:
        y = mx.y[s, sl].reshape(days, per_day)
        w = np.where(np.isnan(y), 0, n)
        with np.errstate(all="ignore"):
            level = np.where(w.sum(1) > 0, np.nansum(np.nan_to_num(y) * w, 1) / w.sum(1), np.nan)
    return level, n.sum(1)


def _refine(mx: Matrix, s: int, start: int, per_day: int, up: bool) -> int:
    """The bucket within a day of ``start`` where the change is sharpest: the split whose
    following day differs most from its preceding day (whole days on each side, so the
    daily cycle cancels out)."""
    best, where = -np.inf, start
    for t in range(max(start - per_day, per_day), min(start + per_day, mx.y.shape[1] - per_day) + 1):
        before, after = _level(mx, s, t - per_day, t), _level(mx, s, t, t + per_day)
        gain = (after - before) if up else (before - after)
        if gain > best:
            best, where = gain, t
    return where


def _level(mx: Matrix, s: int, a: int, b: int) -> float:
    n = mx.n[s, a:b]
    if mx.metric.kind == "rate":
        return float(np.nansum(mx.k[s, a:b]) / max(np.nansum(n), 1))
    y = mx.y[s, a:b]
    w = np.where(np.isnan(y), 0, n)
    return float(np.nansum(np.nan_to_num(y) * w) / w.sum()) if w.sum() > 0 else np.nan


def _shift(mx: Matrix, s: int, daily: np.ndarray, dn: np.ndarray, cp: int, offset: int,
           per_day: int) -> Candidate | None:
    """Test a change point: the days after it against the days before it (each side up to
    a week, the day-to-day spread as noise)."""
    m = mx.metric
    before = daily[max(cp - st.REF_DAYS, 0):cp]
    after = daily[cp:cp + st.REF_DAYS]
    before, after = before[~np.isnan(before)], after[~np.isnan(after)]
    if len(before) < st.SHIFT_MIN_DAYS or len(after) < st.SHIFT_MIN_DAYS:
        return None
    resid = np.concatenate([before - np.median(before), after - np.median(after)])
    sd = max(float(np.median(np.abs(resid)) * st.MAD_TO_SD), 1e-9)
    diff = float(np.median(after) - np.median(before))
    z = diff / (sd * np.sqrt(1 / len(before) + 1 / len(after)) * 1.2533)  # medians: ~1.25x SE
    up, down = directions(m.bad)
    if (diff > 0 and not up) or (diff < 0 and not down):
        return None
    nat_b = float(to_natural(m, np.array(np.median(before))))
    nat_a = float(to_natural(m, np.array(np.median(after))))
    eff = float(effect(m, np.array(nat_a), np.array(nat_b)))
    if abs(eff) < m.min_effect:
        return None
    p = np.array([scipy_stats.norm.sf(abs(z))])
    band = to_natural(m, np.array([np.median(before) - 2 * sd, np.median(before) + 2 * sd]))
    start = offset + cp * per_day
    if per_day > 1:
        start = _refine(mx, s, start, per_day, diff > 0)
    return Candidate(m.name, mx.keys[s], "shift", "up" if diff > 0 else "down", start,
                     mx.y.shape[1], p, nat_a, nat_b, float(band[0]), float(band[1]),
                     int(dn[cp:].sum()), eff,
                     {"days_before": len(before), "days_after": len(after)})
