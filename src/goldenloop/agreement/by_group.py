"""One statistic per group of pairs (time window, model version, app, reviewer), fast.

``slices.slice_agreement`` computes every statistic of the value type for each slice,
re-reading the grades' labels each time; the page needs one statistic for dozens of windows
and slices of up to tens of thousands of pairs. Here the grades are encoded once, and each
group only sums its clusters' confusion counts (or moments) and resamples them. Same
clusters, same seed, same resamples: the figures equal ``slice_agreement``'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement import interval, nominal, ordinal
from goldenloop.agreement.report import COLUMNS, cluster_keys, result_rows, table_stats
from goldenloop.agreement.scale import Scale
from goldenloop.agreement.slices import SMALL_SLICE

MOMENT_STATISTICS = ("pearson", "mae", "bias", "krippendorff_alpha")


def statistic_by(scale: Scale, pairs: pd.DataFrame, by: Sequence[str], statistic: str, *,
                 small: int = SMALL_SLICE, n_resamples: int = bs.DEFAULT_RESAMPLES,
                 seed: int = bs.DEFAULT_SEED, level: float = bs.DEFAULT_LEVEL) -> pd.DataFrame:
    """``statistic`` with its interval and counts for each group of ``by`` (missing values
    form their own group), plus ``small`` (fewer than ``small`` clusters)."""
    if not scale.categorical and statistic not in MOMENT_STATISTICS:
        raise ValueError(f"{statistic} is not computed per group for interval criteria")
    by = list(by)
    if pairs.empty:
        return pd.DataFrame(columns=[*by, *COLUMNS, "small"])
    h, j = scale.encode(pairs["human"]), scale.encode(pairs["judge"])
    ok = np.isfinite(h) & np.isfinite(j)
    clusters = cluster_keys(pairs, "item", "cluster")
    items = pd.factorize(pairs["item"].to_numpy(dtype=object))[0]
    finish = finisher(scale, statistic)
    frames = []
    for values, idx in pairs.groupby(by, dropna=False, sort=True).indices.items():
        use = idx[ok[idx]]
        codes, g = bs.factorize(clusters[use])
        counts = {"n": len(use), "n_items": len(np.unique(items[use])), "n_clusters": g,
                  "n_dropped": len(idx) - len(use)}
        if len(use) == 0:
            res = {statistic: (np.nan, np.array([]))}
        elif scale.categorical:
            k = scale.k
            sums = bs.cluster_counts(codes, g, (h[use] * k + j[use]).astype(np.int64), k * k)
            res = bs.bootstrap(sums, finish, n_resamples=n_resamples, seed=seed)
        else:
            sums = bs.cluster_sums(codes, g, interval.moment_rows(h[use], j[use]))
            res = bs.bootstrap(sums, finish, n_resamples=n_resamples, seed=seed)
        key = values if isinstance(values, tuple) else (values,)
        frames.append(result_rows(res, [statistic], counts, level).assign(
            **dict(zip(by, key, strict=True))))
    out = pd.concat(frames, ignore_index=True)
    out["small"] = out["n_clusters"] < small
    return out[[*by, *COLUMNS, "small"]]


# The table statistics one at a time (``report.table_stats`` computes them all, rank
# correlations included, which costs more than the one wanted).
TABLE_ONE = {
    "percent_agreement": nominal.percent_agreement,
    "cohen_kappa": nominal.cohen_kappa,
    "gwet_ac1": nominal.gwet_ac1,
    "weighted_kappa_linear": lambda t: ordinal.weighted_kappa(t, "linear"),
    "weighted_kappa_quadratic": lambda t: ordinal.weighted_kappa(t, "quadratic"),
}


def finisher(scale: Scale, statistic: str):
    if not scale.categorical:
        return lambda s: {statistic: interval.moment_stats(s)[statistic]}
    k = scale.k
    one = TABLE_ONE.get(statistic)
    if statistic == "krippendorff_alpha":
        one = ordinal.ordinal_alpha if scale.value_type == "ordinal" else (
            lambda t: nominal.pair_alpha(t, "nominal"))
    if one is not None:
        return lambda s: {statistic: one(s.reshape(-1, k, k))}
    positive = scale.categories.index("fail") if scale.value_type == "boolean" else None
    return lambda s: {statistic: table_stats(s.reshape(-1, k, k), scale.value_type,
                                             positive)[statistic]}
