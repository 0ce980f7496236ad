"""Judge versions side by side, on the same items.

Two judge prompts graded on different samples cannot be compared: one may simply have met
easier items. So only the (item, reviewer) grades that every chosen version also graded
count here, and the difference of each version to the first comes with a *paired* bootstrap
interval: one set of resampled clusters feeds every version, so the items' difficulty
cancels out of the difference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement import interval
from goldenloop.agreement.by_group import statistic_by
from goldenloop.agreement.report import cluster_keys, table_stats
from goldenloop.agreement.scale import Scale

KEYS = ("judge_name", "judge_version")
PAIR = ("item", "reviewer")


def common_pairs(pairs: pd.DataFrame, versions: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """The rows of ``pairs`` for ``versions`` whose (item, reviewer) every version graded."""
    want = pd.MultiIndex.from_tuples(list(versions), names=list(KEYS))
    rows = pairs[pd.MultiIndex.from_frame(pairs[list(KEYS)]).isin(want)]
    per_pair = rows.drop_duplicates([*PAIR, *KEYS]).groupby(list(PAIR), sort=False).size()
    shared = per_pair[per_pair == len(versions)].index
    keep = pd.MultiIndex.from_frame(rows[list(PAIR)]).isin(shared)
    return rows[keep].sort_values([*KEYS, *PAIR], kind="stable").reset_index(drop=True)


def side_by_side(scale: Scale, pairs: pd.DataFrame, versions: Sequence[tuple[str, str]],
                 statistic: str, *, n_resamples: int = bs.DEFAULT_RESAMPLES,
                 seed: int = bs.DEFAULT_SEED, level: float = bs.DEFAULT_LEVEL) -> pd.DataFrame:
    """Per version: ``statistic`` on the shared grades with its interval, and its difference
    to the first version with a paired interval. Empty when fewer than two versions or no
    shared grades."""
    cols = [*KEYS, "statistic", "value", "ci_low", "ci_high", "n", "n_items", "n_clusters",
            "diff", "diff_low", "diff_high", "note"]
    if len(versions) < 2:
        return pd.DataFrame(columns=cols)
    shared = common_pairs(pairs, versions)
    if shared.empty:
        return pd.DataFrame(columns=cols)
    scale = scale.with_observed(shared["human"], shared["judge"])
    boot = {"n_resamples": n_resamples, "seed": seed}
    diffs = paired_differences(scale, shared, versions, statistic, **boot)
    each = statistic_by(scale, shared, list(KEYS), statistic, level=level, **boot)
    each = each.set_index(list(KEYS))
    rows = []
    for v, key in enumerate(versions):
        r = each.loc[key]
        est, resampled = diffs[v]
        ci = bs.percentile_interval(est, resampled, int(r["n_clusters"]), level)
        rows.append({"judge_name": key[0], "judge_version": key[1], "statistic": statistic,
                     "value": r["value"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                     "n": int(r["n"]), "n_items": int(r["n_items"]),
                     "n_clusters": int(r["n_clusters"]),
                     "diff": np.nan if v == 0 else est,
                     "diff_low": np.nan if v == 0 else ci.low,
                     "diff_high": np.nan if v == 0 else ci.high,
                     "note": "baseline" if v == 0 else ci.note})
    return pd.DataFrame(rows, columns=cols)


def paired_differences(scale: Scale, shared: pd.DataFrame, versions: Sequence[tuple[str, str]],
                       statistic: str, *, n_resamples: int, seed: int
                       ) -> list[tuple[float, np.ndarray]]:
    """Per version: (its statistic minus the first version's, resampled differences), every
    version computed on the same resampled clusters."""
    first = shared[(shared["judge_name"] == versions[0][0])
                   & (shared["judge_version"] == versions[0][1])]
    clusters_of = dict(zip(first["item"], cluster_keys(first, "item", "cluster"), strict=True))
    h, j = scale.encode(shared["human"]), scale.encode(shared["judge"])
    ok = np.isfinite(h) & np.isfinite(j)
    codes, g = bs.factorize(shared["item"].map(clusters_of).to_numpy()[ok])
    vid = np.zeros(len(shared), dtype=np.int64)
    for v, key in enumerate(versions):
        vid[((shared["judge_name"] == key[0]) & (shared["judge_version"] == key[1])).to_numpy()] = v
    vid, h, j = vid[ok], h[ok], j[ok]
    n_v = len(versions)
    if scale.categorical:
        k = scale.k
        positive = scale.categories.index("fail") if scale.value_type == "boolean" else None
        cells = vid * k * k + (h * k + j).astype(np.int64)
        sums = bs.cluster_counts(codes, g, cells, n_v * k * k)

        def per_version(s: np.ndarray) -> np.ndarray:
            return table_stats(s.reshape(-1, n_v, k, k), scale.value_type, positive)[statistic]
    else:
        width = len(interval.MOMENTS)
        sums = np.zeros((g, n_v, width))
        np.add.at(sums, (codes, vid), interval.moment_rows(h, j))
        sums = sums.reshape(g, n_v * width)

        def per_version(s: np.ndarray) -> np.ndarray:
            return interval.moment_stats(s.reshape(-1, n_v, width))[statistic]

    def finish(s: np.ndarray) -> dict[str, np.ndarray]:
        stat = per_version(s)
        return {str(v): stat[:, v] - stat[:, 0] for v in range(n_v)}

    res = bs.bootstrap(sums, finish, n_resamples=n_resamples, seed=seed)
    return [res[str(v)] for v in range(n_v)]
