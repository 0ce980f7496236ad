"""Judges against the human mean at two levels, and humans among themselves — read from the
store for every criterion of a rubric (the HANNA story-evaluation report):

- story level: Kendall's tau-b between the mean of an item's human grades and the judge's
  grade, over the items of the groups kept (e.g. stories of the non-human generators);
- system level: tau-b between the per-group means of the same pairs (one point per group);
- Krippendorff's alpha among the human raters of each criterion, over every item.

Judge values that were outside the declared scale at import are reported both ways: as they
were read (``kept``) and dropped (``missing``), whichever way the import stored them. Every
figure has a 95% bootstrap interval that resamples items; at system level each resample
recomputes the group means from the resampled items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse, stats

from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement import ordinal
from goldenloop.agreement import sql as q
from goldenloop.agreement.multi import human_agreement
from goldenloop.agreement.scale import Scale
from goldenloop.store import grades as grade_sql
from goldenloop.store.store import Store

WAYS = ("kept", "missing")
COLUMNS = ("criterion", "judge_name", "judge_version", "level", "out_of_scale", "tau_b",
           "ci_low", "ci_high", "n", "n_out_of_scale", "note")


def rubric_criteria(store: Store, rubric_name: str) -> list[str]:
    return [c for (c,) in store.rows(
        "SELECT DISTINCT name FROM criteria WHERE rubric_name = ? AND value_type <> 'text' "
        "ORDER BY name", [rubric_name])]


def _grades(store: Store, criterion: str, rubric_name: str, groups: pd.DataFrame
            ) -> pd.DataFrame:
    g = q.live_grades(store, criterion, rubric_name=rubric_name)
    g["number"] = pd.to_numeric(g["value"], errors="coerce")
    oos = grade_sql.out_of_scale_values(store, criterion, rubric_name)
    g = g.merge(oos[["grade_id", "original"]], on="grade_id", how="left")
    g["out_of_scale"] = g["original"].notna()
    g["kept"] = np.where(g["out_of_scale"], g["original"], g["number"])
    g["missing"] = np.where(g["out_of_scale"], np.nan, g["number"])
    return g.merge(groups, left_on="target_id", right_on="item_id", how="left")


def _signs(diff: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Signs of differences of means; a difference at rounding level is a tie (two groups with
    the same mean, summed in another order, must not be ranked apart)."""
    scale = np.abs(np.nan_to_num(values)).max(axis=1, keepdims=True)
    return np.where(np.abs(diff) <= 1e-9 * scale, 0.0, np.sign(diff))


def tau_b_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row of x against the same row of y (few columns: all pairs)."""
    i, j = np.triu_indices(x.shape[1], 1)
    dx, dy = _signs(x[:, i] - x[:, j], x), _signs(y[:, i] - y[:, j], y)
    den = np.sqrt((dx**2).sum(axis=1) * (dy**2).sum(axis=1))
    out = np.full(len(x), np.nan)
    np.divide((dx * dy).sum(axis=1), den, out=out, where=den > 0)
    return np.where(np.isfinite(x).all(axis=1) & np.isfinite(y).all(axis=1), out, np.nan)


MAX_CELLS = 40_000  # distinct human x judge values for the table path of story-level tau-b


class _Pair:
    """One judge version read one way: its values on the kept items, and what the bootstrap
    needs to score a resample of items without revisiting them (sparse maps from items to
    table cells and to groups)."""

    def __init__(self, h: np.ndarray, j: np.ndarray, codes: np.ndarray, k: int):
        self.ok = np.isfinite(j)
        h, j, codes = h[self.ok], j[self.ok], codes[self.ok]
        self.n, self.k = len(h), k
        hv, hc = np.unique(h, return_inverse=True)
        jv, jc = np.unique(j, return_inverse=True)
        self.shape = (len(hv), len(jv))
        self.h, self.j = h, j
        rows = np.arange(len(h))
        size = self.shape[0] * self.shape[1]
        self.cells = (sparse.csr_matrix((np.ones(len(h)), (rows, hc * len(jv) + jc)),
                                        shape=(len(h), size)) if size <= MAX_CELLS else None)
        onehot = sparse.csr_matrix((np.ones(len(h)), (rows, codes)), shape=(len(h), k))
        self.groups = sparse.hstack([onehot, onehot.multiply(h[:, None]),
                                     onehot.multiply(j[:, None])]).tocsr()

    def story(self, w: np.ndarray) -> np.ndarray:
        """Tau-b of item-weight rows w (b x n)."""
        if self.cells is not None:
            t = np.asarray((self.cells.T @ w.T).T)
            return ordinal.kendall_tau_b(t.reshape(len(w), *self.shape))
        out = []
        for counts in w.astype(np.int64):  # too many distinct values for a table: scipy
            take = np.repeat(np.arange(self.n), counts)
            out.append(float(stats.kendalltau(self.h[take], self.j[take]).statistic))
        return np.array(out)

    def system(self, w: np.ndarray) -> np.ndarray:
        """Tau-b of the per-group means of each resample."""
        s = np.asarray((self.groups.T @ w.T).T)
        k = self.k
        with np.errstate(invalid="ignore", divide="ignore"):
            return tau_b_rows(s[:, k:2 * k] / s[:, :k], s[:, 2 * k:] / s[:, :k])


def _judge_rows(items: pd.DataFrame, judges: pd.DataFrame, crit: str, n_resamples: int,
                seed: int, level: float) -> list[dict]:
    """Story- and system-level tau-b of every judge version, both ways, every figure on the
    same resamples of the items."""
    h = items["human_mean"].to_numpy(float)
    codes, k = bs.factorize(items["grp"].to_numpy(dtype=object))
    pairs, meta = [], []
    for (name, version), part in judges.groupby(["judge_name", "judge_version"], sort=True):
        part = part.drop_duplicates("item").set_index("item").reindex(items.index)
        for way in WAYS:
            pairs.append(_Pair(h, part[way].to_numpy(float), codes, k))
            meta.append({"criterion": crit, "judge_name": name, "judge_version": version,
                         "out_of_scale": way, "n_out_of_scale": int(part["out_of_scale"].sum())})
    ests = [(p.story(np.ones((1, p.n)))[0], p.system(np.ones((1, p.n)))[0]) for p in pairs]
    boots: list[tuple[list, list]] = [([], []) for _ in pairs]
    for w in bs.resample_counts(len(items), n_resamples, seed, width=len(items)):
        for p, (story, system) in zip(pairs, boots, strict=True):
            wk = w[:, p.ok]
            story.append(p.story(wk))
            system.append(p.system(wk))
    out = []
    for p, m, (e_story, e_system), (b_story, b_system) in zip(pairs, meta, ests, boots,
                                                                strict=True):
        for lvl, est, boot, n, note in (("story", e_story, b_story, p.n, ""),
                                        ("system", e_system, b_system, p.k, f"{p.n} items")):
            boot = np.concatenate(boot) if boot else np.array([])
            ci = bs.percentile_interval(float(est), boot, p.n, level)
            out.append({**m, "level": lvl, "tau_b": float(est), "ci_low": ci.low,
                        "ci_high": ci.high, "n": n, "note": _join(note, ci.note)})
    return out


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def level_report(store: Store, rubric_name: str, *, group_key: str = "generator",
                 exclude: tuple[str, ...] = ("Human",), n_resamples: int = bs.DEFAULT_RESAMPLES,
                 seed: int = bs.DEFAULT_SEED, level: float = bs.DEFAULT_LEVEL
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(judge rows: one per criterion x judge x version x level x way, ``COLUMNS``;
    human rows: Krippendorff's alpha among the human raters per criterion)."""
    groups = grade_sql.item_groups(store, group_key)
    judge_rows, human_rows = [], []
    for crit in rubric_criteria(store, rubric_name):
        g = _grades(store, crit, rubric_name, groups)
        humans = g[g["side"] == "human"]
        human_rows.append(_human_alpha(crit, humans, n_resamples, seed, level))
        means = humans.groupby("item")["number"].mean().rename("human_mean")
        # The items of the kept groups that have a human mean: one order for every judge.
        items = (g[(g["side"] == "judge") & ~g["grp"].isin(exclude) & g["grp"].notna()]
                 .drop_duplicates("item").set_index("item")[["grp"]].join(means, how="inner")
                 .sort_index())
        judges = g[(g["side"] == "judge") & g["item"].isin(items.index)]
        judge_rows += _judge_rows(items, judges, crit, n_resamples, seed, level)
    return (pd.DataFrame(judge_rows, columns=list(COLUMNS)),
            pd.concat(human_rows, ignore_index=True) if human_rows else pd.DataFrame())


def _human_alpha(crit: str, humans: pd.DataFrame, n_resamples: int, seed: int, level: float
                 ) -> pd.DataFrame:
    """Interval alpha, and ordinal alpha when every human grade is a whole number."""
    grades = humans.rename(columns={"author_id": "reviewer"}).assign(value=humans["number"])
    scales = [("interval", Scale("interval"))]
    v = grades["value"].dropna()
    if len(v) and (v == v.round()).all():
        cats = tuple(f"{x:g}" for x in sorted(v.unique()))
        scales.append(("ordinal", Scale("ordinal", cats)))
    rows = []
    for name, scale in scales:
        r = human_agreement(scale, grades, n_resamples=n_resamples, seed=seed, level=level)
        r = r[r["statistic"] == "krippendorff_alpha"].assign(criterion=crit, metric=name)
        rows.append(r)
    return pd.concat(rows, ignore_index=True)


def side_by_side(judges: pd.DataFrame, level: str = "story", way: str = "kept") -> pd.DataFrame:
    """Tau-b per judge and criterion (rows), one column per judge version (prompt)."""
    sel = judges[(judges["level"] == level) & (judges["out_of_scale"] == way)]
    if sel.empty:
        return pd.DataFrame()
    return sel.pivot_table(index=["judge_name", "criterion"], columns="judge_version",
                           values="tau_b", aggfunc="first")
