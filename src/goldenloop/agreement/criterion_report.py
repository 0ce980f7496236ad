"""Everything the Agreement page draws, for one criterion and one choice of slices, in one
call (so the app caches one aggregate per choice).

The slices a lead chooses — judge versions, model versions, apps, reviewers and a time
window — filter the judge–human pairs and the human grades alike, so the human–human
ceiling is always measured on the same part of the traffic as the judge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement import sql as q
from goldenloop.agreement.api import criterion_scale
from goldenloop.agreement.by_group import statistic_by
from goldenloop.agreement.disagreements import disagreements, with_notes
from goldenloop.agreement.gate import GateRule, gate
from goldenloop.agreement.heterogeneity import heterogeneity
from goldenloop.agreement.multi import human_agreement, judge_vs_consensus
from goldenloop.agreement.over_time import agreement_over_time, pair_times
from goldenloop.agreement.report import COLUMNS, agreement_for, confusion
from goldenloop.agreement.scale import Scale
from goldenloop.agreement.slices import (
    JUDGE_KEYS,
    SMALL_SLICE,
    metadata_keys,
    slice_values,
)
from goldenloop.agreement.versions import side_by_side
from goldenloop.store.store import Store

SLICE_BY = ("model_version", "app", "reviewer", "time")


@dataclass(frozen=True)
class PageFilter:
    """One criterion and the slices chosen; an empty tuple means "all"."""

    criterion: str
    rubric_name: str | None = None
    rubric_version: str | None = None
    judges: tuple[tuple[str, str], ...] = ()
    model_versions: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    start: datetime | None = None   # inclusive
    end: datetime | None = None     # exclusive


@dataclass(frozen=True)
class PageQuery:
    filter: PageFilter
    rule: GateRule
    slice_by: str = "model_version"
    tolerance: float = 0.0          # interval criteria: a larger gap is a disagreement
    n_resamples: int = bs.DEFAULT_RESAMPLES
    seed: int = bs.DEFAULT_SEED


@dataclass
class Choices:
    """What the filters of one criterion can offer."""

    judges: list[tuple[str, str]]
    model_versions: list[str]
    apps: list[str]
    reviewers: list[str]
    first: datetime | None
    last: datetime | None
    metadata: list[str] = field(default_factory=list)  # "meta:KEY" slices of the items


@dataclass
class AgreementPage:
    query: PageQuery
    scale: Scale
    n_pairs: int
    judges: pd.DataFrame                     # every statistic per judge version and comparison
    humans: pd.DataFrame                     # the human–human ceiling
    verdicts: pd.DataFrame                   # the gate, per judge version
    confusion: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    over_time: pd.DataFrame = field(default_factory=pd.DataFrame)
    slices: pd.DataFrame = field(default_factory=pd.DataFrame)
    versions: pd.DataFrame = field(default_factory=pd.DataFrame)
    disagreements: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.n_pairs == 0


def criteria(store: Store) -> pd.DataFrame:
    """Criteria with both human and judge grades (text criteria have no agreement)."""
    df = q.graded_criteria(store)
    return df[df["value_type"] != "text"].reset_index(drop=True)


def choices(store: Store, criterion: str, rubric_name: str | None = None,
            rubric_version: str | None = None) -> Choices:
    pairs = q.judge_human_pairs(store, criterion, rubric_name=rubric_name,
                                rubric_version=rubric_version)
    when = pair_times(pairs).dropna()

    def values(col: str) -> list[str]:
        return sorted(str(v) for v in pairs[col].dropna().unique())

    judges = sorted({(str(a), str(b)) for a, b in zip(pairs["judge_name"], pairs["judge_version"],
                                                       strict=True)})
    return Choices(judges, values("model_version"), values("app"), values("reviewer"),
                   when.min().to_pydatetime() if len(when) else None,
                   when.max().to_pydatetime() if len(when) else None, metadata_keys(pairs))


def load(store: Store, f: PageFilter) -> tuple[Scale, pd.DataFrame, pd.DataFrame]:
    """(scale, judge–human pairs, human grades) of ``f``'s criterion within its slices."""
    scale, rn, rv = criterion_scale(store, f.criterion, f.rubric_name, f.rubric_version)
    pairs = q.judge_human_pairs(store, f.criterion, rubric_name=rn, rubric_version=rv)
    humans = q.live_grades(store, f.criterion, rubric_name=rn, rubric_version=rv)
    humans = humans[humans["side"] == "human"].rename(columns={"author_id": "reviewer"})
    pairs = pairs[_keep(pairs, f, pair_times(pairs))]
    if f.judges:
        chosen = pd.MultiIndex.from_tuples(list(f.judges))
        pairs = pairs[pd.MultiIndex.from_frame(pairs[list(JUDGE_KEYS)]).isin(chosen)]
    humans = humans[_keep(humans, f, pd.to_datetime(humans["start_time"])
                          .fillna(pd.to_datetime(humans["created_at"])))]
    scale = scale.with_observed(pairs["human"], pairs["judge"], humans["value"])
    # Grades take a handful of values: as categoricals, every per-value step of the
    # statistics (reading labels, encoding) runs once per distinct value, not once per row.
    pairs = pairs.astype({"human": "category", "judge": "category"})
    humans = humans.astype({"value": "category"})
    return scale, pairs.reset_index(drop=True), humans.reset_index(drop=True)


def _keep(df: pd.DataFrame, f: PageFilter, when: pd.Series) -> np.ndarray:
    keep = np.ones(len(df), dtype=bool)
    for col, chosen in (("model_version", f.model_versions), ("app", f.apps),
                        ("reviewer", f.reviewers)):
        if chosen:
            keep &= df[col].isin(chosen).to_numpy()
    if f.start is not None:
        keep &= (when >= pd.Timestamp(f.start)).to_numpy()
    if f.end is not None:
        keep &= (when < pd.Timestamp(f.end)).to_numpy()
    return keep


def agreement_page(store: Store, query: PageQuery) -> AgreementPage:
    """Figures, ceiling, gate, confusion tables, agreement over time, slices and judge
    versions side by side, for ``query``."""
    scale, pairs, humans = load(store, query.filter)
    boot = {"n_resamples": query.n_resamples, "seed": query.seed}
    rule = query.rule
    judges, tables, counts = [], {}, {}
    for key, part in pairs.groupby(list(JUDGE_KEYS), sort=True):
        each = agreement_for(scale, part, cluster="cluster", **boot)
        cons = judge_vs_consensus(scale, part, cluster="cluster", **boot)
        for name, rows in (("each human", each), ("consensus", cons)):
            judges.append(rows.assign(judge_name=key[0], judge_version=key[1], comparison=name))
        if scale.categorical:
            tables[key] = confusion(scale, part)
        counts[key] = len(disagreements(scale, part, tolerance=query.tolerance))
    lead = [*JUDGE_KEYS, "comparison"]
    judges_df = (pd.concat(judges, ignore_index=True)[lead + list(COLUMNS)] if judges
                 else pd.DataFrame(columns=[*lead, *COLUMNS]))
    ceiling = human_agreement(scale, humans, cluster="cluster", **boot)
    return AgreementPage(
        query=query, scale=scale, n_pairs=len(pairs), judges=judges_df, humans=ceiling,
        verdicts=gate(judges_df, rule), confusion=tables,
        over_time=agreement_over_time(scale, pairs, rule.statistic, **boot),
        slices=slices(scale, pairs, query.slice_by, rule.statistic, **boot),
        versions=side_by_side(scale, pairs, oldest_first(pairs), rule.statistic, **boot),
        disagreements=counts)


def slices(scale: Scale, pairs: pd.DataFrame, by: str, statistic: str, *, window: str = "7D",
           **boot) -> pd.DataFrame:
    """``statistic`` per judge version and slice of ``by`` (``slices.DIMENSIONS`` or
    ``meta:KEY``), every slice shown and the small ones marked: the columns of
    ``slices.slice_agreement``."""
    df = pairs.assign(slice_value=slice_values(pairs, by, window))
    out = statistic_by(scale, df, [*JUDGE_KEYS, "slice_value"], statistic, **boot)
    return out.assign(slice=by)


def across_slices(store: Store, f: PageFilter, judge: tuple[str, str], by: str,
                  statistic: str, n_resamples: int = bs.DEFAULT_RESAMPLES,
                  seed: int = bs.DEFAULT_SEED) -> pd.DataFrame:
    """One judge version across the slices of ``by``, each against the rest, with the
    heterogeneity check's p, q and flag (``heterogeneity.heterogeneity``)."""
    scale, pairs, _ = load(store, f)
    part = pairs[(pairs["judge_name"] == judge[0]) & (pairs["judge_version"] == judge[1])]
    return heterogeneity(scale, part.reset_index(drop=True), by, statistic=statistic,
                         n_resamples=n_resamples, seed=seed)


def oldest_first(pairs: pd.DataFrame) -> list[tuple[str, str]]:
    """Judge versions by their first grade: the oldest is the baseline the others are
    compared with."""
    if pairs.empty:
        return []
    first = pairs.groupby(list(JUDGE_KEYS), sort=True)["judge_created_at"].min()
    return [tuple(k) for k in first.sort_values(kind="stable").index]


def disagreement_list(store: Store, f: PageFilter, judge: tuple[str, str],
                      cell: tuple[str, str] | None = None, tolerance: float = 0.0
                      ) -> pd.DataFrame:
    """The pairs of one judge version that disagree (or fall in confusion-matrix ``cell``),
    with both grades, the judge's reason, the reviewer's comment, the question and answer;
    ``target_type`` and ``span_key`` kept for making an adjudication queue."""
    scale, pairs, _ = load(store, f)
    part = pairs[(pairs["judge_name"] == judge[0]) & (pairs["judge_version"] == judge[1])]
    rows = disagreements(scale, part, cell=cell, tolerance=tolerance)
    listed = with_notes(store, rows)
    listed.insert(1, "target_type", rows["target_type"].to_numpy())
    return listed


__all__ = ["SLICE_BY", "SMALL_SLICE", "AgreementPage", "Choices", "PageFilter", "PageQuery",
           "agreement_page", "choices", "criteria", "disagreement_list", "load"]
