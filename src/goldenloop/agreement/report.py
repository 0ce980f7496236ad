"""Judge–human agreement for one criterion, with the statistics chosen by its value type.

``agreement_for`` takes a frame of pairs (one row per judge grade and human grade of the
same item) and returns tidy rows: one per statistic, with its value, bootstrap interval,
n (pairs), items, clusters and notes. ``confusion`` gives the confusion table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement import interval, nominal, ordinal
from goldenloop.agreement.scale import Scale

NOMINAL = ("percent_agreement", "cohen_kappa", "gwet_ac1", "krippendorff_alpha")
BOOLEAN = (*NOMINAL, "precision_fail", "recall_fail", "f1_fail")
ORDINAL = ("percent_agreement", "weighted_kappa_linear", "weighted_kappa_quadratic",
           "krippendorff_alpha", "spearman", "kendall_tau_b")
INTERVAL = ("pearson", "spearman", "kendall_tau_b", "mae", "bias", "krippendorff_alpha")
STATISTICS = {"nominal": NOMINAL, "boolean": BOOLEAN, "ordinal": ORDINAL, "interval": INTERVAL}

# Why a statistic can be undefined on non-empty data (its value is then NaN).
UNDEFINED = {
    "percent_agreement": "no pairs",
    "cohen_kappa": "chance agreement is 1: both sides used one and the same category",
    "weighted_kappa_linear": "chance agreement is 1: both sides used one and the same category",
    "weighted_kappa_quadratic": "chance agreement is 1: both sides used one and the same category",
    "gwet_ac1": "the scale has fewer than two categories",
    "krippendorff_alpha": "every grade has the same value",
    "precision_fail": "the judge never said fail",
    "recall_fail": "the human never said fail",
    "f1_fail": "neither side said fail",
    "spearman": "one side's grades do not vary",
    "kendall_tau_b": "one side's grades do not vary",
    "pearson": "one side's grades do not vary",
    "mae": "no pairs",
    "bias": "no pairs",
    "mean_pairwise_kappa": "no two reviewers share enough items",
    "mean_pairwise_kappa_quadratic": "no two reviewers share enough items",
    "mean_pairwise_pearson": "no two reviewers share enough items",
}
COLUMNS = ("statistic", "value", "ci_low", "ci_high", "n", "n_items", "n_clusters",
           "n_dropped", "degenerate", "note")


def table_stats(t: np.ndarray, value_type: str, positive: int | None = None
                ) -> dict[str, np.ndarray]:
    """Every categorical statistic of ``value_type`` from tables (..., K, K)."""
    out = {"percent_agreement": nominal.percent_agreement(t)}
    if value_type == "ordinal":
        out["weighted_kappa_linear"] = ordinal.weighted_kappa(t, "linear")
        out["weighted_kappa_quadratic"] = ordinal.weighted_kappa(t, "quadratic")
        out["krippendorff_alpha"] = ordinal.ordinal_alpha(t)
        out["spearman"] = ordinal.spearman(t)
        out["kendall_tau_b"] = ordinal.kendall_tau_b(t)
        return out
    out["cohen_kappa"] = nominal.cohen_kappa(t)
    out["gwet_ac1"] = nominal.gwet_ac1(t)
    out["krippendorff_alpha"] = nominal.pair_alpha(t, "nominal")
    if positive is not None:
        out.update({f"{k}_fail": v for k, v in nominal.class_scores(t, positive).items()})
    return out


def encode_pairs(pairs: pd.DataFrame, scale: Scale, human: str, judge: str
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(human values, judge values, mask of pairs where both are usable)."""
    h, j = scale.encode(pairs[human]), scale.encode(pairs[judge])
    return h, j, np.isfinite(h) & np.isfinite(j)


def resolve_scale(value_type: str | Scale, pairs: pd.DataFrame, human: str, judge: str) -> Scale:
    scale = value_type if isinstance(value_type, Scale) else Scale(value_type)
    return scale.with_observed(pairs[human], pairs[judge]) if len(pairs) else scale


def cluster_keys(pairs: pd.DataFrame, item: str, cluster: str | None) -> np.ndarray:
    """Integer key of the unit each row is resampled with: its cluster, or its own item when
    it has none (missing sessions must not merge every session-less item into one cluster)."""
    items = pd.factorize(pairs[item].to_numpy(dtype=object))[0]
    if not cluster:
        return items
    keys = pd.factorize(pairs[cluster].to_numpy(dtype=object))[0]  # -1 where missing
    return np.where(keys < 0, keys.max(initial=-1) + 1 + items, keys)


def agreement_for(value_type: str | Scale, pairs: pd.DataFrame, *, human: str = "human",
                  judge: str = "judge", item: str = "item", cluster: str | None = None,
                  n_resamples: int = bs.DEFAULT_RESAMPLES, seed: int = bs.DEFAULT_SEED,
                  level: float = bs.DEFAULT_LEVEL) -> pd.DataFrame:
    """Agreement between the ``judge`` and ``human`` columns of ``pairs``, one row per statistic.

    ``value_type`` is a value type name or a ``Scale`` (which fixes the categories and their
    order). Pairs with a missing or off-scale value on either side are dropped (counted in
    ``n_dropped``). Intervals resample ``cluster`` (e.g. the session) when given, else
    ``item``, so several grades of one item or turns of one conversation move together.
    """
    scale = resolve_scale(value_type, pairs, human, judge)
    h, j, ok = encode_pairs(pairs, scale, human, judge)
    clusters, g = bs.factorize(cluster_keys(pairs, item, cluster)[ok])
    n_items = int(pairs.loc[ok, item].nunique()) if len(pairs) else 0
    h, j = h[ok], j[ok]
    counts = {"n": int(ok.sum()), "n_items": n_items, "n_clusters": g,
              "n_dropped": int((~ok).sum())}
    names = STATISTICS[scale.value_type]
    if not ok.any():
        return result_rows({k: (np.nan, np.array([])) for k in names}, names, counts, level)
    if scale.categorical:
        k = scale.k
        positive = scale.categories.index("fail") if scale.value_type == "boolean" else None
        sums = bs.cluster_counts(clusters, g, (h * k + j).astype(np.int64), k * k)
        results = bs.bootstrap(
            sums, lambda s: table_stats(s.reshape(-1, k, k), scale.value_type, positive),
            n_resamples=n_resamples, seed=seed)
    else:
        sums = bs.cluster_sums(clusters, g, interval.moment_rows(h, j))
        results = bs.bootstrap(sums, interval.moment_stats, n_resamples=n_resamples, seed=seed)
        results |= interval.rank_stats(h, j, clusters, g, n_resamples=n_resamples, seed=seed)
    return result_rows(results, names, counts, level)


def result_rows(results: dict[str, tuple[float, np.ndarray]], names: Sequence[str],
                counts: dict[str, int], level: float = bs.DEFAULT_LEVEL) -> pd.DataFrame:
    """Tidy rows in ``names`` order, with intervals and the reason for any NaN."""
    rows = []
    for name in names:
        est, boot = results[name]
        ci = bs.percentile_interval(est, boot, counts["n_clusters"], level)
        note = ci.note
        if not np.isfinite(est):
            note = "no pairs" if counts["n"] == 0 else f"undefined: {UNDEFINED.get(name, '')}"
        rows.append({"statistic": name, "value": est, "ci_low": ci.low, "ci_high": ci.high,
                     **counts, "degenerate": ci.degenerate, "note": note})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def confusion(value_type: str | Scale, pairs: pd.DataFrame, *, human: str = "human",
              judge: str = "judge") -> pd.DataFrame:
    """Counts of (human category, judge category): rows human, columns judge, every category
    of the scale shown, unused ones as zeros. Interval scales have no confusion table."""
    scale = resolve_scale(value_type, pairs, human, judge)
    if not scale.categorical:
        raise ValueError("interval criteria have no confusion table")
    h, j, ok = encode_pairs(pairs, scale, human, judge)
    k = scale.k
    counts = np.bincount((h[ok] * k + j[ok]).astype(np.int64), minlength=k * k).reshape(k, k)
    names = list(scale.categories or ())
    return pd.DataFrame(counts, index=pd.Index(names, name="human"),
                        columns=pd.Index(names, name="judge"))
