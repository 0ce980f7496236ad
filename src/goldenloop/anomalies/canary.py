"""Canary scores as monitored series: each canary suite and scorer is a series with one point
per run, tested for drops within every detection run and recorded as anomalies of metric
``canary_score`` (app ``canary:SUITE``, dimension ``scorer``, value the scorer), so the
Anomalies page lists them and "anomaly" alert rules fire on them like on any other metric.

Why not hourly buckets with a seasonal baseline, as for traffic: a canary asks the same items
every run, so there is no daily cycle to model, and the items pair up run to run. The test
is on those pairs. An item **regressed** from one run to the next when it stopped passing or
its score fell by at least ``DROP``. Under no change, regressions happen at the suite's own
usual rate (none for a deterministic endpoint, some for a sampled one), which the
``REF_RUNS`` transitions before tell (at least ``MIN_REFS`` of them). A run's regressions are
tested as a count against what those references predict, the uncertainty of their rate
included (beta-binomial predictive under the references' Jeffreys posterior: a suite that
never regressed in 300 pairs is not taken to have a rate of exactly 0). A run is a candidate
only when the paired mean fell by at least the metric's practical minimum and
``MIN_REGRESSED`` items regressed.

The canary tests of a detection run are their own Benjamini-Hochberg family at the run's
sensitivity: the few tests of a suite would otherwise be drowned among the thousands of
hourly traffic tests, and a suite's power would depend on how much production traffic there
is. Consecutive flagged runs are one anomaly; it lasts until a run is back within the
practical minimum of the level before (then it is resolved), and it keeps the spans of the
regressed items as examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from scipy import stats

from goldenloop.anomalies import stats as st
from goldenloop.anomalies.catalogue import BY_NAME
from goldenloop.anomalies.records import Anomaly, Finding
from goldenloop.store import Store

METRIC = "canary_score"
APP_PREFIX = "canary:"
DIMENSION = "scorer"
REF_RUNS = 24  # transitions before a run that tell its usual regression rate (a day of hourly runs)
MIN_REFS = 3  # fewer: the run is not tested
DROP = 0.1  # a score falling by this much is a regression even when it still passes
MIN_REGRESSED = 2
DETECTOR_VERSION = "1"
HISTORY = timedelta(days=30)  # read before the range: the runs the first ones are compared with
EXAMPLES = 20


@dataclass
class CanaryTests:
    """What the canary part of a detection run tested and found."""

    series: int
    tests: int
    threshold: float
    found: list[Finding]
    since: datetime | None  # the range examined (None: no canary runs at all)
    until: datetime | None


def has_tables(store: Store) -> bool:
    return bool(store.scalar("SELECT count(*) FROM information_schema.tables "
                             "WHERE table_name = 'experiment_runs'"))


def scores(store: Store, start: datetime, end: datetime, suite: str | None = None,
           scorer: str | None = None) -> pd.DataFrame:
    """Per canary run, scorer and item: value, passed, model version, trace id (runs that
    ended, started in ``[start, end)``)."""
    if not has_tables(store):
        return pd.DataFrame(columns=["suite", "run_id", "started_at", "scorer", "item_key",
                                     "value", "passed", "model_version", "trace_id"])
    return store.df("""
        SELECT u.suite, u.run_id, u.started_at, s.scorer, s.item_key, s.value,
               coalesce(s.passed, false) AS passed, r.model_version, r.trace_id
        FROM experiment_runs u JOIN experiment_scores s USING (run_id)
        LEFT JOIN experiment_results r ON r.run_id = s.run_id AND r.item_key = s.item_key
        WHERE u.source = 'canary' AND u.status <> 'running' AND s.value IS NOT NULL
          AND u.started_at >= $start AND u.started_at < $end
          AND ($suite IS NULL OR u.suite = $suite) AND ($scorer IS NULL OR s.scorer = $scorer)
        ORDER BY u.suite, s.scorer, u.started_at, u.run_id""",
        {"start": start, "end": end, "suite": suite, "scorer": scorer})


def transitions(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run of one series (ordered by start): its mean, items, model versions,
    and against the run before it the paired items, regressions (and which items), the
    paired mean change, and the regressions and pairs of the ``REF_RUNS`` transitions before
    (``ref_k``, ``ref_n``; 0 where fewer than ``MIN_REFS``)."""
    started = df.groupby("run_id", sort=False)["started_at"].first().sort_values(kind="stable")
    ids = started.index
    wide = (df.assign(pf=df["passed"].astype(float))
            .groupby(["run_id", "item_key"])[["value", "pf"]].mean().unstack())
    v = wide["value"].reindex(ids).to_numpy(float)
    pf = wide["pf"].reindex(ids).to_numpy(float)
    keys = np.asarray(wide["value"].columns)
    ok = ~np.isnan(v)
    both = ok[:-1] & ok[1:]
    with np.errstate(invalid="ignore"):
        reg = both & (((pf[:-1] == 1) & (pf[1:] != 1)) | (v[1:] <= v[:-1] - DROP))
    paired = np.concatenate([[0], both.sum(1)])
    regressed = np.concatenate([[0], reg.sum(1)])
    diff = np.where(both, np.nan_to_num(v[1:]) - np.nan_to_num(v[:-1]), 0.0).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        change = np.concatenate([[np.nan], np.where(paired[1:] > 0, diff / paired[1:], np.nan)])
    versions = (df.dropna(subset=["model_version"]).groupby("run_id")["model_version"]
                .agg(lambda x: sorted(set(x))).reindex(ids))
    out = pd.DataFrame({
        "run_id": ids, "started_at": started.to_numpy(),
        "mean": np.nanmean(np.where(ok, v, np.nan), axis=1), "items": ok.sum(1),
        "versions": [x if isinstance(x, list) else [] for x in versions],
        "paired": paired, "regressed": regressed, "change": change,
        "regressed_items": [[]] + [list(keys[r]) for r in reg]})
    out["ref_k"], out["ref_n"] = _references(regressed.astype(float), paired.astype(float))
    return out


def _references(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per run, the regressions and pairs of the ``REF_RUNS`` transitions before it (0, 0
    with fewer than ``MIN_REFS`` of them)."""
    rk, rn = np.zeros(k.shape), np.zeros(k.shape)
    for t in range(1, len(k)):
        lo = max(1, t - REF_RUNS)
        used = n[lo:t] > 0
        if used.sum() >= MIN_REFS:
            rk[t], rn[t] = k[lo:t][used].sum(), n[lo:t][used].sum()
    return rk, rn


def _pvalues(tr: pd.DataFrame, min_effect: float) -> tuple[np.ndarray, np.ndarray]:
    """P-values of the runs (1 where tested but not a practical drop, NaN where untested),
    and which runs are practical drops. A run's regressions are compared with what its
    references predict, their rate's uncertainty included: the beta-binomial predictive of
    a binomial count under the Jeffreys posterior of the references' rate (0 of 300 pairs
    does not mean a rate of 0, nor 1 of 300 a rate of exactly 1/300)."""
    tested = (tr["ref_n"].to_numpy() > 0) & (tr["paired"].to_numpy() > 0)
    big = tested & (tr["regressed"].to_numpy() >= MIN_REGRESSED) & (
        tr["change"].to_numpy() <= -min_effect)
    p = np.where(tested, 1.0, np.nan)
    if big.any():
        k, n = tr["regressed"].to_numpy()[big], tr["paired"].to_numpy()[big]
        a = tr["ref_k"].to_numpy()[big] + 0.5
        b = tr["ref_n"].to_numpy()[big] - tr["ref_k"].to_numpy()[big] + 0.5
        p[big] = stats.betabinom.sf(k - 1, n, a, b)
    return p, big


def find(store: Store, since: datetime | None, until: datetime | None, now: datetime,
         q: float) -> CanaryTests:
    """Test the canary runs started in ``[since, until)`` (default: the 30 days up to
    ``now``; canary runs are complete when recorded, so no hour is left to fill)."""
    end = min(until or now, now)
    start = since or end - HISTORY
    df = scores(store, start - HISTORY, end)
    if df.empty:
        return CanaryTests(0, 0, 0.0, [], None, None)
    m = BY_NAME[METRIC]
    series = []
    for (suite, scorer), g in df.groupby(["suite", "scorer"], sort=True):
        tr = transitions(g)
        p, big = _pvalues(tr, m.min_effect)
        p[(tr["started_at"] < start).to_numpy()] = np.nan  # history only: not tested here
        series.append((suite, scorer, g, tr, p, big))
    pool = np.concatenate([s[4] for s in series])
    threshold = st.benjamini_hochberg(pool, q)
    found = []
    for suite, scorer, g, tr, p, big in series:
        flagged = (np.nan_to_num(p, nan=2.0) <= threshold) & big
        for a, b in _episodes(tr, flagged, BY_NAME[METRIC].min_effect):
            found.append(_finding(store, suite, scorer, g, tr, p, flagged, a, b, end))
    return CanaryTests(len(series), int(np.sum(~np.isnan(pool))), threshold, found, start, end)


def _level_before(tr: pd.DataFrame, a: int) -> np.ndarray:
    return tr["mean"].to_numpy()[max(0, a - REF_RUNS):a]


def _recovery(tr: pd.DataFrame, a: int, b: int, min_effect: float) -> int:
    """The first run from ``b`` back within the practical minimum of the level before run
    ``a`` (``len(tr)`` when none is yet)."""
    floor = float(np.median(_level_before(tr, a))) - min_effect
    later = np.nonzero(tr["mean"].to_numpy()[b:] >= floor)[0]
    return b + int(later[0]) if later.size else len(tr)


def _episodes(tr: pd.DataFrame, flagged: np.ndarray, min_effect: float) -> list[tuple[int, int]]:
    """Runs of flagged runs, a later one joined to the one before while the series has not
    recovered from it (a noisier level after a drop is the same episode, not a new one)."""
    out: list[tuple[int, int]] = []
    for a, b in st.runs(flagged, max_gap=0):
        if out and a < _recovery(tr, *out[-1], min_effect):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _finding(store: Store, suite: str, scorer: str, rows: pd.DataFrame, tr: pd.DataFrame,
             p: np.ndarray, flagged: np.ndarray, a: int, b: int, end: datetime) -> Finding:
    """The episode of runs ``[a, b)`` (the flagged ones each worse than the run before): one
    anomaly, lasting until a later run is back near the level before."""
    from goldenloop.anomalies.detection import severity_of  # detection imports this module
    from goldenloop.anomalies.records import SEVERITY_NAMES

    m = BY_NAME[METRIC]
    before = _level_before(tr, a)
    baseline = float(np.median(before))
    observed = float(tr["mean"].iloc[b - 1])
    back = _recovery(tr, a, b, m.min_effect)
    ongoing = back >= len(tr)
    window_end = end if ongoing else tr["started_at"].iloc[back].to_pydatetime()
    score = float(-np.log10(max(float(np.nanmin(p[a:b])), 1e-300)))
    effect = observed - baseline
    severity = severity_of(abs(effect) / m.min_effect, score)
    bad = np.arange(a, b)[flagged[a:b]]
    regressed = int(tr["regressed"].iloc[bad].sum())
    paired = int(tr["paired"].iloc[a])
    versions_before = list(tr["versions"].iloc[a - 1])
    versions_after = sorted({v for vs in tr["versions"].iloc[a:b] for v in vs})
    trace_of = rows.set_index(["run_id", "item_key"])["trace_id"]
    traces = [t for i in bad for key in tr["regressed_items"].iloc[i]
              if isinstance(t := trace_of.get((tr["run_id"].iloc[i], key)), str)]

    return Finding(
        metric=METRIC, app=APP_PREFIX + suite, dimension=DIMENSION, value=scorer, kind="shift",
        direction="down", window_start=tr["started_at"].iloc[a].to_pydatetime(),
        window_end=window_end, baseline=baseline, baseline_low=float(before.min()),
        baseline_high=float(before.max()), observed=observed, n=paired, severity=severity,
        score=score, detector="paired:canary", detector_version=DETECTOR_VERSION,
        description=_describe(suite, scorer, observed, baseline, regressed, paired,
                              versions_before, versions_after),
        details={"effect": effect, "bucket": "run", "runs": int(bad.size),
                 "first_run": int(tr["run_id"].iloc[a]),
                 "previous_run": int(tr["run_id"].iloc[a - 1]), "regressed": regressed,
                 "paired": paired,
                 "usual_regression_rate": float((tr["ref_k"].iloc[a] + 0.5)
                                                / (tr["ref_n"].iloc[a] + 1)),
                 "model_versions_before": versions_before,
                 "model_versions_after": versions_after,
                 "severity_name": SEVERITY_NAMES[severity]},
        example_span_keys=_examples(store, traces), ongoing=ongoing)


def _describe(suite, scorer, observed, baseline, regressed, paired, before, after) -> str:
    text = (f"Canary score ({scorer}) fell for suite {suite}: {observed:.2f} against a usual "
            f"{baseline:.2f} ({observed - baseline:+.2f}); {regressed} of {paired} items "
            "regressed")
    if before != after:
        text += f" (model version {', '.join(before) or 'none'} -> {', '.join(after) or 'none'})"
    return text + "."


def _examples(store: Store, traces: list[str]) -> list[int]:
    """The spans of the regressed items: the run's own call spans first."""
    if not traces:
        return []
    rows = store.rows(f"""SELECT span_key FROM spans WHERE list_contains(?, trace_id)
                          ORDER BY (span_id LIKE 'attempt-%') DESC, start_time
                          LIMIT {EXAMPLES}""", [traces])
    return [int(r[0]) for r in rows]


WINDOW_COLUMNS = ["time", "observed", "baseline", "low", "high", "n"]


def window_series(store: Store, a: Anomaly, pad: timedelta | None = None) -> pd.DataFrame:
    """The anomaly's series around its window, one point per run: the run's mean score, and
    the usual level (median of the ``REF_RUNS`` runs before) with their lowest and highest."""
    pad = pad or max(a.window_end - a.window_start, timedelta(days=1))
    suite = a.app.removeprefix(APP_PREFIX)
    df = scores(store, a.window_start - pad - HISTORY, a.window_end + pad, suite, a.value)
    if df.empty:
        return pd.DataFrame(columns=WINDOW_COLUMNS)
    runs = df.groupby("run_id", sort=False).agg(time=("started_at", "first"),
                                                observed=("value", "mean"), n=("value", "size"))
    prev = runs["observed"].shift(1).rolling(REF_RUNS, min_periods=1)
    runs["baseline"], runs["low"], runs["high"] = prev.median(), prev.min(), prev.max()
    runs = runs[(runs["time"] >= a.window_start - pad) & (runs["time"] < a.window_end + pad)]
    return runs[WINDOW_COLUMNS].reset_index(drop=True)
