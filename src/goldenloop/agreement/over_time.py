"""Agreement over time: one statistic per fixed-width window, per judge version.

The window widens with the time the grades span, so a month of grades gives days and a year
gives weeks or months: each window must hold enough pairs for its interval to say something.
Windows with few independent units are kept and marked ``small`` (see ``slices``).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement.by_group import statistic_by
from goldenloop.agreement.scale import Scale
from goldenloop.agreement.slices import SMALL_SLICE

# (width, pandas frequency), narrowest first.
WIDTHS = ((timedelta(hours=6), "6h"), (timedelta(days=1), "1D"), (timedelta(days=7), "7D"),
          (timedelta(days=28), "28D"), (timedelta(days=91), "91D"))
MAX_WINDOWS = 31  # more points than a half-width chart can show apart
MIN_WINDOWS = 6   # fewer and it is no longer a line over time
COLUMNS = ("judge_name", "judge_version", "window_start", "window", "statistic", "value",
           "ci_low", "ci_high", "n", "n_items", "n_clusters", "small", "note")


def window_for(span: timedelta, n_pairs: int, per_window: int = SMALL_SLICE) -> str:
    """The narrowest window width that cuts ``span`` into at most ``MAX_WINDOWS`` windows
    holding ``per_window`` pairs on average — or, when the pairs are too few for that, into
    no fewer than ``MIN_WINDOWS`` windows (each then marked small)."""
    for width, freq in WIDTHS:
        windows = span // width + 1
        if windows <= MAX_WINDOWS and (n_pairs / windows >= per_window
                                       or windows <= MIN_WINDOWS):
            return freq
    return WIDTHS[-1][1]


def pair_times(pairs: pd.DataFrame) -> pd.Series:
    """When each pair happened: the graded span's start, else when the judge graded it."""
    when = pd.to_datetime(pairs["start_time"])
    return when.fillna(pd.to_datetime(pairs["judge_created_at"]))


def agreement_over_time(scale: Scale, pairs: pd.DataFrame, statistic: str, *,
                        window: str | None = None, small: int = SMALL_SLICE,
                        n_resamples: int = bs.DEFAULT_RESAMPLES, seed: int = bs.DEFAULT_SEED,
                        level: float = bs.DEFAULT_LEVEL) -> pd.DataFrame:
    """``statistic`` with its interval in each time window, per judge version."""
    when = pair_times(pairs).dropna() if len(pairs) else pd.Series(dtype="datetime64[us]")
    if when.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    # Windows must suit each judge version's own pairs: versions are never pooled.
    per_version = int(pairs.groupby(["judge_name", "judge_version"]).size().max())
    window = window or window_for((when.max() - when.min()).to_pytimedelta(), per_version)
    timed = pairs.assign(window_start=pair_times(pairs).dt.floor(window))
    # Pairs with no time at all are no point on a time axis.
    timed = timed[timed["window_start"].notna()]
    out = statistic_by(scale, timed, ["judge_name", "judge_version", "window_start"], statistic,
                       small=small, n_resamples=n_resamples, seed=seed, level=level)
    out = out.assign(window=window)
    return out[list(COLUMNS)].sort_values(["judge_name", "judge_version", "window_start"],
                                          ignore_index=True)
