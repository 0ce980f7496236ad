"""Prediction-powered inference: coverage in simulation with a known truth, narrower intervals
than human grades alone when the judge is informative, an independent closed form in the
equal-probability case, and the estimate over a real queue in a real store."""

from __future__ import annotations

import numpy as np
import pytest

from goldenloop.estimation import hajek
from goldenloop.estimation.ppi import PPIError, two_phase

N_POP = 200_000


def _population(rng: np.random.Generator, informative: bool) -> tuple[np.ndarray, np.ndarray]:
    """Truth y (1 = correct, about 70%) and a judge f that flips 3% of grades and is lenient
    (it passes a quarter of the wrong answers: biased upwards), or pure noise."""
    y = (rng.random(N_POP) < 0.7).astype(float)
    if informative:
        flip = rng.random(N_POP) < 0.03
        lenient = (y == 0) & (rng.random(N_POP) < 0.25)
        f = np.where(flip, 1 - y, y)
        f = np.where(lenient, 1.0, f)
    else:
        f = (rng.random(N_POP) < 0.5).astype(float)
    return y, f


def _one_sample(rng, y, f, n_judge: int, n_human: int, stratified: bool):
    """Poisson phase 1 (uneven probabilities when ``stratified``), random phase-2 subset."""
    strata = (np.arange(N_POP) % 2)
    p1 = np.where(strata == 0, 1.5, 0.5) * n_judge / N_POP if stratified else \
        np.full(N_POP, n_judge / N_POP)
    s = np.flatnonzero(rng.random(N_POP) < p1)
    h = rng.random(len(s)) < n_human / len(s)
    yy = np.where(h, y[s], np.nan)
    return f[s], yy, p1[s], strata[s], h


@pytest.mark.parametrize("stratified", [False, True])
@pytest.mark.slow
def test_coverage_and_width_with_an_informative_judge(stratified: bool) -> None:
    rng = np.random.default_rng(11 + stratified)
    y, f = _population(rng, informative=True)
    truth = y.mean()
    assert abs(f.mean() - truth) > 0.05  # the judge alone is biased: PPI must correct it
    reps, hits, hits_human, widths, widths_human, judge_hits = 400, 0, 0, [], [], 0
    for _ in range(reps):
        fs, ys, pi, strata, h = _one_sample(rng, y, f, 3000, 150, stratified)
        _est, _se, lo, hi, _lam, _ = two_phase(fs, ys, pi, strata, proportion=True)
        hits += lo <= truth <= hi
        widths.append(hi - lo)
        # Human grades alone, by the project's Hájek estimator (independent code).
        _e2, _s, lo2, hi2, _n = hajek(np.nan_to_num(ys), pi, h, strata, proportion=True)
        hits_human += lo2 <= truth <= hi2
        widths_human.append(hi2 - lo2)
        w = 1 / pi
        judge_only = (w * fs).sum() / w.sum()
        judge_hits += abs(judge_only - truth) < 0.02
    coverage = hits / reps
    assert 0.92 <= coverage <= 0.98, coverage
    assert 0.91 <= hits_human / reps <= 0.98
    ratio = np.mean(widths) / np.mean(widths_human)
    assert ratio < 0.8, ratio
    # Theory for the difference estimator: width ratio ≈ √(1 − ρ²(1 − n/N)).
    rho = np.corrcoef(y, f)[0, 1]
    assert ratio == pytest.approx(np.sqrt(1 - rho ** 2 * (1 - 150 / 3000)), abs=0.07)
    assert judge_hits < reps * 0.05  # the uncorrected judge mean misses the truth


@pytest.mark.slow
def test_an_uninformative_judge_costs_almost_nothing() -> None:
    rng = np.random.default_rng(5)
    y, f = _population(rng, informative=False)
    truth = y.mean()
    hits, ratio = 0, []
    for _ in range(300):
        fs, ys, pi, strata, h = _one_sample(rng, y, f, 3000, 200, False)
        _e, _s, lo, hi, _lam, _ = two_phase(fs, ys, pi, strata, proportion=True)
        _e2, _s2, lo2, hi2, _n = hajek(np.nan_to_num(ys), pi, h, strata, proportion=True)
        hits += lo <= truth <= hi
        ratio.append((hi - lo) / (hi2 - lo2))
    assert 0.91 <= hits / 300 <= 0.98
    assert np.mean(ratio) < 1.08  # power tuning sends λ towards 0: about the human width


def test_classic_ppi_matches_the_two_phase_closed_form() -> None:
    """Equal probabilities, λ = 1: Var = (1−p) S²_y / N + (1/n − 1/N) S²_(y−f), written out."""
    rng = np.random.default_rng(3)
    n_big, n = 5000, 400
    f = rng.normal(3, 1, n_big)
    y_full = f + rng.normal(0.4, 0.5, n_big)
    h = np.zeros(n_big, bool)
    h[rng.choice(n_big, n, replace=False)] = True
    y = np.where(h, y_full, np.nan)
    p = 0.01
    est, se, *_ = two_phase(f, y, np.full(n_big, p), lam=1.0)
    expected_est = f.mean() + (y_full[h] - f[h]).mean()
    phi = n / n_big
    s2y = ((y_full[h] - est) ** 2).sum() / n      # the estimator's own (1/n) form
    d = y_full[h] - f[h]
    s2d = ((d - d.mean()) ** 2).sum() / n
    expected_var = (1 - p) * s2y / n_big + (1 - phi) * s2d / n
    assert est == pytest.approx(expected_est, rel=1e-12)
    assert se ** 2 == pytest.approx(expected_var, rel=1e-9)


def test_needs_doubly_graded_items() -> None:
    with pytest.raises(PPIError):
        two_phase(np.ones(10), np.full(10, np.nan), np.full(10, 0.1))
