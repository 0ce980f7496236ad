"""Agreement per slice: judge version, model version, app, reviewer or time window, or any
key of the item metadata imported with the grades (``meta:KEY``, e.g. ``meta:generator``:
which model answered), so a judge that fails on one answering model shows.

Every slice is shown, however small. One with fewer than ``SMALL_SLICE`` independent units
(sessions, or items when there are none) is marked ``small``: its interval is wide and,
below a handful of units, unreliable, but hiding it would hide exactly the model version or
week that just started. Slices never mix judges: each judge version is sliced on its own.
"""

from __future__ import annotations

import json
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
META = "meta:"  # a slice by an item metadata key: "meta:generator"


def check_slice(by: str) -> str:
    if by not in DIMENSIONS and not (by.startswith(META) and len(by) > len(META)):
        raise ValueError(f"cannot slice by {by!r}: choose one of {', '.join(DIMENSIONS)} or "
                         f"{META}KEY (a key of the items' metadata)")
    return by


def slice_values(pairs: pd.DataFrame, by: str, window: str = "7D") -> pd.Series:
    """The slice of each pair under ``by``, as text-or-value with NO_VALUE where missing."""
    check_slice(by)
    if by == "time":
        values = time_windows(pairs, window)
    elif by.startswith(META):
        key = by[len(META):]
        meta = pairs["item_metadata"] if "item_metadata" in pairs else pd.Series(
            None, index=pairs.index, dtype=object)
        lookup = {m: _meta_value(m, key) for m in meta.dropna().unique()}
        values = meta.map(lookup)
    else:
        values = pairs[DIMENSIONS[by]]
    return values.astype(object).where(values.notna(), NO_VALUE)


def _meta_value(text: str, key: str) -> str | None:
    try:
        value = json.loads(text).get(key)
    except (ValueError, AttributeError):
        return None
    return None if value is None else str(value)


def metadata_keys(pairs: pd.DataFrame) -> list[str]:
    """The item metadata keys the pairs carry, as ``meta:KEY`` slice names."""
    if "item_metadata" not in pairs:
        return []
    keys: set[str] = set()
    for text in pairs["item_metadata"].dropna().unique():
        try:
            found = json.loads(text)
        except ValueError:
            continue
        if isinstance(found, dict):
            keys.update(str(k) for k in found)
    return [META + k for k in sorted(keys)]


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
    """Judge–human agreement in each slice of ``by`` (one of ``DIMENSIONS``, or ``meta:KEY``),
    per judge version.

    ``pairs`` is ``agreement.sql.judge_human_pairs`` output (or any frame with its
    columns). Returns the judge keys, ``slice``, ``slice_value``, the statistic columns of
    ``agreement_for`` and ``small``.
    """
    df = pairs.copy()
    col = DIMENSIONS.get(by, "_slice")
    df[col] = slice_values(pairs, by, window)
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
