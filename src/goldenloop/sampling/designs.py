"""Sampling designs: each gives every unit of the frame its own inclusion probability.

Units are then drawn independently (Poisson sampling), so a unit's weight in an estimate is
exactly ``1 / probability`` and the design is fully stated by the probabilities. With
``fixed_size=True`` the same probabilities are drawn by randomised systematic πps sampling
instead (Madow 1949; units in random order within strata, strata one after another, as in
Hartley and Rao 1962): exactly ``n`` units, each still included with exactly its stored
probability, and every stratum gets the floor or the ceiling of its expected count. Estimates
then use a fixed-size variance (``goldenloop.estimation``: Deville's approximation).

- ``Uniform(n)``: every unit ``p = n / N``.
- ``Stratified(n, by, allocation)``: strata by app × model version (or other columns);
  ``proportional`` gives every unit the same ``p`` (the strata are recorded for non-response
  adjustment and reports), ``equal`` aims at ``n / H`` units per stratum, so small strata
  (a new model version) get enough grades.
- ``RiskRaised(n, boost)``: a base probability raised for risky units, ``p ∝ 1 + boost × risk``
  with the risk score in [0, 1] from negative feedback, offensive language, refusals, errors
  and low or uncertain judge scores. The risk score is stored apart from the probability.

A probability above 1 is capped at 1 and the rest re-scaled, so the expected sample size is
``n`` whenever the frame has at least ``n`` units.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from goldenloop.sampling.frame import SamplingError

STRATUM_COLUMNS = ("app", "model_version", "environment", "prompt_version")
# Risk signals and their default weights; a unit's risk is min(1, sum of weights of its signals).
DEFAULT_RISK_WEIGHTS: dict[str, float] = {
    "negative_feedback": 1.0,   # thumbs down, or a rating of 2 or less
    "offensive": 1.0,           # offensive-language probability >= 0.5, or moderation flagged
    "refusal": 0.5,
    "error": 1.0,               # status other than ok (error, timeout, empty)
    "judge_low": 1.0,           # a judge score in the lowest quarter of its scale
    "judge_uncertain": 0.5,     # a judge answer stating confidence below 0.5
}
RISK_SIGNALS = tuple(DEFAULT_RISK_WEIGHTS)


@dataclass(frozen=True)
class Uniform:
    n: int
    kind: Literal["uniform"] = "uniform"
    fixed_size: bool = False


@dataclass(frozen=True)
class Stratified:
    n: int
    by: tuple[str, ...] = ("app", "model_version")
    allocation: Literal["proportional", "equal"] = "proportional"
    kind: Literal["stratified"] = "stratified"
    fixed_size: bool = False


@dataclass(frozen=True)
class RiskRaised:
    n: int
    boost: float = 4.0
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RISK_WEIGHTS))
    kind: Literal["risk"] = "risk"
    fixed_size: bool = False


Design = Uniform | Stratified | RiskRaised


def check(design: Design) -> None:
    if not isinstance(design, Uniform | Stratified | RiskRaised):
        raise SamplingError(f"unknown design {design!r}")
    if int(design.n) < 1:
        raise SamplingError("a design needs a target sample size n of at least 1")
    if isinstance(design, Stratified):
        bad = [c for c in design.by if c not in STRATUM_COLUMNS]
        if bad or not design.by:
            raise SamplingError(f"strata are made of {', '.join(STRATUM_COLUMNS)}, not {bad}")
        if design.allocation not in ("proportional", "equal"):
            raise SamplingError("allocation is proportional or equal")
    if isinstance(design, RiskRaised):
        unknown = set(design.weights) - set(RISK_SIGNALS)
        if unknown or design.boost < 0 or any(w < 0 for w in design.weights.values()):
            raise SamplingError(f"risk weights are non-negative, for {', '.join(RISK_SIGNALS)}; "
                                "boost is non-negative")


def to_dict(design: Design) -> dict:
    out = asdict(design)
    if "by" in out:
        out["by"] = list(out["by"])
    return out


def capped(size: np.ndarray, n: float) -> np.ndarray:
    """Probabilities proportional to ``size`` summing to ``n``, none above 1: units that
    would exceed 1 are taken for certain and the rest re-scaled, until none exceeds 1."""
    size = np.asarray(size, dtype=np.float64)
    p = np.zeros(len(size))
    if len(size) == 0:
        return p
    if n >= len(size):
        return np.ones(len(size))
    certain = np.zeros(len(size), dtype=bool)
    while True:
        rest = n - certain.sum()
        free = ~certain
        total = size[free].sum()
        p[free] = rest * size[free] / total if total > 0 else 0.0
        over = free & (p >= 1.0)
        if not over.any():
            break
        certain |= over
        p[certain] = 1.0
    return p


def risk_scores(signals: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """``min(1, Σ weight × signal)`` per unit; absent signals count as 0."""
    n = len(next(iter(signals.values()))) if signals else 0
    score = np.zeros(n)
    for name, w in weights.items():
        if name in signals:
            score += w * np.asarray(signals[name], dtype=np.float64)
    return np.minimum(score, 1.0)


def probabilities(design: Design, strata: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """Inclusion probability of each unit under ``design``."""
    n_units = len(strata)
    if isinstance(design, Uniform) or (
            isinstance(design, Stratified) and design.allocation == "proportional"):
        return capped(np.ones(n_units), design.n)
    if isinstance(design, Stratified):  # equal: each stratum has the same total size
        _, inverse, counts = np.unique(strata, return_inverse=True, return_counts=True)
        return capped(1.0 / counts[inverse], design.n)
    return capped(1.0 + design.boost * risk, design.n)


def draw(p: np.ndarray, seed: int) -> np.ndarray:
    """Poisson sampling: unit i is taken when its own uniform draw is below ``p[i]``."""
    return np.random.default_rng(seed).random(len(p)) < p


def draw_systematic(p: np.ndarray, seed: int, strata: np.ndarray | None = None) -> np.ndarray:
    """Randomised systematic πps sampling of exactly ``round(Σp)`` units.

    The units are put in a random order (within each stratum, the strata one after another),
    laid end to end as intervals of length ``p[i]`` on [0, Σp), and a unit is taken when one of
    the points ``u, u + 1, u + 2, …`` (``u`` uniform on [0, 1)) falls in its interval. Each
    unit is taken with probability exactly ``p[i]`` (no interval is longer than 1, so none
    holds two points), whatever the order; the random order makes every pair's joint
    probability positive, so the design's variance can be estimated."""
    p = np.asarray(p, dtype=np.float64)
    taken = np.zeros(len(p), dtype=bool)
    if len(p) == 0:
        return taken
    rng = np.random.default_rng(seed)
    shuffle = rng.permutation(len(p))
    if strata is not None:  # strata in a fixed order, units shuffled within each
        _, codes = np.unique(np.asarray(strata).astype(str), return_inverse=True)
        order = shuffle[np.argsort(codes[shuffle], kind="stable")]
    else:
        order = shuffle
    total = float(p.sum())
    n = round(total)
    if abs(total - n) > 1e-6:
        raise SamplingError(f"a fixed-size draw needs probabilities summing to a whole number, "
                            f"not {total:.6f}")
    # Cumulative ends rescaled to exactly n, so rounding cannot add or lose a unit at the end.
    ends = np.cumsum(p[order]) * (n / total if total > 0 else 0.0)
    starts = np.concatenate([[0.0], ends[:-1]])
    u = rng.random()
    hit = np.floor(ends - u) - np.floor(starts - u) >= 1
    taken[order[hit]] = True
    return taken
