"""One judge across slices: is its agreement in one slice far from its agreement elsewhere?

For one judge version, each slice of a field (model version, app, reviewer, week, or an item
metadata key such as ``meta:generator``) is compared with its complement, every other slice
of that judge pooled. The test:

- the difference is ``statistic`` in the slice minus ``statistic`` in the complement;
- its spread comes from one cluster bootstrap over the judge's sessions (items when there are
  none): each resample draws whole sessions once and recomputes both sides from the same draw,
  so a session with pairs on both sides (e.g. two reviewers) moves both together;
- the p-value is two-sided, from t = difference / SE on min(sessions in the slice, sessions
  elsewhere) - 1 degrees of freedom, SE being the bootstrap standard error scaled by
  sqrt(G / (G - 1)) with that G (the bootstrap's variance divides by G, not G - 1): the
  plain normal approximation flagged about 6% of clean simulated data sets at a stated 5%,
  this small-sample form about 4.5%; the interval is the bootstrap percentile interval;
- p-values of one judge's tested slices are adjusted for multiple comparisons with
  Benjamini–Hochberg (``scipy.stats.false_discovery_control``) into q-values;
- a slice is flagged when q <= ``alpha`` *and* the difference is at least ``min_difference``
  in size: a statistically clear but tiny gap on a large slice is not worth a lead's time.
  ``direction`` says whether the slice is lower or higher than the rest. When one slice is
  bad, the others can be flagged "higher": the rest they are compared with holds the bad one.

Slices (or complements) with fewer than ``min_clusters`` sessions are shown but not tested
(p and q missing): a bootstrap on a handful of sessions says little.
The rates this test reaches (detection of a corrupted slice, false flags on clean data) are
measured in tests/test_agreement_heterogeneity.py and quoted in the README.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control
from scipy.stats import t as student_t

from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement import interval
from goldenloop.agreement.by_group import finisher
from goldenloop.agreement.gate import default_rule
from goldenloop.agreement.report import cluster_keys
from goldenloop.agreement.scale import Scale
from goldenloop.agreement.slices import JUDGE_KEYS, SMALL_SLICE, slice_values

DEFAULT_ALPHA = 0.05          # Benjamini–Hochberg false discovery rate per judge version
DEFAULT_MIN_DIFFERENCE = 0.10  # smallest gap (in the statistic's units) worth flagging
COLUMNS = ["judge_name", "judge_version", "slice", "slice_value", "statistic", "n",
           "n_clusters", "agreement", "agreement_low", "agreement_high", "elsewhere",
           "n_elsewhere", "difference", "ci_low", "ci_high", "p", "q", "flagged", "direction",
           "reason"]


def heterogeneity(scale: Scale, pairs: pd.DataFrame, by: str, *, statistic: str | None = None,
                  window: str = "7D", min_clusters: int = SMALL_SLICE,
                  min_difference: float = DEFAULT_MIN_DIFFERENCE, alpha: float = DEFAULT_ALPHA,
                  n_resamples: int = bs.DEFAULT_RESAMPLES, seed: int = bs.DEFAULT_SEED,
                  level: float = bs.DEFAULT_LEVEL) -> pd.DataFrame:
    """Per judge version and slice of ``by``: the judge's agreement in the slice, elsewhere,
    the difference with its interval, p, the Benjamini–Hochberg q across that judge's slices,
    and ``flagged``. ``statistic`` defaults to the gate statistic of the value type.

    ``pairs`` is ``agreement.sql.judge_human_pairs`` output (or any frame with its
    columns); each judge version is tested on its own.
    """
    statistic = statistic or default_rule(scale.value_type).statistic
    if pairs.empty:
        return pd.DataFrame(columns=COLUMNS)
    values = slice_values(pairs, by, window).astype(str)
    frames = []
    for key, idx in pairs.groupby(list(JUDGE_KEYS), dropna=False, sort=True).indices.items():
        part = pairs.iloc[idx]
        rows = _one_judge(scale, part, values.iloc[idx].to_numpy(), statistic, min_clusters,
                          n_resamples, seed, level)
        rows = _adjust(rows, alpha, min_difference)
        frames.append(rows.assign(judge_name=key[0], judge_version=key[1], slice=by,
                                  statistic=statistic))
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def _one_judge(scale: Scale, part: pd.DataFrame, values: np.ndarray, statistic: str,
               min_clusters: int, n_resamples: int, seed: int, level: float) -> pd.DataFrame:
    """Unadjusted rows (no q, no flag) for one judge version's pairs."""
    h, j = scale.encode(part["human"]), scale.encode(part["judge"])
    ok = np.isfinite(h) & np.isfinite(j)
    codes, g = bs.factorize(cluster_keys(part, "item", "cluster")[ok])
    if scale.categorical:
        k = scale.k
        cell = (h[ok] * k + j[ok]).astype(np.int64)

        def sums(mask: np.ndarray) -> np.ndarray:
            return bs.cluster_counts(codes[mask], g, cell[mask], k * k)
    else:
        moments = interval.moment_rows(h[ok], j[ok])

        def sums(mask: np.ndarray) -> np.ndarray:
            return bs.cluster_sums(codes[mask], g, moments[mask])
    cells = sums(np.ones(len(codes), dtype=bool))
    finish = finisher(scale, statistic)
    d = cells.shape[1]
    values = values[ok]
    names = sorted(set(values.tolist()))
    masks = [values == v for v in names]
    inside = [sums(m) for m in masks]
    sizes = [(int((s.sum(axis=1) > 0).sum()), int(((cells - s).sum(axis=1) > 0).sum()))
             for s in inside]
    tested = [a >= min_clusters and b >= min_clusters for a, b in sizes]

    def every_slice(s: np.ndarray) -> dict[str, np.ndarray]:
        # Columns: the judge's total, then each slice's own sums; elsewhere = total - slice.
        out = {}
        for i in range(len(names)):
            part = s[:, (i + 1) * d:(i + 2) * d]
            here, rest = finish(part)[statistic], finish(s[:, :d] - part)[statistic]
            out |= {f"in{i}": here, f"out{i}": rest, f"diff{i}": here - rest}
        return out

    # One set of resampled sessions serves every slice: the same draws, computed once.
    res = bs.bootstrap(np.hstack([cells, *inside]), every_slice, n_resamples=n_resamples,
                       seed=seed)
    rows = []
    for i, value in enumerate(names):
        est, boot = res[f"diff{i}"]
        boot = boot if tested[i] else np.array([])
        p, reason = _p_value(est, boot, tested[i], *sizes[i], min_clusters)
        ci = (bs.percentile_interval(est, boot, g, level) if tested[i]
              else bs.Interval(np.nan, np.nan, True))
        own = bs.percentile_interval(res[f"in{i}"][0], res[f"in{i}"][1], sizes[i][0], level)
        rows.append({"slice_value": value, "n": int(masks[i].sum()), "n_clusters": sizes[i][0],
                     "agreement": res[f"in{i}"][0], "agreement_low": own.low,
                     "agreement_high": own.high, "elsewhere": res[f"out{i}"][0],
                     "n_elsewhere": int((~masks[i]).sum()), "difference": est,
                     "ci_low": ci.low, "ci_high": ci.high, "p": p, "reason": reason})
    return pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in (
        "judge_name", "judge_version", "slice", "statistic", "q", "flagged")])


def _p_value(est: float, boot: np.ndarray, tested: bool, g_in: int, g_out: int,
             min_clusters: int) -> tuple[float, str]:
    """Two-sided p from the bootstrap standard error (see the module docstring), or NaN and
    why not."""
    if not tested:
        where = (f"{g_in} sessions in the slice" if g_in < min_clusters
                 else f"{g_out} sessions elsewhere")
        return np.nan, f"not tested: {where}, fewer than {min_clusters}"
    fine = boot[np.isfinite(boot)]
    if not np.isfinite(est) or fine.size < bs.MIN_DEFINED_SHARE * max(boot.size, 1):
        return np.nan, "not tested: the statistic is undefined in the slice or the rest"
    g = min(g_in, g_out)
    se = float(fine.std(ddof=1)) * np.sqrt(g / (g - 1))
    if se <= 0:
        return (1.0 if est == 0 else 0.0), "no spread in the resamples"
    return float(2 * student_t.sf(abs(est) / se, g - 1)), ""


def _adjust(rows: pd.DataFrame, alpha: float, min_difference: float) -> pd.DataFrame:
    """Benjamini–Hochberg q over the tested slices, and the flag with its reason."""
    rows = rows.assign(q=np.nan, flagged=False, direction="")
    tested = rows["p"].notna()
    if tested.any():
        rows.loc[tested, "q"] = false_discovery_control(rows.loc[tested, "p"].to_numpy(),
                                                        method="bh")
    for i in rows.index[tested]:
        diff, q = rows.at[i, "difference"], rows.at[i, "q"]
        if q > alpha:
            rows.at[i, "reason"] = f"q {q:.3f} above {alpha:.2f}: no clear difference"
        elif abs(diff) < min_difference:
            rows.at[i, "reason"] = (f"clear but small: {diff:+.3f}, under "
                                    f"{min_difference:.2f}")
        else:
            side = "lower" if diff < 0 else "higher"
            rows.at[i, "flagged"], rows.at[i, "direction"] = True, side
            rows.at[i, "reason"] = f"{side} here than elsewhere ({diff:+.3f}, q {q:.3f})"
    return rows
