"""Several human grades on one item: the judge against the human consensus, and how far
humans agree with each other — the ceiling a judge can be expected to reach.

Consensus is the mean (interval), the median (ordinal) or the majority (nominal, boolean)
of an item's human grades. An ordinal median falling between two categories, or a majority
shared by two categories, is a tie: tied items are left out and counted in the note.
Human–human agreement is Krippendorff's alpha over all reviewers (missing grades allowed)
and the mean over reviewer pairs of Cohen's kappa (quadratic-weighted for ordinal scales,
Pearson's r for interval ones) — each with a cluster-bootstrap interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from goldenloop.agreement import alpha as kalpha
from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement import interval, nominal
from goldenloop.agreement.report import agreement_for, cluster_keys, result_rows
from goldenloop.agreement.scale import Scale

MIN_SHARED_ITEMS = 10  # a reviewer pair with fewer shared items adds noise, not signal
PAIRWISE = {"interval": "mean_pairwise_pearson", "ordinal": "mean_pairwise_kappa_quadratic"}
METRIC = {"nominal": "nominal", "boolean": "nominal", "ordinal": "ordinal",
          "interval": "interval"}


def consensus(scale: Scale, grades: pd.DataFrame, *, value: str = "value",
              item: str = "item", min_humans: int = 2) -> pd.DataFrame:
    """One row per item with at least ``min_humans`` usable grades: ``consensus`` (a label,
    or a number for interval scales; None when tied), ``n_humans`` and ``tie``."""
    scale = scale.with_observed(grades[value])
    v = scale.encode(grades[value])
    ok = np.isfinite(v)
    df = pd.DataFrame({"item": grades[item].to_numpy()[ok], "v": v[ok]})
    n = df.groupby("item", sort=True)["v"].size()
    if scale.value_type == "interval":
        cons, tie = df.groupby("item", sort=True)["v"].mean(), pd.Series(False, index=n.index)
    elif scale.value_type == "ordinal":
        med = df.groupby("item", sort=True)["v"].median()
        tie = med != np.floor(med)
        cons = med.where(~tie)
    else:
        counts = pd.crosstab(df["item"], df["v"]).sort_index()
        top = counts.max(axis=1)
        tie = counts.eq(top, axis=0).sum(axis=1) > 1
        cons = counts.idxmax(axis=1).astype(float).where(~tie)
    out = pd.DataFrame({item: n.index, "consensus": scale.decode(cons.reindex(n.index).to_numpy()),
                        "n_humans": n.to_numpy(),
                        "tie": tie.reindex(n.index).to_numpy(dtype=bool)})
    return out[out["n_humans"] >= min_humans].reset_index(drop=True)


def judge_vs_consensus(scale: Scale, pairs: pd.DataFrame, *, human: str = "human",
                       judge: str = "judge", item: str = "item", cluster: str | None = None,
                       min_humans: int = 2, **boot) -> pd.DataFrame:
    """The judge against the consensus of each item's human grades in ``pairs`` (one row per
    judge grade and human grade of an item, one judge)."""
    scale = scale.with_observed(pairs[human], pairs[judge])
    cons = consensus(scale, pairs, value=human, item=item, min_humans=min_humans)
    keep = [item, judge] + ([cluster] if cluster else [])
    first = pairs.drop_duplicates(item)[keep]
    merged = cons.merge(first, on=item, how="inner")
    ties = int(merged["tie"].sum())
    rows = agreement_for(scale, merged[~merged["tie"]], human="consensus", judge=judge,
                         item=item, cluster=cluster, **boot)
    note = f"items with at least {min_humans} human grades; {ties} tied items left out"
    rows["n_dropped"] += ties
    rows["note"] = [f"{note}; {x}" if x else note for x in rows["note"]]
    return rows


def human_agreement(scale: Scale, grades: pd.DataFrame, *, value: str = "value",
                    item: str = "item", reviewer: str = "reviewer", cluster: str | None = None,
                    n_resamples: int = bs.DEFAULT_RESAMPLES, seed: int = bs.DEFAULT_SEED,
                    level: float = bs.DEFAULT_LEVEL) -> pd.DataFrame:
    """Krippendorff's alpha over all reviewers and the mean pairwise coefficient, from one
    row per human grade. Only items graded by at least two reviewers count."""
    scale = scale.with_observed(grades[value]) if len(grades) else scale
    v = scale.encode(grades[value])
    df = grades.assign(_v=v)[np.isfinite(v)]
    df = df[df.groupby(item)[item].transform("size") >= 2]
    df = df.assign(_cluster=cluster_keys(df, item, cluster))
    boot = {"n_resamples": n_resamples, "seed": seed}
    clusters, g = bs.factorize(df["_cluster"].to_numpy())
    sums = kalpha.alpha_sums(df[item].to_numpy(), df["_v"].to_numpy(), clusters, g,
                             METRIC[scale.value_type], scale.k)
    res = bs.bootstrap(sums, kalpha.alpha_finish(METRIC[scale.value_type], scale.k), **boot)
    counts = {"n": len(df), "n_items": int(df[item].nunique()), "n_clusters": g,
              "n_dropped": int((~np.isfinite(v)).sum())}
    rows = [result_rows(res, ["krippendorff_alpha"], counts, level)]
    rows[0]["note"] = _join(f"{df[reviewer].nunique()} reviewers", rows[0]["note"][0])
    rows.append(mean_pairwise(scale, reviewer_pairs(df, item, reviewer, "_cluster"),
                              level=level, **boot))
    return pd.concat(rows, ignore_index=True)


def reviewer_pairs(grades: pd.DataFrame, item: str = "item", reviewer: str = "reviewer",
                   cluster: str | None = None, value: str = "_v") -> pd.DataFrame:
    """Every pair of two reviewers' grades of one item (reviewer_a < reviewer_b)."""
    cols = [item, reviewer, value] + ([cluster] if cluster else [])
    g = grades[cols]
    m = g.merge(g, on=[item] + ([cluster] if cluster else []), suffixes=("_a", "_b"))
    m = m[m[f"{reviewer}_a"] < m[f"{reviewer}_b"]]
    return pd.DataFrame({
        "item": m[item].to_numpy(), "cluster": m[cluster if cluster else item].to_numpy(),
        "reviewer_a": m[f"{reviewer}_a"].to_numpy(), "reviewer_b": m[f"{reviewer}_b"].to_numpy(),
        "a": m[f"{value}_a"].to_numpy(), "b": m[f"{value}_b"].to_numpy()})


def mean_pairwise(scale: Scale, pairs: pd.DataFrame, *, encoded: bool = True,
                  min_shared: int = MIN_SHARED_ITEMS, n_resamples: int = bs.DEFAULT_RESAMPLES,
                  seed: int = bs.DEFAULT_SEED, level: float = bs.DEFAULT_LEVEL) -> pd.DataFrame:
    """Mean over reviewer pairs sharing at least ``min_shared`` items of Cohen's kappa
    (quadratic-weighted for ordinal, Pearson's r for interval), from ``reviewer_pairs`` rows
    (``a``/``b`` already encoded unless ``encoded`` is False)."""
    name = PAIRWISE.get(scale.value_type, "mean_pairwise_kappa")
    a = pairs["a"].to_numpy(float) if encoded else scale.encode(pairs["a"])
    b = pairs["b"].to_numpy(float) if encoded else scale.encode(pairs["b"])
    ok = np.isfinite(a) & np.isfinite(b)
    key = pairs["reviewer_a"].astype(str) + "\x1f" + pairs["reviewer_b"].astype(str)
    shared = key[ok].map(key[ok].value_counts())
    ok[ok] = (shared >= min_shared).to_numpy()
    p, n_pairs = bs.factorize(key.to_numpy()[ok])
    clusters, g = bs.factorize(cluster_keys(pairs, "item", "cluster")[ok])
    res = bs.bootstrap(_pairwise_sums(scale, a[ok], b[ok], p, n_pairs, clusters, g),
                       _pairwise_finish(scale, n_pairs, name),
                       n_resamples=n_resamples, seed=seed)
    counts = {"n": int(ok.sum()), "n_items": int(pairs.loc[ok, "item"].nunique()),
              "n_clusters": g, "n_dropped": int((~ok).sum())}
    rows = result_rows(res, [name], counts, level)
    rows["note"] = _join(f"{n_pairs} reviewer pairs with at least {min_shared} shared items",
                         rows["note"][0])
    return rows


def _pairwise_sums(scale: Scale, a, b, p, n_pairs, clusters, g) -> np.ndarray:
    if scale.value_type == "interval":
        rows = interval.moment_rows(a, b)
        out = np.zeros((g, n_pairs, rows.shape[1]))
        np.add.at(out, (clusters, p), rows)
        return out.reshape(g, n_pairs * rows.shape[1])
    k = scale.k
    cells = p * k * k + (a * k + b).astype(np.int64)
    return bs.cluster_counts(clusters, g, cells, n_pairs * k * k)


def _pairwise_finish(scale: Scale, n_pairs: int, name: str):
    weights = "quadratic" if scale.value_type == "ordinal" else None

    def finish(s: np.ndarray) -> dict[str, np.ndarray]:
        if scale.value_type == "interval":
            per_pair = interval.pearson(s.reshape(len(s), n_pairs, len(interval.MOMENTS)))
        else:
            per_pair = nominal.cohen_kappa(s.reshape(len(s), n_pairs, scale.k, scale.k), weights)
        good = np.isfinite(per_pair)
        return {name: nominal.ratio(np.where(good, per_pair, 0).sum(axis=-1), good.sum(axis=-1))}

    return finish


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)
