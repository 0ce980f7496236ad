"""The session bootstrap of version comparison on synthetic conversations with a known
difference: its 95% intervals cover the true difference about 95% of the time, while the
naive bootstrap that resamples spans (as if turns of one conversation were independent)
covers it far less often. Plus the exact resampled quantile against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from goldenloop.metrics import compare_stats as cs

EXPERIMENTS = 300
N_BOOT = 500
SESSIONS = 120
FAIL = {"a": 0.20, "b": 0.26}  # mean failure propensity of a session
CONCENTRATION = 2.0  # Beta(a, b) with a + b = 2: intra-session correlation 1/3
MU = {"a": np.log(800), "b": np.log(900)}  # median latency exp(mu): sizes are independent
SD_SESSION, SD_TURN = 0.8, 0.4  # of log latency: most of its spread is between sessions


def conversations(side: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray, np.ndarray]:
    """Turns per session, failures per session, and per request: latency and session."""
    turns = 1 + rng.poisson(5, SESSIONS)
    p = rng.beta(FAIL[side] * CONCENTRATION, (1 - FAIL[side]) * CONCENTRATION, SESSIONS)
    failures = rng.binomial(turns, p)
    session = np.repeat(np.arange(SESSIONS), turns)
    latency = np.exp(MU[side] + rng.normal(0, SD_SESSION, SESSIONS)[session]
                     + rng.normal(0, SD_TURN, session.size))
    return turns, failures, latency, session


def sample(turns, failures, latency, session, *, by_span: bool) -> cs.Sample:
    order = np.argsort(latency, kind="stable")
    if by_span:  # every request its own "session": the naive bootstrap
        fail_per_request = np.concatenate([np.r_[np.ones(f), np.zeros(t - f)]
                                           for t, f in zip(turns, failures, strict=True)])
        sums = {"requests": np.ones(latency.size), "failures": fail_per_request}
        return cs.Sample(sums, {"latency_ms": (latency[order], order)})
    sums = {"requests": turns.astype(float), "failures": failures.astype(float)}
    return cs.Sample(sums, {"latency_ms": (latency[order], session[order])})


def intervals(a: cs.Sample, b: cs.Sample, rng) -> dict[str, tuple[float, float]]:
    ra, rb = (cs.bootstrap(s, {"latency_ms": (0.5,)}, N_BOOT, rng) for s in (a, b))
    rate = [cs.ratio(r.sums["failures"], r.sums["requests"]) for r in (ra, rb)]
    return {"failure_rate": cs.percentile_interval(rate[1] - rate[0]),
            "latency_p50": cs.percentile_interval(rb.quantiles[("latency_ms", 0.5)]
                                                  - ra.quantiles[("latency_ms", 0.5)])}


@pytest.fixture(scope="module")
def coverage() -> dict[str, dict[str, float]]:
    truth = {"failure_rate": FAIL["b"] - FAIL["a"],
             "latency_p50": float(np.exp(MU["b"]) - np.exp(MU["a"]))}
    rng = np.random.default_rng(20261127)
    hits = {m: {k: 0 for k in truth} for m in ("session", "span")}
    for _ in range(EXPERIMENTS):
        data = {side: conversations(side, rng) for side in ("a", "b")}
        for method in hits:
            got = intervals(sample(*data["a"], by_span=method == "span"),
                            sample(*data["b"], by_span=method == "span"), rng)
            for k, (low, high) in got.items():
                hits[method][k] += low <= truth[k] <= high
    return {m: {k: n / EXPERIMENTS for k, n in h.items()} for m, h in hits.items()}


@pytest.mark.parametrize("metric", ["failure_rate", "latency_p50"])
@pytest.mark.slow
def test_session_bootstrap_covers_the_true_difference(coverage, metric) -> None:
    print(f"coverage of {metric}: {coverage}")
    # 300 experiments: the binomial standard error of a 95% coverage is about 1.3 points.
    assert 0.90 <= coverage["session"][metric] <= 0.985, coverage


@pytest.mark.parametrize("metric", ["failure_rate", "latency_p50"])
def test_span_bootstrap_undercovers_clustered_data(coverage, metric) -> None:
    assert coverage["span"][metric] < 0.85, coverage
    assert coverage["session"][metric] - coverage["span"][metric] > 0.08, coverage


def test_weighted_quantiles_equal_numpy_on_the_repeated_values() -> None:
    rng = np.random.default_rng(4)
    values = np.sort(rng.lognormal(6, 1, 257))
    weights = rng.integers(0, 4, size=(20, values.size)).astype(float)
    qs = (0.0, 0.5, 0.95, 0.99, 1.0)
    got = cs.weighted_quantiles(values, weights, qs)
    for row in range(weights.shape[0]):
        repeated = np.repeat(values, weights[row].astype(int))
        np.testing.assert_allclose(got[row], np.quantile(repeated, qs), rtol=1e-12)


@pytest.mark.parametrize("window", [None, 0.0, 0.3])
def test_resampled_quantiles_equal_the_full_computation(window) -> None:
    """Summing cumulative weights only near each quantile (``window=0`` forces every
    replicate onto the full fallback) gives exactly the full computation's values."""
    rng = np.random.default_rng(6)
    for sessions, requests in ((3, 7), (200, 900), (4000, 9000)):
        values = np.sort(rng.gamma(2, 300, requests))
        owner = rng.integers(0, sessions, requests)
        w = cs.session_weights(sessions, 60, rng)
        qs = (0.0, 0.05, 0.5, 0.95, 0.99, 1.0)
        np.testing.assert_allclose(cs.resampled_quantiles(values, owner, w, qs, window),
                                   cs.weighted_quantiles(values, w[:, owner], qs), rtol=1e-12)


def test_session_weights_draw_every_session_count_once_per_draw() -> None:
    rng = np.random.default_rng(1)
    w = cs.session_weights(50, 2000, rng)
    assert w.shape == (2000, 50)
    np.testing.assert_array_equal(w.sum(axis=1), 50)
    # Each count is Binomial(50, 1/50): mean 1, variance 0.98.
    assert abs(w.mean() - 1) < 0.01 and abs(w.var() - 0.98) < 0.05


def test_bootstrap_of_an_empty_side_has_no_interval() -> None:
    empty = cs.Sample({"requests": np.array([])}, {"latency_ms": (np.array([]), np.array([], int))})
    reps = cs.bootstrap(empty, {"latency_ms": (0.5,)}, 100, np.random.default_rng(0))
    assert np.isnan(reps.sums["requests"]).all()
    assert np.isnan(cs.percentile_interval(reps.quantiles[("latency_ms", 0.5)])).all()
