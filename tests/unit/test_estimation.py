"""Population estimates: the interval covers a known truth at its stated rate on synthetic
data, and estimates from real queues weight by design, adjust for non-response, count each
item once, and leave out gold items and queues made by hand."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from review_support import FULL, opts, synthetic_spans

from goldenloop import review
from goldenloop.estimation import EstimationError, NonProbabilityQueue, estimate, estimate_by, hajek
from goldenloop.sampling import RiskRaised, Uniform, create_hand_queue, create_queue, make_frame
from goldenloop.sampling.designs import capped
from goldenloop.store.feedback import insert_feedback

REPS = 400


def _population(seed: int = 0, n: int = 20_000):
    """Risky units (10%) are mostly wrong and drawn 20x more often: weights matter."""
    rng = np.random.default_rng(seed)
    risky = rng.random(n) < 0.10
    y = (rng.random(n) < np.where(risky, 0.3, 0.9)).astype(float)
    p = capped(1 + 19 * risky, 400)
    return rng, risky, y, p, np.where(risky, "raised", "base")


def _replicate(response: tuple[float, float], pooled: bool = False):
    """(estimates, standard errors) of REPS Poisson samples with non-response at the given
    rates (base, raised), missing at random within the two classes."""
    rng, risky, y, p, cls = _population()
    ests, ses = np.empty(REPS), np.empty(REPS)
    for r in range(REPS):
        s = rng.random(len(y)) < p
        graded = rng.random(s.sum()) < np.where(risky[s], response[1], response[0])
        classes = np.full(s.sum(), "all") if pooled else cls[s]
        ests[r], ses[r], *_ = hajek(y[s], p[s], graded, classes, proportion=True)
    return ests, ses, y.mean()


@pytest.mark.parametrize("response", [(1.0, 1.0), (0.9, 0.6)])
def test_interval_covers_the_truth_at_its_stated_rate(response):
    ests, ses, truth = _replicate(response)

    def coverage(scale: float) -> float:
        half = 1.959964 * ses * scale
        return float(np.mean((ests - half <= truth) & (truth <= ests + half)))

    assert 0.92 <= coverage(1.0) <= 0.975  # 400 replications: sd of the rate about 0.011
    # The band has power: a standard error 20% too small or 35% too large falls outside it.
    assert coverage(0.8) < 0.92 and coverage(1.35) > 0.975
    # Unbiased: the mean estimate is within 3 Monte Carlo standard errors of the truth.
    assert abs(ests.mean() - truth) < 3 * ests.std() / np.sqrt(REPS)
    # An interval that ignores the weights (simple random sampling) covers far less often.
    n = 400 * np.mean(response)
    srs_half = 1.959964 * np.sqrt(ests * (1 - ests) / n)
    assert np.mean(np.abs(ests - truth) <= srs_half) < 0.91


def test_ignoring_who_did_not_respond_biases_the_estimate():
    ests, _, truth = _replicate((0.9, 0.6), pooled=True)
    # Risky items (mostly wrong) are graded less often: pooled, the estimate is too high.
    assert ests.mean() - truth > 5 * ests.std() / np.sqrt(REPS)


def _grade_all(store, queue_id, truth_by_key, *, reviewer="ben", skip=None):
    """Grade every item the reviewer is given, from the known truth; ``skip(claim)`` decides
    which to skip (non-response)."""
    while (claim := review.next_item(store, queue_id, reviewer)) is not None:
        if skip is not None and skip(claim):
            review.skip(store, claim)
            continue
        good = truth_by_key[claim.span_key]
        review.submit(store, claim, {**FULL, "correctness": 5 if good else 1})


def _thumbs_down(store, keys):
    rows = store.df("SELECT trace_id, span_id FROM spans WHERE list_contains(?, span_key)",
                    [[int(k) for k in keys]])
    with store.transaction() as cur:
        insert_feedback(cur, pa.table({"trace_id": rows.trace_id.tolist(),
                                       "span_id": rows.span_id.tolist(),
                                       "kind": ["thumbs"] * len(rows),
                                       "value": [0.0] * len(rows)}))


@pytest.mark.slow
def test_estimate_from_a_risk_raised_queue_with_skips(store):
    truth = synthetic_spans(store, 3000, seed=1, good_share=0.75)
    keys = store.df("SELECT span_key FROM spans ORDER BY span_key").span_key.to_numpy()
    truth_by_key = dict(zip(keys.tolist(), truth.tolist(), strict=True))
    rng = np.random.default_rng(9)
    complained = keys[(truth == 0) & (rng.random(len(keys)) < 0.5)]  # unhappy users of bad answers
    _thumbs_down(store, complained)
    q = create_queue(store, opts(), make_frame(), RiskRaised(250, boost=8), seed=21)
    stratum = dict(store.rows("SELECT queue_item_id, stratum FROM queue_items "
                              "WHERE queue_id = ?", [q.queue_id]))
    skip_rng = np.random.default_rng(5)
    _grade_all(store, q.queue_id, truth_by_key, skip=lambda c: skip_rng.random() < (
        0.4 if stratum[c.queue_item_id] == "raised risk" else 0.1))

    e = estimate(store, q.queue_id, "correctness", at_least=4)
    assert e.population_size == 3000 and e.n_sampled == q.items
    assert 0 < e.n_nonresponse < e.n_sampled and e.n_graded == e.n_in_domain
    assert e.population_estimate == pytest.approx(3000, rel=0.15)
    # The same estimate computed here from the stored probabilities, strata and truth.
    df = store.df("SELECT queue_item_id, span_key, inclusion_prob, stratum, reviewers_done "
                  "FROM queue_items WHERE queue_id = ?", [q.queue_id])
    df["y"] = df.span_key.map(truth_by_key).astype(float)
    df["w"] = 1 / df.inclusion_prob
    graded = df[df.reviewers_done > 0]
    phi = graded.groupby("stratum").w.sum() / df.groupby("stratum").w.sum()
    w_star = graded.w / graded.stratum.map(phi)
    assert e.value == pytest.approx((w_star * graded.y).sum() / w_star.sum())
    assert e.ci_low <= truth.mean() <= e.ci_high
    naive = graded.y.mean()  # risky (mostly bad) items are oversampled
    assert abs(e.value - truth.mean()) < abs(naive - truth.mean())
    assert e.value == pytest.approx(estimate(store, q.queue_id, "correctness", label=None,
                                             at_least=4.0).value)


@pytest.mark.slow
def test_each_item_counts_once_gold_items_and_na_are_left_out(store):
    truth = synthetic_spans(store, 400, seed=2)
    keys = store.df("SELECT span_key FROM spans ORDER BY span_key").span_key.tolist()
    q = create_queue(store, opts(reviewers_per_item=2), make_frame(), Uniform(20), seed=3)
    gold_key = next(k for k in keys if k not in set(
        store.df("SELECT span_key FROM queue_items").span_key))
    review.add_gold(store, q.queue_id, "span", gold_key, {**FULL, "correctness": 1}, "lead")
    values = {}
    for reviewer, score in (("ana", 5), ("ben", 1)):  # they disagree on every item
        while (c := review.next_item(store, q.queue_id, reviewer)) is not None:
            answer = {**FULL, "correctness": score}
            if c.span_key == keys[0]:
                answer["correctness"] = review.Answer(not_applicable=True)
            review.submit(store, c, answer)
            values.setdefault(c.queue_item_id, []).append(score)
    e = estimate(store, q.queue_id, "correctness")
    assert e.n_sampled == q.items  # the gold item is not part of the sample
    assert e.value == pytest.approx(3.0)  # (5 + 1) / 2 per item, whatever the weights
    share = estimate(store, q.queue_id, "correctness", at_least=4)
    assert share.value == pytest.approx(0.5) and share.ci_high <= 1.0
    on_brand = estimate(store, q.queue_id, "tone", label="on-brand")
    assert on_brand.value == 1.0 and on_brand.se == 0
    assert 0.7 < on_brand.ci_low < 1.0 == on_brand.ci_high  # not a zero-width interval
    assert "Wilson" in on_brand.notes[0]
    assert len(truth) == 400


@pytest.mark.slow
def test_not_applicable_is_outside_the_domain(store):
    synthetic_spans(store, 200, seed=4)
    q = create_queue(store, opts(), make_frame(), Uniform(12), seed=1)
    first = True
    while (c := review.next_item(store, q.queue_id, "ben")) is not None:
        correctness = review.Answer(not_applicable=True) if first else 4
        review.submit(store, c, {**FULL, "correctness": correctness})
        first = False
    e = estimate(store, q.queue_id, "correctness")
    assert e.n_graded == q.items and e.n_in_domain == q.items - 1 and e.value == 4.0


@pytest.mark.slow
def test_estimate_by_model_version(store):
    truth = synthetic_spans(store, 1000, seed=5)
    keys = store.df("SELECT span_key FROM spans ORDER BY span_key").span_key.tolist()
    q = create_queue(store, opts(), make_frame(), Uniform(60), seed=2)
    _grade_all(store, q.queue_id, dict(zip(keys, truth.tolist(), strict=True)))
    by = estimate_by(store, q.queue_id, "correctness", "model_version", at_least=4)
    assert list(by.model_version) == ["m1", "m2"]
    assert by.n_sampled.sum() == q.items
    assert ((by.ci_low <= by.value) & (by.value <= by.ci_high)).all()


def test_queues_by_hand_and_bad_outcomes_are_refused(store):
    synthetic_spans(store, 50, seed=6)
    hand = create_hand_queue(store, opts(), span_keys=[1, 2, 3])
    with pytest.raises(NonProbabilityQueue, match="made by hand"):
        estimate(store, hand.queue_id, "correctness")
    q = create_queue(store, opts(), make_frame(), Uniform(5), seed=1)
    with pytest.raises(EstimationError, match="no graded item"):
        estimate(store, q.queue_id, "correctness")
    with pytest.raises(EstimationError, match="has no label"):
        estimate(store, q.queue_id, "tone", label="sarcastic")
    with pytest.raises(EstimationError, match="name a label"):
        estimate(store, q.queue_id, "tone")
