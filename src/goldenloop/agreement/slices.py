"""Agreement per slice: judge version, model version, app, reviewer or time window.

Every slice is shown, however small. One with fewer than ``SMALL_SLICE`` independent units
(sessions, or items when there are none) is marked ``small``: its interval is wide and,
below a handful of units, unreliable, but hiding it would hide exactly the model version or
week that just started. Slices never mix judges: each judge version is sliced on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from goldenloop.agreement import bootstrap as bs
from goldenloop.agreement.report import agreement_for
from goldenloop.agreement.scale import Scale

SMALL_SLICE = 30  # independent units (clusters) below which a slice is marked small
DIMENSIONS = {
    "judge_version": "judge_version",
    "model_version": "model_version",
    "app": "app",
    "reviewer": "reviewer",
    "time": "window_start",
}
JUDGE_KEYS = ("judge_name", "judge_version")
NO_VALUE = "(none)"


def time_windows(pairs: pd.DataFrame, window: str) -> pd.Series:
    """Start of the fixed-width window (e.g. '1D', '7D', '12h') each pair falls in: by the
    graded span's start time, else by when the judge graded it."""
    when = pd.to_datetime(pairs["start_time"])
    if "judge_created_at" in pairs:
        when = when.fillna(pd.to_datetime(pairs["judge_created_at"]))
    return when.dt.floor(window)


def slice_agreement(scale: Scale, pairs: pd.DataFrame, by: str, *, window: str = "7D",
                    statistics: Sequence[str] | None = None, small: int = SMALL_SLICE,
                    n_resamples: int = bs.DEFAULT_RESAMPLES, seed: int = bs.DEFAULT_SEED,
                    level: float = bs.DEFAULT_LEVEL) -> pd.DataFrame:
    """Judge–human agreement in each slice of ``by`` (one of ``DIMENSIONS``), per judge version.

    ``pairs`` is ``store.agreement_sql.judge_human_pairs`` output (or any frame with its
    columns). Returns the judge keys, ``slice``, ``slice_value``, the statistic columns of
    ``agreement_for`` and ``small``.
    """
    if by not in DIMENSIONS:
        raise ValueError(f"cannot slice by {by!r}: choose one of {', '.join(DIMENSIONS)}")
    df = pairs.copy()
    if by == "time":
        df["window_start"] = time_windows(df, window)
    col = DIMENSIONS[by]
    df[col] = df[col].astype(object).where(df[col].notna(), NO_VALUE)
    keys = list(dict.fromkeys([*JUDGE_KEYS, col]))
    frames = []
    for values, part in df.groupby(keys, dropna=False, sort=True):
        rows = agreement_for(scale, part, cluster="cluster", n_resamples=n_resamples,
                             seed=seed, level=level)
        if statistics is not None:
            rows = rows[rows["statistic"].isin(statistics)]
        frames.append(rows.assign(**dict(zip(keys, values, strict=True)), slice=by,
                                  slice_value=values[-1]))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    out["small"] = out["n_clusters"] < small
    if col not in JUDGE_KEYS:
        out = out.drop(columns=col)
    lead = [*JUDGE_KEYS, "slice", "slice_value"]
    return out[lead + [c for c in out.columns if c not in lead]]
