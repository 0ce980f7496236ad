"""Which judge versions count in production quality figures.

Wherever judge grades feed a figure (Monitor correctness, Compare versions, estimates with
PPI, the golden set's "judge agrees", risk-raised sampling) the figure uses, by default, only
the judge versions that pass the agreement gate for that criterion: the default rule of the
criterion's value type (``gate.default_rule``), measured against each reviewer's grades, as
the Agreement page shows it with its default settings. A version with judge grades but no
human grades on the same targets is "not yet checked": shown apart, counted only when a lead
chooses it. A lead may instead count every version ("any"), none ("none"), or a chosen list.
A lead may also name one version per criterion for production figures (``judge.
use_in_production``): while it passes the gate, the default counts it alone ("preferred");
once it fails, every fit version counts again.

Judge versions are named by ``judge_version``; a judge imported without a version is named
``NO_VERSION``, here, on the Agreement page and in the SQL filters that take the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement import sql as q
from goldenloop.agreement.api import criterion_scale
from goldenloop.agreement.gate import default_rule, verdict
from goldenloop.agreement.report import agreement_for
from goldenloop.agreement.scale import AgreementError
from goldenloop.errors import GoldenloopError
from goldenloop.store.store import Store

FIT, NOT_FIT, UNCHECKED = "fit", "not fit", "not yet checked"
NO_VERSION = q.NO_VERSION  # how a judge imported without a version is named
MODES = ("fit", "any", "none")
STATUS_COLUMNS = ["judge_name", "judge_version", "grades", "status", "reason", "statistic",
                  "value", "ci_low", "n_items"]


class JudgeChoiceError(GoldenloopError):
    """A judge choice that cannot be made (an unknown mode)."""


@dataclass(frozen=True)
class JudgeChoice:
    """The judge versions a figure counts, and why."""

    criterion: str
    mode: str                              # fit, any, none, chosen, or preferred
    versions: tuple[str, ...] | None       # None: every version (mode "any")
    table: pd.DataFrame                    # STATUS_COLUMNS, one row per judge version

    @property
    def counted(self) -> list[str]:
        """The versions whose grades the figure uses, as shown to a lead."""
        every = self.table["judge_version"].tolist()
        kept = every if self.versions is None else [v for v in every if v in self.versions]
        return kept

    def describe(self) -> str:
        """One plain sentence: which judge versions count and which are left out."""
        if self.table.empty:
            return f"No judge has graded {self.criterion}."
        counted = self.counted
        rule = {"fit": "versions that pass the agreement gate", "any": "every judge version",
                "none": "no judge version", "chosen": "the versions chosen",
                "preferred": "the version a lead chose for production, which passes the "
                             "agreement gate"}[self.mode]
        head = (f"Judge grades of {self.criterion} counted: {', '.join(counted)} ({rule})."
                if counted else f"No judge grades of {self.criterion} are counted ({rule}).")
        out = self.table[~self.table["judge_version"].isin(
            self.table["judge_version"] if self.versions is None else self.versions)]
        if out.empty:
            return head
        left = "; ".join(f"{v} ({s})"
                         for v, s in zip(out["judge_version"], out["status"], strict=True))
        return f"{head} Left out: {left}."


def judge_status(store: Store, criterion: str, *, n_resamples: int = bs.DEFAULT_RESAMPLES,
                 seed: int = bs.DEFAULT_SEED) -> pd.DataFrame:
    """Every judge version with live grades of ``criterion``: fit, not fit or not yet checked,
    with the gate statistic, its interval's lower end and the items it rests on."""
    versions = q.judge_versions_of(store, criterion)
    if versions.empty:
        return pd.DataFrame(columns=STATUS_COLUMNS)
    rows = {v: {"status": UNCHECKED, "reason": "no human grades of the same targets",
                "statistic": None, "value": float("nan"), "ci_low": float("nan"), "n_items": 0}
            for v in versions["judge_version"]}
    # Each version is measured under the rubric its grades were made under: a criterion name
    # several rubrics define is several criteria.
    for rubric, group in versions.groupby(versions["rubric_name"].fillna(""), sort=True):
        _gate_rubric(store, criterion, rubric or None, set(group["judge_version"]), rows,
                     n_resamples, seed)
    return _status_frame(versions, rows)


def _gate_rubric(store: Store, criterion: str, rubric: str | None, mine: set[str],
                 rows: dict[str, dict], n_resamples: int, seed: int) -> None:
    """Fill ``rows`` of the versions ``mine`` from their pairs with reviewers under
    ``rubric``."""
    try:
        scale, rn, rv = criterion_scale(store, criterion, rubric, None)
    except AgreementError as e:
        for v in mine:
            rows[v]["reason"] = f"agreement cannot be measured: {e}"
        return
    rule = default_rule(scale.value_type)
    pairs = q.judge_human_pairs(store, criterion, rubric_name=rn, rubric_version=rv)
    pairs = pairs[pairs["judge_version"].isin(mine)]
    for version, part in pairs.groupby("judge_version", sort=True):
        stats = agreement_for(scale, part, cluster="cluster", n_resamples=n_resamples, seed=seed)
        hit = stats[stats["statistic"] == rule.statistic]
        row = hit.iloc[0] if len(hit) else None
        fit, reason = verdict(row, rule)
        rows[version] = {"status": FIT if fit else NOT_FIT, "reason": reason,
                         "statistic": rule.statistic,
                         "value": float("nan") if row is None else float(row["value"]),
                         "ci_low": float("nan") if row is None else float(row["ci_low"]),
                         "n_items": 0 if row is None else int(row["n_items"])}


def _status_frame(versions: pd.DataFrame, rows: dict[str, dict]) -> pd.DataFrame:
    out = versions.assign(**{k: [rows[v][k] for v in versions["judge_version"]]
                             for k in STATUS_COLUMNS[3:]})
    return out[STATUS_COLUMNS].reset_index(drop=True)


def all_status(store: Store) -> pd.DataFrame:
    """``judge_status`` of every criterion with judge grades, with a ``criterion`` column."""
    parts = [judge_status(store, c).assign(criterion=c) for c in q.judged_criteria(store)]
    cols = ["criterion", *STATUS_COLUMNS]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def choose(store: Store, criterion: str, mode: str = "fit", chosen: Sequence[str] = (), *,
           n_resamples: int = bs.DEFAULT_RESAMPLES, seed: int = bs.DEFAULT_SEED) -> JudgeChoice:
    """The judge versions a figure of ``criterion`` counts: those passing the gate ("fit",
    the default), every one ("any"), none ("none"), or ``chosen`` when it names any."""
    if mode not in MODES:
        raise JudgeChoiceError(f"judges must be one of {', '.join(MODES)}, not {mode!r}")
    table = judge_status(store, criterion, n_resamples=n_resamples, seed=seed)
    if chosen:
        return JudgeChoice(criterion, "chosen", tuple(sorted(set(chosen))), table)
    if mode == "any":
        return JudgeChoice(criterion, mode, None, table)
    if mode == "none":
        return JudgeChoice(criterion, mode, (), table)
    fit = table.loc[table["status"] == FIT, "judge_version"]
    preferred = _production_version(store, criterion)
    if preferred is not None and preferred in set(fit):  # a lead's choice, while it stays fit
        return JudgeChoice(criterion, "preferred", (preferred,), table)
    return JudgeChoice(criterion, mode, tuple(sorted(fit)), table)


def _production_version(store: Store, criterion: str) -> str | None:
    """The version a lead chose for production figures of ``criterion`` (judge.edit); an
    unreadable choice file counts every fit version (the Judges page shows the file's error)."""
    from goldenloop.judge.config import JudgeError
    from goldenloop.judge.edit import production_versions  # the judge package is heavy

    try:
        return production_versions(store).get(criterion)
    except JudgeError:
        return None


def counted_keys(store: Store, mode: str = "fit") -> list[str] | None:
    """Every criterion's counted judge versions as ``criterion|version`` keys (None: every
    version counts): what sampling's risk signals take, since they read every criterion."""
    if mode == "any":
        return None
    if mode == "none":
        return []
    return [f"{c}|{v}" for c in q.judged_criteria(store)
            for v in choose(store, c, mode).versions or ()]


def sql_versions(choice: JudgeChoice | None) -> list[str] | None:
    """The list the store's SQL filters take: None counts every version."""
    return None if choice is None or choice.versions is None else list(choice.versions)
