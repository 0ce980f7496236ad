"""Speed of the agreement statistics with bootstrap intervals.

    python benchmarks/bench_agreement.py [--pairs 10000] [--resamples 1000] [--repeat 3]

Synthetic graded pairs (a human grade and a judge grade on a 1–5 scale that agree often,
items grouped in sessions of five turns). Each case is timed best of ``--repeat``:

- categorical figures from confusion tables (the way the library computes them): percent
  agreement, Cohen's kappa and weighted kappa (linear, quadratic), with ``--resamples``
  resamples of sessions — alone, and as ``agreement_for`` computes every ordinal or nominal
  figure at once;
- the same three figures by a naive loop (resample rows, then scikit-learn per resample),
  on fewer resamples and scaled up, as the baseline;
- the slower statistics: Kendall's tau-b and Spearman on finely grained numbers (scipy per
  resample, and weighted mid-ranks), Krippendorff's alpha among three raters per item
  (coincidence sums), and tau-b on a few distinct values (tables).

The load averages from ``uptime`` are printed with the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score
from timing import best, uptime

from goldenloop.agreement import Scale, agreement_for, human_agreement, nominal, ordinal
from goldenloop.agreement import bootstrap as bs

ORDINAL = Scale("ordinal", ("1", "2", "3", "4", "5"))


def pairs(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    human = rng.integers(1, 6, n)
    judge = np.clip(human + rng.choice([-1, 0, 0, 0, 1], n), 1, 5)
    return pd.DataFrame({"item": np.arange(n), "session": np.arange(n) // 5,
                         "human": human.astype(str), "judge": judge.astype(str)})


def table_figures(df: pd.DataFrame, resamples: int) -> dict:
    """Percent agreement, kappa and weighted kappas from resampled confusion tables."""
    h, j = ORDINAL.encode(df["human"]), ORDINAL.encode(df["judge"])
    clusters, g = bs.factorize(df["session"].to_numpy())
    sums = bs.cluster_counts(clusters, g, (h * 5 + j).astype(np.int64), 25)

    def finish(s: np.ndarray) -> dict[str, np.ndarray]:
        t = s.reshape(-1, 5, 5)
        return {"percent": nominal.percent_agreement(t), "kappa": nominal.cohen_kappa(t),
                "kappa_linear": ordinal.weighted_kappa(t, "linear"),
                "kappa_quadratic": ordinal.weighted_kappa(t, "quadratic")}

    return bs.bootstrap(sums, finish, n_resamples=resamples)


def naive(df: pd.DataFrame, resamples: int) -> None:
    """Resample sessions, rebuild the rows and call scikit-learn: one loop per resample."""
    rng = np.random.default_rng(0)
    sessions = df["session"].to_numpy()
    by_session = pd.Series(np.arange(len(df))).groupby(sessions).apply(list).tolist()
    h, j = df["human"].to_numpy(int), df["judge"].to_numpy(int)  # ints: sklearn's fast path
    for _ in range(resamples):
        take = np.concatenate([by_session[i] for i in rng.integers(0, len(by_session),
                                                                    len(by_session))])
        np.mean(h[take] == j[take])
        cohen_kappa_score(h[take], j[take])
        cohen_kappa_score(h[take], j[take], weights="linear")
        cohen_kappa_score(h[take], j[take], weights="quadratic")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=10_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--naive-resamples", type=int, default=50)
    args = ap.parse_args()
    n, b, rep = args.pairs, args.resamples, args.repeat
    df = pairs(n)
    rng = np.random.default_rng(2)
    fine = df.assign(human=rng.normal(size=n), judge=lambda d: d["human"] + rng.normal(size=n))
    raters = pd.DataFrame({
        "item": np.repeat(np.arange(n), 3), "reviewer": np.tile(["a", "b", "c"], n),
        "value": np.clip(np.repeat(df["human"].astype(int).to_numpy(), 3)
                         + rng.choice([-1, 0, 0, 1], 3 * n), 1, 5).astype(str)})
    print(f"load before: {uptime()}")
    print(f"{n:,} graded pairs, {n // 5:,} sessions, {b:,} bootstrap resamples; best of {rep}\n")
    rows = []

    def case(name: str, fn: Callable[[], object], method: str, scale: float = 1.0) -> float:
        t = best(fn, rep) * scale
        rows.append((name, t, method))
        print(f"{name:72} {t:8.3f} s  {method}")
        return t

    fast = case("percent agreement + kappa + weighted kappa (tables)",
                lambda: table_figures(df, b), "W @ per-session confusion counts")
    case("agreement_for, ordinal (all 6 figures)",
         lambda: agreement_for(ORDINAL, df, cluster="session", n_resamples=b), "tables")
    case("agreement_for, nominal (all 4 figures)",
         lambda: agreement_for("nominal", df, cluster="session", n_resamples=b), "tables")
    k = args.naive_resamples
    slow = case(f"same 4 figures, naive loop + scikit-learn (x{b // k} of {k})",
                lambda: naive(df, k), "per-resample rows", scale=b / k)
    case("tau-b + Spearman, finely grained numbers (agreement_for interval)",
         lambda: agreement_for("interval", fine, cluster="session", n_resamples=b),
         "scipy kendalltau per resample; Spearman by weighted mid-ranks")
    case("Krippendorff's alpha, 3 raters per item (ordinal) + mean pairwise kappa",
         lambda: human_agreement(ORDINAL, raters, n_resamples=b), "coincidence sums per item")
    print(f"\ntables vs naive loop: {slow / fast:.0f}x faster; goal (< 2 s) "
          f"{'met' if fast < 2 else 'NOT met'}")
    print(f"load after: {uptime()}")


if __name__ == "__main__":
    main()
