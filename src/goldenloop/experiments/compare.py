"""Comparison of two runs on the same test set, item by item and scorer by scorer.

Items are paired by key (the two runs' test sets must have the same name; items in only one
run are counted, not paired). Per item: the old and new output, each scorer's old and new
value and their difference, and a flag: ``regression`` when a scorer that passed now fails
(or, for scorers without a pass mark, its value fell), ``improvement`` the other way round,
a regression winning over an improvement. Items sort by largest regression first.

Per scorer: the mean of the paired differences (new minus old) with a 95% paired bootstrap
interval (BCa, ``scipy.stats.bootstrap`` over the item differences), and for pass/fail
McNemar's exact test (a two-sided binomial test on the discordant pairs, ``scipy``). A
failed call scored 0 counts in both; an item without a score in either run (no expected
output) is left out of that scorer and counted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from goldenloop.access import roles
from goldenloop.errors import ExperimentError
from goldenloop.experiments.schema import ensure_tables
from goldenloop.store import Store


@dataclass(frozen=True)
class RunInfo:
    run_id: int
    target_name: str
    target_version: str
    dataset: str
    dataset_version: int
    status: str
    baseline: bool


@dataclass
class Comparison:
    old: RunInfo
    new: RunInfo
    items: pd.DataFrame       # one row per paired item, largest regression first
    scorers: pd.DataFrame     # one row per scorer: n, means, mean_diff, ci, McNemar
    only_old: int
    only_new: int

    @property
    def regressions(self) -> int:
        return int((self.items["flag"] == "regression").sum()) if len(self.items) else 0

    @property
    def improvements(self) -> int:
        return int((self.items["flag"] == "improvement").sum()) if len(self.items) else 0

    @property
    def summary(self) -> str:
        text = (f"{len(self.items):,} items paired: {_n(self.regressions, 'regression')}, "
                f"{_n(self.improvements, 'improvement')}")
        if self.only_old or self.only_new:
            text += (f" ({self.only_old:,} only in run {self.old.run_id}, {self.only_new:,} only "
                     f"in run {self.new.run_id}: not compared)")
        return text


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def run_info(store: Store, run_id: int) -> RunInfo:
    ensure_tables(store)
    rows = store.rows("""SELECT r.run_id, r.target_name, r.target_version, d.name, d.version,
                                r.status, coalesce(r.baseline, false)
                         FROM experiment_runs r JOIN experiment_datasets d USING (dataset_id)
                         WHERE r.run_id = ?""", [int(run_id)])
    if not rows:
        raise ExperimentError(f"no experiment run {run_id}")
    r = rows[0]
    return RunInfo(int(r[0]), r[1], r[2], r[3], int(r[4]), r[5], bool(r[6]))


def baseline_of(store: Store, target_name: str) -> int | None:
    found = store.scalar("""SELECT max(run_id) FROM experiment_runs
                            WHERE target_name = ? AND baseline""", [target_name])
    return None if found is None else int(found)


def mark_baseline(store: Store, run_id: int) -> RunInfo:
    """Make ``run_id`` the baseline of its target (the one run a comparison defaults to)."""
    roles.guard(store, roles.Action.EXPERIMENT)
    info = run_info(store, run_id)

    def write(cur) -> None:
        cur.execute("UPDATE experiment_runs SET baseline = (run_id = ?) WHERE target_name = ?",
                    [info.run_id, info.target_name])

    store.write(write)
    return run_info(store, run_id)


def paired_interval(diffs: np.ndarray, *, confidence: float = 0.95, n_resamples: int = 2000,
                    seed: int = 0) -> tuple[float, float]:
    """BCa bootstrap interval of the mean of paired differences."""
    d = np.asarray(diffs, dtype=float)
    if len(d) == 0:
        return float("nan"), float("nan")
    if len(d) < 3 or np.all(d == d[0]):
        return float(d.mean()), float(d.mean())  # no spread to resample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BCa's degenerate-sample warning: handled below
        res = stats.bootstrap((d,), np.mean, confidence_level=confidence, method="BCa",
                              n_resamples=n_resamples, rng=np.random.default_rng(seed),
                              vectorized=True)
    lo, hi = res.confidence_interval
    if not (np.isfinite(lo) and np.isfinite(hi)):
        lo, hi = np.percentile(res.bootstrap_distribution, [2.5, 97.5])
    return float(lo), float(hi)


def mcnemar(old_pass: np.ndarray, new_pass: np.ndarray) -> tuple[int, int, float]:
    """(passed before, failed now), (failed before, passed now) and the exact p-value."""
    b = int(np.sum(old_pass & ~new_pass))
    c = int(np.sum(~old_pass & new_pass))
    p = 1.0 if b + c == 0 else float(stats.binomtest(c, b + c, 0.5).pvalue)
    return b, c, p


def _scores(store: Store, run_id: int) -> pd.DataFrame:
    return store.df("""SELECT item_key, scorer, value, passed FROM experiment_scores
                       WHERE run_id = ?""", [run_id])


def _outputs(store: Store, run_id: int) -> pd.DataFrame:
    return store.df("""SELECT i.item_key, i.input, i.expected, i.span_key,
                              json_extract_string(i.metadata, '$.trace_id') AS source_trace_id,
                              json_extract_string(i.metadata, '$.span_id') AS source_span_id,
                              r.output, r.status, r.error, r.model_version
                       FROM experiment_results r JOIN experiment_runs u USING (run_id)
                       JOIN experiment_items i ON i.dataset_id = u.dataset_id
                                              AND i.item_key = r.item_key
                       WHERE r.run_id = ?""", [run_id])


def compare(store: Store, new_run: int, old_run: int | None = None, *, seed: int = 0,
            n_resamples: int = 2000) -> Comparison:
    """Compare ``new_run`` with ``old_run`` (by default the baseline of its target)."""
    new = run_info(store, new_run)
    if old_run is None:
        old_run = baseline_of(store, new.target_name)
        if old_run is None:
            raise ExperimentError(f"target {new.target_name} has no baseline run: give the run "
                                  "to compare with, or mark one as baseline")
    old = run_info(store, old_run)
    if old.dataset != new.dataset:
        raise ExperimentError(f"run {old.run_id} ran test set {old.dataset!r} and run "
                              f"{new.run_id} ran {new.dataset!r}: compare runs of one test set")
    a, b = _outputs(store, old.run_id), _outputs(store, new.run_id)
    both = a.merge(b[["item_key", "output", "status", "error", "model_version"]],
                   on="item_key", suffixes=("_old", "_new"))
    sa, sb = _scores(store, old.run_id), _scores(store, new.run_id)
    pairs = sa.merge(sb, on=["item_key", "scorer"], suffixes=("_old", "_new"))
    pairs = pairs[pairs["item_key"].isin(both["item_key"])]
    table = _scorer_table(pairs, seed, n_resamples)
    items = _item_table(both, pairs)
    return Comparison(old, new, items, table, int((~a["item_key"].isin(b["item_key"])).sum()),
                      int((~b["item_key"].isin(a["item_key"])).sum()))


def _scorer_table(pairs: pd.DataFrame, seed: int, n_resamples: int) -> pd.DataFrame:
    out = []
    for scorer, g in pairs.groupby("scorer", sort=True):
        scored = g.dropna(subset=["value_old", "value_new"])
        d = (scored["value_new"] - scored["value_old"]).to_numpy(float)
        lo, hi = paired_interval(d, n_resamples=n_resamples, seed=seed)
        pf = scored.dropna(subset=["passed_old", "passed_new"])
        b, c, p = mcnemar(pf["passed_old"].to_numpy(bool), pf["passed_new"].to_numpy(bool))
        out.append({"scorer": scorer, "n": len(scored), "unscored": len(g) - len(scored),
                    "mean_old": scored["value_old"].mean(), "mean_new": scored["value_new"].mean(),
                    "mean_diff": d.mean() if len(d) else np.nan, "ci_low": lo, "ci_high": hi,
                    "pass_old": pf["passed_old"].astype(bool).mean() if len(pf) else np.nan,
                    "pass_new": pf["passed_new"].astype(bool).mean() if len(pf) else np.nan,
                    "passed_then_failed": b, "failed_then_passed": c, "mcnemar_p": p})
    cols = ["scorer", "n", "unscored", "mean_old", "mean_new", "mean_diff", "ci_low", "ci_high",
            "pass_old", "pass_new", "passed_then_failed", "failed_then_passed", "mcnemar_p"]
    return pd.DataFrame(out, columns=cols)


def _item_table(both: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    if pairs.empty:
        wide = pd.DataFrame({"item_key": both["item_key"]})
    else:
        p = pairs.assign(diff=pairs["value_new"] - pairs["value_old"])
        fell = (p["passed_old"].eq(True) & p["passed_new"].eq(False)) | \
            (p["passed_old"].isna() & (p["diff"] < 0))
        rose = (p["passed_old"].eq(False) & p["passed_new"].eq(True)) | \
            (p["passed_old"].isna() & (p["diff"] > 0))
        p = p.assign(fell=fell, rose=rose)
        wide = p.pivot(index="item_key", columns="scorer", values=["value_old", "value_new", "diff"])
        wide.columns = [f"{scorer}_{what.removeprefix('value_')}" for what, scorer in wide.columns]
        flags = p.groupby("item_key").agg(fell=("fell", "any"), rose=("rose", "any"),
                                          worst=("diff", "min"), change=("diff", "sum"))
        wide = wide.join(flags).reset_index()
    out = both.merge(wide, on="item_key", how="left")
    fell = out.get("fell", pd.Series(False, index=out.index)).fillna(False).astype(bool)
    rose = out.get("rose", pd.Series(False, index=out.index)).fillna(False).astype(bool)
    out["flag"] = np.where(fell, "regression", np.where(rose, "improvement", ""))
    out["changed_output"] = out["output_old"].fillna("\0") != out["output_new"].fillna("\0")
    order = ["worst", "change"] if "worst" in out else []
    out = out.assign(_rank=np.where(fell, 0, np.where(rose, 2, 1)))
    out = out.sort_values(["_rank", *order, "item_key"], na_position="last", kind="stable")
    return out.drop(columns=["_rank", "fell", "rose"], errors="ignore").reset_index(drop=True)
