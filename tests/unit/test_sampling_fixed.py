"""Fixed-size queues: randomised systematic πps sampling draws exactly n units, each with
exactly its stored probability (checked by simulation against the probabilities themselves),
every stratum gets the floor or the ceiling of its expected count, Deville's variance covers
the truth at its stated rate, and the preview states what a queue would draw."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import combinations

import numpy as np
import pytest
import review_support as rs
from review_support import FULL, opts, synthetic_spans

from goldenloop import review
from goldenloop.estimation import estimate, hajek
from goldenloop.sampling import (
    RiskRaised,
    SamplingError,
    Stratified,
    Uniform,
    create_queue,
    make_frame,
    preview_queue,
)
from goldenloop.sampling.designs import capped, draw_systematic

demo_template, demo_store = rs.demo_template, rs.demo_store  # shared fixtures
REPS = 20_000


def _probabilities(seed: int = 7, n_units: int = 60, n: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return capped(rng.lognormal(0, 1.2, n_units), n)  # some units certain, most not


@pytest.mark.slow
def test_systematic_draw_has_exactly_n_units_each_at_its_probability():
    p = _probabilities()
    assert (p == 1).any() and (p < 0.05).any()
    strata = np.repeat(["a", "b", "c"], 20)
    draws = np.array([draw_systematic(p, seed, strata) for seed in range(REPS)])
    assert (draws.sum(axis=1) == 12).all()  # fixed size, every time
    hits = draws.mean(axis=0)
    sd = np.sqrt(p * (1 - p) / REPS)
    assert np.all(np.abs(hits - p) <= 4.5 * sd + 1e-12)
    assert hits[p == 1].min() == 1.0
    # The simulation has power: probabilities off by 10% for a third of the units show.
    wrong = p * np.where(np.arange(len(p)) % 3 == 0, 1.1, 1.0)
    assert np.any(np.abs(hits - wrong) > 4.5 * sd)
    # Each stratum gets the floor or the ceiling of its expected count.
    for s in "abc":
        expected = p[strata == s].sum()
        counts = draws[:, strata == s].sum(axis=1)
        assert set(np.unique(counts)) <= {np.floor(expected), np.ceil(expected)}
    # The random order makes every pair's joint probability positive (estimable variance).
    free = np.flatnonzero((p < 1) & (p > 0.15))
    both = [(draws[:, i] & draws[:, j]).mean() for i, j in combinations(free[:8], 2)]
    assert min(both) > 0


@pytest.mark.slow
def test_systematic_draw_without_strata_and_small_frames():
    assert draw_systematic(np.ones(5), 1).all()
    assert not draw_systematic(np.zeros(0), 1).any()
    with pytest.raises(SamplingError, match="whole number"):
        draw_systematic(np.array([0.3, 0.4]), 1)
    p = capped(np.arange(1, 31), 7)
    hits = np.mean([draw_systematic(p, s) for s in range(REPS)], axis=0)
    assert np.all(np.abs(hits - p) <= 4.5 * np.sqrt(p * (1 - p) / REPS) + 1e-12)


@pytest.mark.slow
def test_deville_variance_covers_the_truth_under_systematic_sampling():
    """400 fixed-size samples of a population of known truth: the 95% interval from the
    fixed-size variance covers it about 95% of the time; a variance 20% too small does not."""
    rng = np.random.default_rng(0)
    risky = rng.random(20_000) < 0.10
    y = (rng.random(20_000) < np.where(risky, 0.3, 0.9)).astype(float)
    p = capped(1 + 19 * risky, 400)
    cls = np.where(risky, "raised", "base")
    ests, ses = np.empty(400), np.empty(400)
    for r in range(400):
        s = draw_systematic(p, r, cls)
        graded = np.ones(s.sum(), bool)
        ests[r], ses[r], *_ = hajek(y[s], p[s], graded, cls[s], proportion=True, fixed_size=True)
    truth = y.mean()

    def coverage(scale: float) -> float:
        return float(np.mean(np.abs(ests - truth) <= 1.959964 * ses * scale))

    assert 0.92 <= coverage(1.0) <= 0.975
    assert coverage(0.8) < 0.92
    assert abs(ests.mean() - truth) < 3 * ests.std() / np.sqrt(400)


@pytest.mark.parametrize("design", [Uniform(30, fixed_size=True),
                                    Stratified(30, allocation="equal", fixed_size=True),
                                    RiskRaised(30, fixed_size=True)])
@pytest.mark.slow
def test_fixed_size_queue_holds_exactly_n_with_stored_probabilities(demo_store, design):
    frame = make_frame()
    before = preview_queue(demo_store, frame, design)
    made = create_queue(demo_store, opts(name=design.kind), frame, design, seed=3)
    assert made.items == 30 and made.population_size == before.population_size
    assert made.expected_size == pytest.approx(before.expected_size) == pytest.approx(30)
    got = demo_store.df("SELECT stratum, inclusion_prob FROM queue_items WHERE queue_id = ?",
                        [made.queue_id])
    per = got.groupby("stratum").size()
    table = before.strata.set_index("stratum")
    assert table["units"].sum() == before.population_size
    for stratum, count in per.items():  # floor or ceiling of the preview's expected count
        assert np.floor(table.loc[stratum, "expected"] - 1e-9) <= count \
            <= np.ceil(table.loc[stratum, "expected"] + 1e-9)
    assert (got["inclusion_prob"] <= table.loc[got["stratum"], "max_prob"].to_numpy() + 1e-12).all()
    stored = demo_store.scalar("SELECT design FROM queues WHERE queue_id = ?", [made.queue_id])
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert stored["draw"] == "systematic" and stored["fixed_size"] is True


@pytest.mark.slow
def test_estimate_of_a_fixed_size_queue_uses_the_fixed_size_variance(store):
    truth = synthetic_spans(store, 800, seed=2, good_share=0.7)
    keys = store.df("SELECT span_key FROM spans ORDER BY span_key").span_key.to_numpy()
    good = dict(zip(keys.tolist(), truth.tolist(), strict=True))
    q = create_queue(store, opts(), make_frame(), Uniform(60, fixed_size=True), seed=4)
    assert q.items == 60
    while (claim := review.next_item(store, q.queue_id, "ben")) is not None:
        review.submit(store, claim, {**FULL, "correctness": 5 if good[claim.span_key] else 1})
    e = estimate(store, q.queue_id, "correctness", at_least=4)
    assert "Deville" in e.method
    # Computed here from the stored items: Hájek mean, Deville's variance (all graded, π = n/N).
    df = store.df("SELECT span_key, inclusion_prob FROM queue_items WHERE queue_id = ?",
                  [q.queue_id])
    y = df.span_key.map(good).astype(float).to_numpy()
    pi = df.inclusion_prob.to_numpy()
    assert pi == pytest.approx(np.full(60, 60 / 800))
    est = (y / pi).sum() / (1 / pi).sum()
    e_k = (y - est) / (1 / pi).sum() / pi
    c = 1 - pi
    var = 60 / 59 * (c * (e_k - (c * e_k).sum() / c.sum()) ** 2).sum()
    assert e.value == pytest.approx(est) and e.se == pytest.approx(np.sqrt(var))
    # The Poisson variance differs (it counts the sample size's own variation).
    poisson = np.sqrt((c * ((y - est) / (1 / pi).sum() / pi) ** 2).sum())
    assert e.se != pytest.approx(poisson, rel=1e-3)


def test_preview_of_an_empty_frame_says_so(demo_store):
    with pytest.raises(SamplingError, match="no spans"):
        preview_queue(demo_store, make_frame(start=datetime(1990, 1, 1), end=datetime(1990, 1, 2)),
                      Uniform(5))
