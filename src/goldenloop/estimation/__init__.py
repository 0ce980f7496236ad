"""Population estimates from sampled grades: what share of all traffic in a queue's frame is
correct, say, with a confidence interval.

Method (stated, so a reader can check it):

- **Hájek estimator.** Each graded item counts with weight ``1 / π``, its inclusion
  probability under the queue's Poisson design; the estimate is the weighted mean
  ``Σ w·y / Σ w`` over graded items. An item graded by several reviewers counts once, with
  ``y`` the mean of their values (for a proportion, the share of its reviewers who said yes).
- **Non-response.** Items not graded yet, or skipped by everyone, are non-response. Within
  each stratum of the queue (app × model version, risk band, …) the graded items' weights are
  scaled up to stand for the ungraded ones: ``π* = π · φ``, with ``φ`` the weighted share of
  the stratum's items that were graded. This assumes grades are missing at random within a
  stratum (queues serve items in random order, which makes that plausible for items not
  reached yet; it is an assumption for skipped ones, which are counted and reported). When a
  stratum has no graded item at all, all strata are pooled and the estimate says so.
- **Domain.** "Not applicable" (and a flag with no value) puts an item outside the
  criterion's domain: the estimate is over the items the criterion applies to.
- **Variance** by Taylor linearization of the ratio for Poisson sampling:
  ``v = Σ (1 − π*ᵢ) / π*ᵢ² · zᵢ²`` with ``zᵢ = (yᵢ − ŷ) / N̂``. The interval is the normal
  approximation ``ŷ ± z₁₋α/₂ · √v`` (95% by default), clipped to [0, 1] for proportions; with
  few graded items (say under 30) or an estimate near 0 or 1 it is only approximate. When
  every graded item agrees (a share of exactly 0 or 1, so ``v = 0``), the interval is the
  Wilson score interval on the number of graded items instead, and a note says so.
- **Fixed-size queues** (drawn by randomised systematic sampling, ``design.draw ==
  "systematic"``): the same estimator, with Deville's variance for fixed-size high-entropy
  designs (Deville 1999; Matei and Tillé 2005) in place of the Poisson one:
  ``v = n/(n−1) · Σ (1 − π*ᵢ) (zᵢ/π*ᵢ − G)²``, ``G = Σ (1 − π*ᵢ) zᵢ/π*ᵢ / Σ (1 − π*ᵢ)``.
- **Excluded:** gold items (not part of the sample). Queues made by hand have no inclusion
  probabilities: estimation refuses them, since they say nothing about traffic as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from goldenloop import rubric as rubrics
from goldenloop.errors import GoldenloopError
from goldenloop.estimation import sql as estimation_sql
from goldenloop.review import records as review_sql
from goldenloop.store import Store

__all__ = ["Estimate", "EstimationError", "NonProbabilityQueue", "estimate", "estimate_by",
           "hajek"]


class EstimationError(GoldenloopError):
    """An estimate that cannot be made (no grades yet, unknown criterion or label)."""


class NonProbabilityQueue(EstimationError):
    """The queue was made by hand: its items have no inclusion probabilities."""


@dataclass(frozen=True)
class Estimate:
    value: float
    se: float
    ci_low: float
    ci_high: float
    level: float
    n_sampled: int             # sampled items (gold items excluded)
    n_graded: int              # items with at least one grade
    n_in_domain: int           # graded items with a value (not N/A)
    n_nonresponse: int         # sampled items with no grade
    population_size: int | None
    population_estimate: float  # Σ 1/π over the sample: should be near population_size
    method: str = "Hájek estimator, Poisson-sampling linearization variance, normal interval"
    notes: list[str] = field(default_factory=list)


def _adjusted_probs(pi: np.ndarray, classes: np.ndarray, responded: np.ndarray
                    ) -> tuple[np.ndarray, list[str]]:
    """π·φ per item, φ = weighted response rate of its class (pooled if any class has none)."""
    notes: list[str] = []
    w = 1.0 / pi
    _, cls = np.unique(classes, return_inverse=True)
    total = np.bincount(cls, weights=w)
    answered = np.bincount(cls, weights=w * responded)
    if np.any(answered == 0):
        notes.append("a stratum has no graded item: non-response adjusted over all strata")
        cls = np.zeros(len(pi), dtype=int)
        total = np.array([w.sum()])
        answered = np.array([(w * responded).sum()])
    return pi * (answered / total)[cls], notes


def hajek(y: np.ndarray, pi: np.ndarray, responded: np.ndarray, classes: np.ndarray, *,
          in_domain: np.ndarray | None = None, level: float = 0.95,
          proportion: bool = False, fixed_size: bool = False
          ) -> tuple[float, float, float, float, list[str]]:
    """(estimate, standard error, interval low, interval high, notes) from one row per
    sampled item: value ``y`` (ignored where not responded or not in the domain), inclusion
    probability ``pi``, whether it was graded, and its non-response class."""
    y, pi = np.asarray(y, np.float64), np.asarray(pi, np.float64)
    responded = np.asarray(responded, bool)
    dom = responded & (np.ones(len(y), bool) if in_domain is None else np.asarray(in_domain, bool))
    if not dom.any():
        raise EstimationError("no graded item has a value for this criterion yet")
    pi_star, notes = _adjusted_probs(pi, np.asarray(classes), responded)
    w = 1.0 / pi_star[dom]
    yd = y[dom]
    n_hat = w.sum()
    est = float((w * yd).sum() / n_hat)
    z = (yd - est) / n_hat
    var = (_deville(z, pi_star[dom]) if fixed_size
           else float(((1.0 - pi_star[dom]) * w * w * z * z).sum()))
    se = var ** 0.5
    zq = float(norm.ppf(0.5 + level / 2))
    lo, hi = est - zq * se, est + zq * se
    if proportion and se == 0:  # every graded item agrees: a zero-width interval claims too much
        lo, hi = _wilson(est, int(dom.sum()), zq)
        notes.append("all graded items agree: Wilson score interval on the graded count")
    if proportion:
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    return est, se, lo, hi, notes


def _deville(z: np.ndarray, pi: np.ndarray) -> float:
    """Deville's variance of a total of ``z`` under a fixed-size high-entropy design."""
    n, c = len(z), 1.0 - pi
    if n < 2 or c.sum() <= 0:
        return 0.0
    e = z / pi
    g = float((c * e).sum() / c.sum())
    return float(n / (n - 1) * (c * (e - g) ** 2).sum())


def _wilson(p: float, n: int, z: float) -> tuple[float, float]:
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    return centre - half, centre + half


def _outcome(rubric: rubrics.Rubric, criterion: str, at_least: float | None,
             label: str | None) -> tuple[str, dict, bool]:
    """(mode, parameters, is a proportion) for the SQL that turns grades into ``y``."""
    c = rubric.criterion(criterion)
    if label is not None:
        if label not in c.label_names:
            raise EstimationError(f"{criterion} has no label {label!r}: "
                                  f"choose one of {', '.join(c.label_names)}")
        return "label", {"label": label}, True
    if c.type in ("nominal", "text"):
        raise EstimationError(f"{criterion} is {c.type}: name a label to estimate its share")
    if at_least is not None:
        return "at_least", {"threshold": float(at_least)}, True
    return "mean", {}, c.type == "boolean"


def _frame(store: Store, queue_id: int, criterion: str, at_least: float | None,
           label: str | None) -> tuple[pd.DataFrame, dict, bool]:
    q = review_sql.queue(store, queue_id)
    if not q["design"].get("probability"):
        raise NonProbabilityQueue(
            f"queue {queue_id} ({q['name']}) was made by hand: it has no inclusion "
            "probabilities, so it cannot estimate anything about all traffic. "
            "Draw a queue by a sampling design instead.")
    rubric = rubrics.get(store, q["rubric_name"], q["rubric_version"])
    mode, params, proportion = _outcome(rubric, criterion, at_least, label)
    df = estimation_sql.item_values(store, queue_id, criterion, mode, params)
    if df.empty:
        raise EstimationError(f"queue {queue_id} has no sampled items")
    if df["inclusion_prob"].isna().any():
        raise NonProbabilityQueue(f"queue {queue_id} has items without inclusion probabilities")
    return df, q, proportion


def _estimate(df: pd.DataFrame, q: dict, proportion: bool, level: float,
              in_domain: np.ndarray | None = None) -> Estimate:
    responded = df["grades"].to_numpy() > 0
    has_value = df["y"].notna().to_numpy()
    dom = has_value if in_domain is None else has_value & in_domain
    est, se, lo, hi, notes = hajek(df["y"].fillna(0).to_numpy(), df["inclusion_prob"].to_numpy(),
                                   responded, df["stratum"].to_numpy(), in_domain=dom,
                                   level=level, proportion=proportion,
                                   fixed_size=q["design"].get("draw") == "systematic")
    mask = np.ones(len(df), bool) if in_domain is None else in_domain
    return Estimate(
        value=est, se=se, ci_low=lo, ci_high=hi, level=level, n_sampled=int(mask.sum()),
        n_graded=int((responded & mask).sum()), n_in_domain=int((responded & dom).sum()),
        n_nonresponse=int((~responded & mask).sum()), population_size=q["population_size"],
        population_estimate=float((1.0 / df["inclusion_prob"].to_numpy()[mask]).sum()),
        notes=notes, **({"method": "Hájek estimator, Deville's fixed-size variance, normal "
                                   "interval"} if q["design"].get("draw") == "systematic" else {}))


def estimate(store: Store, queue_id: int, criterion: str, *, at_least: float | None = None,
             label: str | None = None, level: float = 0.95) -> Estimate:
    """Estimate over the queue's whole frame: the mean of ``criterion`` (numeric, ordinal or
    boolean), the share with a value ``at_least`` a threshold, or the share given ``label``
    (for multi-select criteria: the share whose labels include it)."""
    df, q, proportion = _frame(store, queue_id, criterion, at_least, label)
    return _estimate(df, q, proportion, level)


def estimate_by(store: Store, queue_id: int, criterion: str, by: str, *,
                at_least: float | None = None, label: str | None = None,
                level: float = 0.95) -> pd.DataFrame:
    """The same estimate for each value of a span column (``app``, ``model_version``,
    ``environment``, ``prompt_version``): domain estimates from the one sample, one row each."""
    df, q, proportion = _frame(store, queue_id, criterion, at_least, label)
    groups = estimation_sql.item_groups(store, queue_id, by)
    df = df.merge(groups, on="queue_item_id", how="left")
    rows = []
    for value in sorted(df["group"].dropna().unique()):
        inside = (df["group"] == value).to_numpy()
        try:
            e = _estimate(df, q, proportion, level, in_domain=inside)
        except EstimationError:
            continue  # nothing graded in this group yet
        rows.append({by: value, **{k: getattr(e, k) for k in (
            "value", "se", "ci_low", "ci_high", "n_sampled", "n_graded", "n_in_domain")}})
    return pd.DataFrame(rows)


def measures(rubric: rubrics.Rubric, *, single_valued: bool = False):
    """(criterion, what, estimate keywords) for each criterion an estimate makes sense for: the
    mean and the share in the top two levels of a scale, the share "yes", the share of each
    label. ``single_valued`` leaves out multi-select and pairwise criteria (a pointwise judge
    gives one value)."""
    for c in rubric.criteria:
        if c.type == "text" or (single_valued and (c.multi_select or c.is_pairwise)):
            continue
        if c.scale is not None:
            lo, hi = c.scale
            yield c.name, f"mean ({lo:g}–{hi:g})", {}
            yield c.name, f"share ≥ {hi - 1:g}", {"at_least": hi - 1}
        elif c.type == "boolean":
            yield c.name, "share yes", {}
        else:
            for label in c.label_names:
                yield c.name, f"share '{label}'", {"label": label}
