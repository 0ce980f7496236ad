"""Pairwise judges in both answer orders: accuracy against the human preference in each
order, their mean, both orders right, agreement between the two orders, and Cohen's kappa
for each — read from the store, every figure with n and a bootstrap 95% interval.

A judge's two orders are two judge versions ``<prompt>/AB`` and ``<prompt>/BA`` (the
grades are in the stored pair's terms, whatever order the judge saw). A verdict that could
not be parsed is a category of its own (e.g. ``no verdict``): it is never right, and two of
them agree, as in LLMBar's published order agreement. The human preference of an item is
its reviewers' majority (one reviewer: their grade; ties left out).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement import sql as q
from goldenloop.agreement.api import criterion_scale
from goldenloop.agreement.multi import consensus
from goldenloop.agreement.nominal import ratio
from goldenloop.agreement.report import agreement_for
from goldenloop.store.store import Store

ORDER = re.compile(r"^(?P<prompt>.*)/(?P<order>AB|BA)$")
ACCURACY = ("accuracy_AB", "accuracy_BA", "accuracy_mean", "both_right", "order_agreement")
KAPPA = ("kappa_AB", "kappa_BA", "kappa_order")
FIGURES = ACCURACY + KAPPA


def split_version(version: str | None) -> tuple[str, str]:
    """(prompt, order) of a judge version; order '' when the version names none."""
    m = ORDER.match(version or "")
    return (m["prompt"], m["order"]) if m else (version or "", "")


def verdicts(store: Store, criterion: str, rubric_name: str | None = None,
             rubric_version: str | None = None) -> tuple[pd.DataFrame, object]:
    """One row per item and judge prompt: ``human``, ``AB`` and ``BA`` verdicts; and the scale."""
    scale, rn, rv = criterion_scale(store, criterion, rubric_name, rubric_version)
    g = q.live_grades(store, criterion, rubric_name=rn, rubric_version=rv)
    scale = scale.with_observed(g["value"])
    humans = g[g["side"] == "human"]
    human = consensus(scale, humans, min_humans=1)
    human = human[~human["tie"]][["item", "consensus"]].rename(columns={"consensus": "human"})
    judges = g[g["side"] == "judge"].copy()
    parts = judges["judge_version"].map(split_version)
    judges["prompt"] = parts.map(lambda p: p[0])
    judges["order"] = parts.map(lambda p: p[1] or "AB")
    wide = judges.pivot_table(index=["judge_name", "prompt", "item"], columns="order",
                              values="value", aggfunc="first").reset_index()
    wide.columns.name = None
    for o in ("AB", "BA"):
        if o not in wide:
            wide[o] = None
    return wide.merge(human, on="item", how="inner"), scale


def _accuracy_rows(part: pd.DataFrame, n_resamples: int, seed: int) -> dict:
    """Accuracy figures from per-item indicators, all on the same item resamples."""
    h, ab, ba = (part[c].to_numpy(dtype=object) for c in ("human", "AB", "BA"))
    has_ab, has_ba = pd.notna(ab), pd.notna(ba)
    rows = np.column_stack([
        has_ab, has_ba, has_ab & has_ba,
        has_ab & (ab == h), has_ba & (ba == h), has_ab & has_ba & (ab == h) & (ba == h),
        has_ab & has_ba & (ab == ba)]).astype(float)

    def finish(s: np.ndarray) -> dict[str, np.ndarray]:
        acc_ab, acc_ba = ratio(s[:, 3], s[:, 0]), ratio(s[:, 4], s[:, 1])
        return {"accuracy_AB": acc_ab, "accuracy_BA": acc_ba,
                "accuracy_mean": (acc_ab + acc_ba) / 2, "both_right": ratio(s[:, 5], s[:, 2]),
                "order_agreement": ratio(s[:, 6], s[:, 2])}

    res = bs.bootstrap(rows, finish, n_resamples=n_resamples, seed=seed)
    n = {"accuracy_AB": has_ab.sum(), "accuracy_BA": has_ba.sum()}
    counts = {"right_AB": int(rows[:, 3].sum()), "right_BA": int(rows[:, 4].sum()),
              "right_both": int(rows[:, 5].sum()), "same_verdict": int(rows[:, 6].sum())}
    return {"results": res, "n": n, "n_both": int(rows[:, 2].sum()), "counts": counts}


def order_report(store: Store, criterion: str = "preference", *, rubric_name: str | None = None,
                 rubric_version: str | None = None, n_resamples: int = bs.DEFAULT_RESAMPLES,
                 seed: int = bs.DEFAULT_SEED, level: float = bs.DEFAULT_LEVEL) -> pd.DataFrame:
    """One row per judge, prompt and figure (``FIGURES``): value, interval, n, and for
    accuracies the count of right items (as LLMBar states it: ``137 / 200``)."""
    wide, scale = verdicts(store, criterion, rubric_name, rubric_version)
    out = []
    for (judge, prompt), part in wide.groupby(["judge_name", "prompt"], sort=True):
        acc = _accuracy_rows(part, n_resamples, seed)
        counts = {"accuracy_AB": acc["counts"]["right_AB"], "accuracy_BA": acc["counts"]["right_BA"],
                  "both_right": acc["counts"]["right_both"],
                  "order_agreement": acc["counts"]["same_verdict"]}
        for name in ACCURACY:
            est, boot = acc["results"][name]
            n = int(acc["n"].get(name, acc["n_both"]))
            ci = bs.percentile_interval(est, boot, n, level)
            out.append({"judge_name": judge, "prompt": prompt, "figure": name, "value": est,
                        "ci_low": ci.low, "ci_high": ci.high, "n": n,
                        "count": counts.get(name), "note": ci.note})
        for name, (a, b) in zip(KAPPA, (("human", "AB"), ("human", "BA"), ("AB", "BA")),
                                strict=True):
            sub = part[part[a].notna() & part[b].notna()]
            row = agreement_for(scale, sub, human=a, judge=b, n_resamples=n_resamples, seed=seed,
                                level=level).set_index("statistic").loc["cohen_kappa"]
            out.append({"judge_name": judge, "prompt": prompt, "figure": name,
                        "value": row["value"], "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                        "n": int(row["n"]), "count": None, "note": row["note"]})
    return pd.DataFrame(out, columns=["judge_name", "prompt", "figure", "value", "ci_low",
                                      "ci_high", "n", "count", "note"])

