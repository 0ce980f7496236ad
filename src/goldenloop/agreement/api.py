"""Agreement read from the store in one call: what the Agreement page and the CLI use.

``criterion_agreement`` gives, for one criterion, every judge version against each human
grade and against the human consensus, the human–human ceiling, the confusion tables and
the pairs themselves (for slicing and drill-down). ``overview`` gives the headline figure
(Krippendorff's alpha, defined for every value type) of every graded criterion and judge
version next to the human–human alpha.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement import sql as q
from goldenloop.agreement.multi import human_agreement, judge_vs_consensus
from goldenloop.agreement.report import COLUMNS, agreement_for, confusion
from goldenloop.agreement.scale import AgreementError, Scale
from goldenloop.agreement.slices import JUDGE_KEYS, SMALL_SLICE, slice_agreement
from goldenloop.store.store import Store

HEADLINE = "krippendorff_alpha"


@dataclass
class CriterionAgreement:
    criterion: str
    rubric_name: str | None
    rubric_version: str | None
    scale: Scale
    judges: pd.DataFrame  # judge keys, comparison ('each human' | 'consensus'), statistic rows
    humans: pd.DataFrame  # human–human rows: the ceiling
    confusion: dict[tuple, pd.DataFrame] = field(default_factory=dict)
    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    boot: dict = field(default_factory=dict)

    def slices(self, by: str, **kwargs) -> pd.DataFrame:
        """Agreement per slice of ``by`` (judge_version, model_version, app, reviewer, time)."""
        return slice_agreement(self.scale, self.pairs, by, **(self.boot | kwargs))


def criterion_scale(store: Store, criterion: str, rubric_name: str | None,
                    rubric_version: str | None) -> tuple[Scale, str | None, str | None]:
    """The criterion's scale and the rubric (name, version) it comes from.

    With no version named, the scale is that of the rubric's latest version, and the version
    returned is None when several versions are stored (their grades meet when their scales
    match: ``agreement.sql``); with one version stored, it is that version."""
    rows = q.criterion_rows(store, criterion, rubric_name, rubric_version)
    if rows.empty:
        raise AgreementError(f"criterion {criterion!r} is not defined in any rubric"
                             + (f" {rubric_name}/{rubric_version}" if rubric_name else "")
                             + ": agreement needs its value type")
    names = rows["rubric_name"].drop_duplicates()
    if len(names) > 1:
        found = ", ".join(str(n) for n in names)
        raise AgreementError(f"criterion {criterion!r} is defined in several rubrics "
                             f"({found}): name one")
    row = rows.iloc[0].to_dict()  # the latest version (criterion_rows orders them)
    if len(rows) > 1:
        row["rubric_version"] = None
    if row["value_type"] == "text":
        raise AgreementError(f"criterion {criterion!r} is free text: it has no agreement "
                             "statistics")
    return Scale.from_criterion(row), row["rubric_name"], row["rubric_version"]


def criterion_agreement(store: Store, criterion: str, *, rubric_name: str | None = None,
                        rubric_version: str | None = None, min_humans: int = 2,
                        n_resamples: int = bs.DEFAULT_RESAMPLES, seed: int = bs.DEFAULT_SEED,
                        level: float = bs.DEFAULT_LEVEL) -> CriterionAgreement:
    """Everything the Agreement page shows for one criterion."""
    scale, rn, rv = criterion_scale(store, criterion, rubric_name, rubric_version)
    pairs = q.judge_human_pairs(store, criterion, rubric_name=rn, rubric_version=rv)
    humans = q.live_grades(store, criterion, rubric_name=rn, rubric_version=rv)
    humans = humans[humans["side"] == "human"].rename(columns={"author_id": "reviewer"})
    scale = scale.with_observed(pairs["human"], pairs["judge"], humans["value"])
    boot = {"n_resamples": n_resamples, "seed": seed, "level": level}
    judges, tables = [], {}
    for key, part in pairs.groupby(list(JUDGE_KEYS), dropna=False, sort=True):
        each = agreement_for(scale, part, cluster="cluster", **boot)
        cons = judge_vs_consensus(scale, part, cluster="cluster", min_humans=min_humans, **boot)
        for name, rows in (("each human", each), ("consensus", cons)):
            judges.append(rows.assign(judge_name=key[0], judge_version=key[1], comparison=name))
        if scale.categorical:
            tables[key] = confusion(scale, part)
    lead = [*JUDGE_KEYS, "comparison"]
    judges_df = (pd.concat(judges, ignore_index=True) if judges
                 else pd.DataFrame(columns=[*lead, *COLUMNS]))
    judges_df = judges_df[lead + list(COLUMNS)]
    ceiling = human_agreement(scale, humans, cluster="cluster", **boot)
    return CriterionAgreement(criterion, rn, rv, scale, judges_df, ceiling, tables, pairs,
                              {"n_resamples": n_resamples, "seed": seed, "level": level})


def overview(store: Store, *, n_resamples: int = bs.DEFAULT_RESAMPLES,
             seed: int = bs.DEFAULT_SEED) -> pd.DataFrame:
    """Per graded criterion and judge version: judge–human alpha beside human–human alpha."""
    rows = []
    for c in q.graded_criteria(store).itertuples():
        res = criterion_agreement(store, c.criterion, rubric_name=c.rubric_name,
                                  rubric_version=c.rubric_version, n_resamples=n_resamples,
                                  seed=seed)
        human = res.humans[res.humans["statistic"] == HEADLINE].iloc[0]
        judge = res.judges[(res.judges["statistic"] == HEADLINE)
                           & (res.judges["comparison"] == "each human")]
        for r in judge.itertuples():
            rows.append({
                "rubric_name": c.rubric_name, "rubric_version": c.rubric_version,
                "criterion": c.criterion, "value_type": c.value_type,
                "judge_name": r.judge_name, "judge_version": r.judge_version,
                "judge_alpha": r.value, "judge_ci_low": r.ci_low, "judge_ci_high": r.ci_high,
                "n": r.n, "n_clusters": r.n_clusters, "small": r.n_clusters < SMALL_SLICE,
                "human_alpha": human["value"], "human_ci_low": human["ci_low"],
                "human_ci_high": human["ci_high"], "human_n_items": human["n_items"],
            })
    return pd.DataFrame(rows)
