"""The gate: is a judge version fit for use on a criterion?

A judge version passes only when the *lower end* of the bootstrap interval of its kappa
(Cohen's for nominal and boolean criteria, weighted for ordinal ones; Krippendorff's alpha
for interval criteria, which have no kappa) reaches a chosen value, on at least a chosen
number of graded items. The lower end, not the estimate: a judge that agrees well on 20
items has not shown that it agrees well. Items, not pairs: two reviewers' grades of one
item are not two independent pieces of evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from goldenloop.agreement.scale import AgreementError

# Statistics a gate may use per value type; the first is the default.
GATE_STATISTICS = {
    "nominal": ("cohen_kappa", "gwet_ac1", "krippendorff_alpha"),
    "boolean": ("cohen_kappa", "gwet_ac1", "krippendorff_alpha"),
    "ordinal": ("weighted_kappa_linear", "weighted_kappa_quadratic", "krippendorff_alpha"),
    "interval": ("krippendorff_alpha", "pearson"),
}
LABELS = {
    "percent_agreement": "percent agreement",
    "cohen_kappa": "Cohen's kappa",
    "gwet_ac1": "Gwet's AC1",
    "krippendorff_alpha": "Krippendorff's alpha",
    "weighted_kappa_linear": "linear-weighted kappa",
    "weighted_kappa_quadratic": "quadratic-weighted kappa",
    "spearman": "Spearman's rho",
    "kendall_tau_b": "Kendall's tau-b",
    "pearson": "Pearson's r",
    "mae": "mean absolute error",
    "bias": "bias (judge minus human)",
    "precision_fail": "precision on fail",
    "recall_fail": "recall on fail",
    "f1_fail": "F1 on fail",
    "mean_pairwise_kappa": "mean pairwise kappa",
    "mean_pairwise_kappa_quadratic": "mean pairwise quadratic kappa",
    "mean_pairwise_pearson": "mean pairwise Pearson's r",
}
# The human–human figure that bounds each judge–human one: the same coefficient computed
# between reviewers.
CEILING = {
    "krippendorff_alpha": "krippendorff_alpha",
    "cohen_kappa": "mean_pairwise_kappa",
    "weighted_kappa_quadratic": "mean_pairwise_kappa_quadratic",
    "pearson": "mean_pairwise_pearson",
}
DEFAULT_MIN_LOWER = 0.6   # "substantial" agreement on the Landis–Koch reading of kappa
DEFAULT_MIN_ITEMS = 50


@dataclass(frozen=True)
class GateRule:
    """Pass when the interval's lower end >= ``min_lower`` on >= ``min_items`` items."""

    statistic: str
    min_lower: float = DEFAULT_MIN_LOWER
    min_items: int = DEFAULT_MIN_ITEMS

    def describe(self) -> str:
        return (f"lower end of the 95% interval of {label(self.statistic)} at least "
                f"{self.min_lower:.2f}, on at least {self.min_items} items")


def label(statistic: str) -> str:
    return LABELS.get(statistic, statistic.replace("_", " "))


def ceiling(humans: pd.DataFrame, statistic: str) -> pd.Series | None:
    """The reviewers' own row for ``statistic`` (``human_agreement`` output), if defined."""
    name = CEILING.get(statistic)
    hit = humans[humans["statistic"] == name] if name else humans.iloc[:0]
    if hit.empty or not np.isfinite(hit.iloc[0]["value"]):
        return None
    return hit.iloc[0]


def default_rule(value_type: str) -> GateRule:
    return GateRule(gate_statistics(value_type)[0])


def gate_statistics(value_type: str) -> tuple[str, ...]:
    if value_type not in GATE_STATISTICS:
        raise AgreementError(f"no gate for value type {value_type!r}")
    return GATE_STATISTICS[value_type]


def verdict(row: pd.Series | dict | None, rule: GateRule) -> tuple[bool, str]:
    """(fit for use, why) for one statistic row (``agreement_for`` columns)."""
    if row is None:
        return False, "no pairs of judge and human grades"
    value, low, items = row["value"], row["ci_low"], int(row["n_items"])
    if not np.isfinite(value):
        return False, f"{label(rule.statistic)} is undefined here ({row['note']})"
    if items < rule.min_items:
        return False, f"only {items} graded items; the gate needs {rule.min_items}"
    if not np.isfinite(low):
        return False, f"no interval ({row['note']})"
    if low < rule.min_lower:
        return False, (f"the interval reaches down to {low:.2f}, below the required "
                       f"{rule.min_lower:.2f}")
    return True, f"the interval's lower end {low:.2f} reaches {rule.min_lower:.2f}"


def gate(judges: pd.DataFrame, rule: GateRule, comparison: str = "each human") -> pd.DataFrame:
    """One row per judge version of ``judges`` (``criterion_agreement``-style rows): the gate
    statistic with its interval and counts, ``fit`` and ``reason``."""
    cols = ["judge_name", "judge_version", "statistic", "value", "ci_low", "ci_high", "n",
            "n_items", "fit", "reason"]
    if judges.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (name, version), part in judges.groupby(["judge_name", "judge_version"], sort=True,
                                                dropna=False):
        hit = part[(part["statistic"] == rule.statistic) & (part["comparison"] == comparison)]
        row = hit.iloc[0] if len(hit) else None
        fit, reason = verdict(row, rule)
        nan = float("nan")
        rows.append({"judge_name": name, "judge_version": version, "statistic": rule.statistic,
                     "value": nan if row is None else row["value"],
                     "ci_low": nan if row is None else row["ci_low"],
                     "ci_high": nan if row is None else row["ci_high"],
                     "n": 0 if row is None else int(row["n"]),
                     "n_items": 0 if row is None else int(row["n_items"]),
                     "fit": fit, "reason": reason})
    return pd.DataFrame(rows, columns=cols)
