"""How a criterion's grades become numbers the statistics can use.

Nominal, boolean and ordinal grades become category codes (0..K-1, in the criterion's label
order, which is the rank order for ordinal scales); interval grades stay numbers. Anything
missing or outside the scale becomes NaN, so every statistic drops it pairwise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from goldenloop.errors import GoldenloopError

VALUE_TYPES = ("interval", "ordinal", "nominal", "boolean")
CATEGORICAL = ("ordinal", "nominal", "boolean")
BOOLEAN_CATEGORIES = ("fail", "pass")
_PASS = {"pass", "passed", "true", "yes", "y", "1", "ok", "good"}
_FAIL = {"fail", "failed", "false", "no", "n", "0", "bad"}


class AgreementError(GoldenloopError):
    """Agreement cannot be computed as asked (unknown criterion, text criterion, ...)."""


def label_of(value: object) -> str | None:
    """The category key of one grade value: numbers print without a trailing '.0'."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, int | float | np.integer | np.floating):
        return f"{float(value):g}"
    return str(value)


def _boolean_key(label: str | None) -> str | None:
    if label is None:
        return None
    key = label.strip().lower()
    return "pass" if key in _PASS else "fail" if key in _FAIL else None


def _distinct(values: Iterable) -> Iterable:
    """The distinct values of a column (in C, by hash): equal values share one label, so
    reading labels per distinct value gives the same set as per row."""
    if isinstance(values, pd.Series | pd.Categorical | pd.Index | np.ndarray | list | tuple):
        with contextlib.suppress(TypeError):  # unhashable values (lists) are read one by one
            return pd.factorize(pd.Series(values) if isinstance(values, list | tuple) else values,
                                use_na_sentinel=True)[1]
    return values


@dataclass(frozen=True)
class Scale:
    """A criterion's value type and, for categorical types, its ordered categories."""

    value_type: str
    categories: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.value_type not in VALUE_TYPES:
            raise AgreementError(
                f"no agreement statistics for value type {self.value_type!r}: "
                f"expected one of {', '.join(VALUE_TYPES)}")
        if self.value_type == "boolean":
            object.__setattr__(self, "categories", BOOLEAN_CATEGORIES)

    @property
    def categorical(self) -> bool:
        return self.value_type in CATEGORICAL

    @property
    def k(self) -> int:
        return len(self.categories or ())

    @classmethod
    def from_criterion(cls, row: Mapping) -> Scale:
        """From a ``criteria`` row: ordered ``labels``, else the integer range min..max."""
        value_type = row.get("value_type")
        labels = row.get("labels")
        if labels is not None and len(labels) > 0:
            return cls(value_type, tuple(str(x) for x in labels))
        lo, hi = row.get("min_value"), row.get("max_value")
        if (value_type == "ordinal" and lo is not None and hi is not None
                and not (pd.isna(lo) or pd.isna(hi)) and float(lo).is_integer()
                and float(hi).is_integer() and hi - lo < 1000):
            return cls(value_type, tuple(label_of(v) for v in range(int(lo), int(hi) + 1)))
        return cls(value_type)

    def with_observed(self, *columns: Iterable) -> Scale:
        """Add categories seen in the data when the criterion lists none (or not all).

        Ordinal categories without labels are ordered by their numeric value; nominal ones
        alphabetically, after the listed labels.
        """
        if not self.categorical or self.value_type == "boolean":
            return self
        seen = {label_of(v) for col in columns for v in _distinct(col)} - {None}
        known = list(self.categories or ())
        extra = sorted(seen - set(known))
        if not extra:
            return self
        if self.value_type == "ordinal" and not known:
            with contextlib.suppress(ValueError):  # non-numeric labels keep alphabetical order
                extra = sorted(extra, key=float)
        elif self.value_type == "ordinal":
            # An ordinal scale cannot guess where unlisted labels rank: they stay missing.
            return self
        return replace(self, categories=tuple(known + extra))

    def encode(self, values: Sequence | pd.Series) -> np.ndarray:
        """Codes (categorical) or numbers (interval) as floats; NaN for missing or unknown."""
        s = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
        if not self.categorical:
            return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        # Grades take a handful of distinct values: read each once, then index the codes.
        try:
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
        except TypeError:  # unhashable values (lists): read them one by one
            codes, uniques = np.arange(len(s)), list(s)
        keys = [label_of(u) for u in uniques]
        if self.value_type == "boolean":
            keys = [_boolean_key(k) for k in keys]
        index = {c: float(i) for i, c in enumerate(self.categories or ())}
        per_value = np.array([index.get(k, np.nan) for k in keys] + [np.nan], dtype=float)
        return per_value[codes]  # the sentinel -1 (missing) picks the trailing NaN

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Category labels for integer codes (interval values pass through)."""
        if not self.categorical:
            return np.asarray(codes, dtype=float)
        cats = np.array(list(self.categories or ()), dtype=object)
        out = np.full(len(codes), None, dtype=object)
        ok = np.isfinite(codes)
        out[ok] = cats[codes[ok].astype(int)]
        return out
