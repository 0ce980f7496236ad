"""Prediction-powered inference (PPI): estimate a criterion over all traffic from judge grades
on a large sample corrected by the human–judge difference on the items both graded.

Method (stated, so a reader can check it). The judge grades a probability sample (phase 1:
a queue's items, inclusion probability ``π``); reviewers grade a subset of it (phase 2:
within each stratum the graded items stand for the ungraded ones, with phase-2 probability
``φ`` = the weighted share graded, the missing-at-random assumption ``goldenloop.estimation``
makes). With ``f`` the judge's value and ``y`` the human one:

    θ̂ = Ȳ_H + λ (F̄_J − F̄_H)

Hájek means with weights ``1/π`` over the judged items ``J`` and ``1/(π φ)`` over the doubly
graded items ``H``. ``λ = 1`` is the classic PPI estimator (Angelopoulos et al., Science 2023):
the judge's mean plus the mean human−judge difference. By default ``λ`` is tuned to minimise
the variance (PPI++, Angelopoulos, Duchi & Zrnic 2023), clipped to [0, 1]: ``λ = 0`` is the
human-only estimate, so a useless judge costs almost nothing. Since ``H ⊂ J`` this is the
two-phase difference estimator of survey sampling, whose variance (linearized) is

    V = Σ_H (1/φ) (1−π)/π² ((y − θ̂)/N̂)²  +  Σ_H (1−φ)/(φ π)² ((e − ē)/N̂)²,   e = y − λ f

(the first term: what a human grade of every judged item would still vary by; the second:
what grading only a subset adds, small when the judge predicts the humans well). The
interval is normal, ``θ̂ ± z·√V``, clipped to [0, 1] for proportions. It is valid whatever the
judge's bias: the correction removes it; an informative judge only narrows the interval.

Assumptions and limits: items a reviewer marked "not applicable" leave both phases; judged
items the judge failed on are phase-1 non-response, adjusted within strata like reviewers'.
With few doubly graded items (under ~30) the interval is only approximate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from goldenloop import estimation
from goldenloop import rubric as rubrics
from goldenloop.agreement import fitness
from goldenloop.errors import GoldenloopError
from goldenloop.estimation import sql
from goldenloop.review import records as review_sql
from goldenloop.store import Store

__all__ = ["PPIError", "PPIEstimate", "measures", "queue_estimate", "queue_estimates",
           "two_phase"]


class PPIError(GoldenloopError):
    """A PPI estimate that cannot be made (no judge grades, no doubly graded items)."""


@dataclass(frozen=True)
class PPIEstimate:
    value: float
    se: float
    ci_low: float
    ci_high: float
    level: float
    lam: float                  # weight of the judge (1 = classic PPI, 0 = human-only)
    n_judged: int               # phase 1: items with a judge grade
    n_human: int                # phase 2: items with both a judge and a human grade
    judge_mean: float           # the judge's own (uncorrected) estimate
    human_only: estimation.Estimate | None = None
    judge_version: str | None = None
    method: str = ("prediction-powered inference (two-phase difference estimator, power-tuned), "
                   "linearized variance, normal interval")
    notes: list[str] = field(default_factory=list)

    @property
    def width(self) -> float:
        return self.ci_high - self.ci_low


def _phase_probs(pi: np.ndarray, classes: np.ndarray, responded: np.ndarray
                 ) -> tuple[np.ndarray, list[str]]:
    """Per item: the weighted share of its class that responded (pooled if a class has none)."""
    w = 1.0 / pi
    _, cls = np.unique(classes, return_inverse=True)
    total = np.bincount(cls, weights=w)
    answered = np.bincount(cls, weights=w * responded)
    if np.any(answered == 0):
        return np.full(len(pi), (w * responded).sum() / w.sum()), [
            "a stratum has no graded item: grading rate pooled over all strata"]
    return (answered / total)[cls], []


def two_phase(f: np.ndarray, y: np.ndarray, pi: np.ndarray, classes: np.ndarray | None = None,
              *, lam: float | None = None, level: float = 0.95, proportion: bool = False
              ) -> tuple[float, float, float, float, float, list[str]]:
    """(estimate, se, low, high, λ, notes) from one row per judged item: judge value ``f``,
    human value ``y`` (NaN where no reviewer graded it), phase-1 inclusion probability ``pi``
    and its stratum (``classes``) for the phase-2 grading rate."""
    f, y, pi = (np.asarray(a, np.float64) for a in (f, y, pi))
    classes = np.zeros(len(f), int) if classes is None else np.asarray(classes)
    h = ~np.isnan(y)
    if h.sum() < 2:
        raise PPIError("fewer than two items have both a judge and a human grade")
    phi, notes = _phase_probs(pi, classes, h)
    w1 = 1.0 / pi
    n_hat = w1.sum()
    f_all = float((w1 * f).sum() / n_hat)
    w2 = 1.0 / (pi[h] * phi[h])
    yh, fh, ph, pih = y[h], f[h], phi[h], pi[h]
    y_bar, f_bar = (w2 * yh).sum() / w2.sum(), (w2 * fh).sum() / w2.sum()
    c = (1.0 - ph) / (ph * pih) ** 2
    if lam is None:
        sff = float((c * (fh - f_bar) ** 2).sum())
        lam = float(np.clip((c * (yh - y_bar) * (fh - f_bar)).sum() / sff, 0, 1)) if sff > 0 else 1.0
        notes.append(f"judge weight λ = {lam:.2f} (tuned to minimise the variance)")
    est = float(y_bar + lam * (f_all - f_bar))
    e = yh - lam * fh
    e_bar = (w2 * e).sum() / w2.sum()
    v1 = float(((1.0 / ph) * (1.0 - pih) / pih ** 2 * ((yh - est) / n_hat) ** 2).sum())
    v2 = float((c * ((e - e_bar) / n_hat) ** 2).sum())
    se = (v1 + v2) ** 0.5
    z = float(norm.ppf(0.5 + level / 2))
    lo, hi = est - z * se, est + z * se
    if proportion:
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    return est, se, lo, hi, lam, notes


def queue_estimate(store: Store, queue_id: int, criterion: str, *,
                   judge_version: str | None = None, at_least: float | None = None,
                   label: str | None = None, level: float = 0.95, lam: float | None = None,
                   judges: str = "fit") -> PPIEstimate:
    """The PPI estimate over a queue's whole frame of ``criterion`` (its mean, the share
    ``at_least`` a threshold, or the share given ``label``), next to the human-only estimate
    (``goldenloop.estimation.estimate``). The judge version defaults to the one that graded
    most of the queue's items among those ``judges`` keeps ("fit": fit for use on the
    criterion, the default; "any"; "none")."""
    # The human side exactly as goldenloop.estimation reads it: the queue must be a probability
    # sample, the outcome is checked, and y is the reviewers' value per item.
    frame, q, proportion = estimation._frame(store, queue_id, criterion, at_least, label)
    mode, params, _ = estimation._outcome(rubrics.get(store, q["rubric_name"], q["rubric_version"]),
                                          criterion, at_least, label)
    version = judge_version or _default_version(store, queue_id, criterion, judges)
    judged = sql.queue_judge_values(store, queue_id, criterion, version, mode, params)
    df = frame.merge(judged, on="queue_item_id", how="inner")
    df = df[df["f"].notna()]
    human_na = (df["grades"] > 0) & df["y"].isna()
    df = df[~human_na]
    if df.empty:
        raise PPIError(f"judge {version} has no usable grade on queue {queue_id}")
    est, se, lo, hi, lam_used, notes = two_phase(
        df["f"].to_numpy(), df["y"].to_numpy(np.float64, na_value=np.nan),
        df["inclusion_prob"].to_numpy(), df["stratum"].to_numpy(), lam=lam, level=level,
        proportion=proportion)
    if human_na.any():
        notes.append(f"{int(human_na.sum())} items a reviewer marked not applicable were left out")
    try:  # estimation.estimate of the frame already read, rather than reading it again
        human = estimation._estimate(frame, q, proportion, level)
    except estimation.EstimationError:
        human = None
    w = 1.0 / df["inclusion_prob"].to_numpy()
    return PPIEstimate(est, se, lo, hi, level, lam_used, len(df), int(df["y"].notna().sum()),
                       float((w * df["f"].to_numpy()).sum() / w.sum()), human, version,
                       notes=notes)


def _default_version(store: Store, queue_id: int, criterion: str, judges: str) -> str:
    choice = fitness.choose(store, criterion, judges)
    if choice.versions == ():
        raise PPIError(f"no judge version of {criterion} is counted: {choice.describe()}")
    version = sql.queue_judge_version(store, queue_id, criterion,
                                            fitness.sql_versions(choice))
    if version is None:
        raise PPIError(f"no judge version counted for {criterion} has graded queue "
                       f"{queue_id}'s items: {choice.describe()}")
    return version


def measures(rubric: rubrics.Rubric):
    """The estimates a judge can improve: those of ``estimation.measures`` for criteria with
    one value per item."""
    return estimation.measures(rubric, single_valued=True)


def queue_estimates(store: Store, queue_id: int, level: float = 0.95,
                    judge_version: str | None = None, judges: str = "fit") -> pd.DataFrame:
    """One row per criterion measure that a judge graded on the queue: the PPI estimate and
    interval beside the human-only one, the judge alone, and the counts. Empty when no judge
    graded the queue or no reviewer graded a judged item yet. ``judge_version`` defaults, per
    criterion, to the version that graded most of the queue's items among those ``judges``
    keeps (by default, those fit for use on the criterion). Raises
    ``estimation.NonProbabilityQueue`` for a queue made by hand."""
    q = review_sql.queue(store, queue_id)
    rubric = rubrics.get(store, q["rubric_name"], q["rubric_version"])
    rows = []
    for name, what, kw in measures(rubric):
        try:
            e = queue_estimate(store, queue_id, name, level=level, judge_version=judge_version,
                               judges=judges, **kw)
        except PPIError:
            continue
        h = e.human_only
        rows.append({
            "criterion": name, "measure": what, "value": e.value, "ci_low": e.ci_low,
            "ci_high": e.ci_high, "human_value": h.value if h else None,
            "human_ci_low": h.ci_low if h else None, "human_ci_high": h.ci_high if h else None,
            "judge_mean": e.judge_mean, "n_judged": e.n_judged, "n_human": e.n_human,
            "lam": e.lam, "judge_version": e.judge_version})
    return pd.DataFrame(rows)


def _headline_measure(rubric: rubrics.Rubric):
    """The measure a dashboard shows first: the first criterion's share in the top levels (or
    its first measure)."""
    found = list(estimation.measures(rubric, single_valued=True))
    for name, what, kw in found:
        if name == found[0][0] and kw:
            return name, what, kw
    return found[0] if found else None


def traffic_estimates(store: Store, start=None, end=None, level: float = 0.95) -> pd.DataFrame:
    """Per review queue drawn by a design whose window overlaps [start, end): its headline
    measure over all traffic in its frame, from reviewers alone and, once a judge graded the
    queue, by PPI. One row per queue; queues made by hand or without usable grades are left
    out (they estimate nothing)."""
    rows = []
    for q in review_sql.probability_queues(store, start, end).itertuples():
        rubric = rubrics.get(store, q.rubric_name, q.rubric_version)
        head = _headline_measure(rubric)
        if head is None:
            continue
        name, what, kw = head
        try:
            human = estimation.estimate(store, q.queue_id, name, level=level, **kw)
        except estimation.EstimationError:
            continue
        row = {"queue_id": q.queue_id, "queue": q.name, "window_start": q.window_start,
               "window_end": q.window_end, "criterion": name, "measure": what,
               "human_value": human.value, "human_ci_low": human.ci_low,
               "human_ci_high": human.ci_high, "n_graded": human.n_in_domain,
               "value": None, "ci_low": None, "ci_high": None, "n_judged": None}
        try:
            e = queue_estimate(store, q.queue_id, name, level=level, **kw)
            row.update(value=e.value, ci_low=e.ci_low, ci_high=e.ci_high, n_judged=e.n_judged)
        except PPIError:
            pass
        rows.append(row)
    return pd.DataFrame(rows)
