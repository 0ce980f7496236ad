"""Detection statistics on synthetic series with known spikes, shifts and pure noise: the
false-alarm rate is measured, and the building blocks are checked against independent
computations (exact binomial sums, the Benjamini-Hochberg procedure by hand, simulated
quantile variances)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from goldenloop.anomalies import engine
from goldenloop.anomalies import stats as st
from goldenloop.anomalies.catalogue import BY_NAME
from goldenloop.anomalies.detection import SENSITIVITY_LEVELS
from goldenloop.anomalies.measures import Matrix, build

HOUR_US = 3_600_000_000
DAYS = 45
HOURS = DAYS * 24
LO = 15 * 24  # the last 30 days are examined; the first 15 are history
FIRST = 0  # hour 0 is a Monday midnight
IDX = st.reference_index(FIRST, HOURS)


def volume(rng, series: int, per_hour: float) -> np.ndarray:
    """Requests per hour with a daily cycle (quiet nights) and quieter weekends."""
    h = np.arange(HOURS)
    daily = 1 + 0.8 * np.sin(2 * np.pi * (h % 24 - 8) / 24)
    weekend = np.where((h // 24) % 7 >= 5, 0.5, 1.0)
    return rng.poisson(per_hour * daily * weekend, size=(series, HOURS)).astype(float)


def rate_matrix(rng, series=20, per_hour=60.0, p=0.02, name="error_rate") -> Matrix:
    n = volume(rng, series, per_hour)
    k = rng.binomial(n.astype(int), p).astype(float)
    with np.errstate(all="ignore"):
        r = np.where(n > 0, k / n, np.nan)
    keys = [(f"app{i}", None, None) for i in range(series)]
    return Matrix(BY_NAME[name], keys, FIRST, HOUR_US, r, r, r * (1 - r) / n, n, k)


def latency_matrix(rng, series=20, per_hour=60.0, factor=None) -> Matrix:
    """Hourly p50 latency of log-normal requests (``factor``: a multiplier per bucket)."""
    n = volume(rng, series, per_hour)
    raw = np.full(n.shape, np.nan)
    p95 = np.full(n.shape, np.nan)
    for s in range(series):
        for t in range(HOURS):
            if n[s, t] > 0:
                x = rng.lognormal(7.0, 0.6, int(n[s, t])) * (1 if factor is None else factor[s, t])
                raw[s, t], p95[s, t] = np.quantile(x, [0.5, 0.95])
    rows = [(t, f"app{s}", raw[s, t], p95[s, t], n[s, t]) for s in range(series)
            for t in range(HOURS) if n[s, t] > 0]
    df = pd.DataFrame(rows, columns=["b", "app", "lat_p50", "lat_p95", "requests"])
    df["dimension"], df["value"] = None, None
    return build(df, [BY_NAME["latency_p50"]], FIRST, HOURS, HOUR_US)[0]


def tokens_matrix(rng, series=10, per_hour=60.0, step_at: int | None = None,
                  step=1.4) -> Matrix:
    """Hourly mean output tokens (log-normal per request), optionally with a lasting step."""
    n = volume(rng, series, per_hour)
    rows = []
    for s in range(series):
        for t in range(HOURS):
            if n[s, t] > 0:
                mult = step if (step_at is not None and s == 0 and t >= step_at) else 1.0
                x = rng.lognormal(5.0, 0.5, int(n[s, t])) * mult
                rows.append((t, f"app{s}", x.mean(), x.var(ddof=1) if len(x) > 1 else 0.0,
                             len(x)))
    df = pd.DataFrame(rows, columns=["b", "app", "out_tok_mean", "out_tok_var", "out_tok_n"])
    df["dimension"], df["value"] = None, None
    return build(df, [BY_NAME["output_tokens"]], FIRST, HOURS, HOUR_US)[0]


def run(mats: list[Matrix], q: float) -> list[engine.Candidate]:
    tests = [engine.test_metric(mx, LO, HOURS, IDX, 1 / 24) for mx in mats]
    return engine.decide(tests, q)[2]


# -- building blocks against independent computations ------------------------------------------
def test_beta_binomial_without_extra_variance_is_the_exact_binomial_tail():
    for k, n, p in [(2, 10, Fraction(1, 50)), (7, 36, Fraction(3, 250)),
                    (300, 1000, Fraction(1, 50)), (0, 50, Fraction(1, 10))]:
        exact = sum(math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(k, n + 1))
        got = st.rate_pvalues(np.array([k]), np.array([n]), np.array([float(p)]),
                              np.array([0.0]), True)[0]
        assert got == pytest.approx(float(exact), rel=1e-6)


def test_extra_variance_makes_the_rate_test_less_sure():
    plain = st.rate_pvalues(np.array([8]), np.array([100]), np.array([0.03]),
                            np.array([0.0]), True)[0]
    wider = st.rate_pvalues(np.array([8]), np.array([100]), np.array([0.03]),
                            np.array([0.0004]), True)[0]
    assert wider > plain


def test_benjamini_hochberg_by_hand():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    # By hand: p(i) <= i * 0.05 / 10 holds for i = 1 (0.005) and i = 2 (0.010), for no later i.
    assert st.benjamini_hochberg(p, 0.05) == 0.008
    assert st.benjamini_hochberg(np.array([0.5, np.nan, 0.9]), 0.05) == 0.0


def test_quantile_variance_formula_matches_simulation():
    """The log p50 / p95 of 200 log-normal requests: the variance the measures module gives
    is within 25% of the variance over 4,000 simulated buckets."""
    rng = np.random.default_rng(3)
    x = rng.lognormal(7.0, 0.6, size=(4000, 200))
    for q in (0.5, 0.95):
        qs = np.quantile(x, [0.5, 0.95, q], axis=1)
        df = pd.DataFrame({"b": np.zeros(4000, int), "app": [f"a{i}" for i in range(4000)],
                           "dimension": None, "value": None, "lat_p50": qs[0],
                           "lat_p95": qs[1], "lat_p99": qs[2], "requests": 200})
        mx = build(df, [BY_NAME["latency_p50" if q == 0.5 else "latency_p95"]], 0, 1,
                   HOUR_US)[0]
        assert np.median(mx.v) == pytest.approx(np.var(np.log(qs[2])), rel=0.25)


def test_reference_hours_are_the_same_hour_on_days_of_the_same_kind():
    idx = st.reference_index(FIRST, HOURS)
    monday_10 = 14 * 24 + 10  # a Monday, two weeks in
    refs = idx[monday_10][idx[monday_10] >= 0]
    assert set((refs % 24).tolist()) == {9, 10, 11}
    assert all((r // 24) % 7 < 5 for r in refs)  # weekdays only
    saturday = 12 * 24 + 10
    assert all((r // 24) % 7 >= 5 for r in idx[saturday][idx[saturday] >= 0])


# -- synthetic series ----------------------------------------------------------------------------
def test_a_burst_is_found_in_its_hours_and_a_quiet_hour_with_two_events_is_not():
    rng = np.random.default_rng(11)
    mx = rate_matrix(rng, series=5)
    burst = [LO + 200, LO + 201]
    for t in burst:
        mx.k[0, t] = round(mx.n[0, t] * 0.3)
    quiet = LO + 300
    mx.n[1, quiet], mx.k[1, quiet] = 10, 2  # 2 of 10 in a quiet hour
    for m in (mx.raw, mx.y):
        m[:] = np.where(mx.n > 0, mx.k / np.where(mx.n > 0, mx.n, 1), np.nan)
    found = run([mx], SENSITIVITY_LEVELS["medium"])
    spikes = [(c.key[0], c.start, c.end) for c in found if c.kind == "spike"]
    assert ("app0", burst[0], burst[-1] + 1) in spikes
    assert not any(a == "app1" and s <= quiet < e for a, s, e in spikes)


def test_300_errors_in_a_busy_hour_are_found():
    rng = np.random.default_rng(12)
    mx = rate_matrix(rng, series=3, per_hour=1000)
    t = LO + 100
    mx.n[2, t], mx.k[2, t] = 1000, 300
    mx.raw[2, t] = mx.y[2, t] = 0.3
    found = run([mx], SENSITIVITY_LEVELS["medium"])
    assert any(c.key[0] == "app2" and c.start <= t < c.end for c in found)


def test_a_lasting_40_percent_longer_answer_is_one_shift_not_a_week_of_spikes():
    rng = np.random.default_rng(13)
    step_at = LO + 10 * 24 + 9
    found = run([tokens_matrix(rng, series=6, step_at=step_at)], SENSITIVITY_LEVELS["medium"])
    shifts = [c for c in found if c.kind == "shift"]
    assert len(shifts) == 1 and shifts[0].key == ("app0", None, None)
    assert abs(shifts[0].start - step_at) <= 3  # placed within hours of the step
    assert shifts[0].baseline * 1.25 < shifts[0].observed < shifts[0].baseline * 1.55
    # Spikes may flag the first hours of the step, before its level is established, not after.
    late = [c for c in found if c.kind == "spike" and c.start > step_at + 3 * 24]
    assert late == []


def volume_matrix(rng, series=4, per_hour=80.0) -> Matrix:
    n = volume(rng, series, per_hour)
    df = pd.DataFrame([(t, f"app{s}", n[s, t]) for s in range(series) for t in range(HOURS)
                       if n[s, t] > 0], columns=["b", "app", "requests"])
    df["dimension"], df["value"] = None, None
    return build(df, [BY_NAME["requests"]], FIRST, HOURS, HOUR_US)[0]


def test_an_outage_is_a_dip_in_volume():
    rng = np.random.default_rng(15)
    mx = volume_matrix(rng)
    out = slice(LO + 24 * 10 + 10, LO + 24 * 10 + 13)  # a Friday, 10:00 to 13:00: nothing
    for a in (mx.raw, mx.y, mx.n):
        a[1, out] = 0.0
    found = run([mx], SENSITIVITY_LEVELS["medium"])
    dips = [(c.key[0], c.start, c.end) for c in found if c.kind == "dip"]
    assert ("app1", out.start, out.stop) in dips
    assert all(k == "app1" for k, _, _ in dips)


def test_a_latency_spike_is_found():
    rng = np.random.default_rng(14)
    factor = np.ones((4, HOURS))
    factor[3, LO + 50:LO + 53] = 6.0
    found = run([latency_matrix(rng, series=4, factor=factor)], SENSITIVITY_LEVELS["medium"])
    assert any(c.key[0] == "app3" and c.start <= LO + 51 < c.end for c in found)


@pytest.mark.slow
def test_false_alarm_rate_on_pure_noise():
    """Runs over 36 noise-only series (rates, latency, tokens; 30 days of hours each, about
    25,000 tests a run): the share of runs reporting any anomaly is measured at each
    sensitivity and must stay near what it promises (at most q per run)."""
    raised = {level: 0 for level in SENSITIVITY_LEVELS}
    runs = 10
    for seed in range(runs):
        rng = np.random.default_rng(1000 + seed)
        tests = [engine.test_metric(mx, LO, HOURS, IDX, 1 / 24) for mx in (
            rate_matrix(rng, series=20), latency_matrix(rng, series=6, per_hour=40),
            tokens_matrix(rng, series=10))]
        for level, q in SENSITIVITY_LEVELS.items():
            raised[level] += bool(engine.decide(tests, q)[2])
    print(f"noise runs with any anomaly, of {runs}: {raised}")
    assert raised["low"] == 0 and raised["medium"] <= 1 and raised["high"] <= 3
