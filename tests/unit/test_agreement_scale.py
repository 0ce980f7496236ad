"""Scale reads each distinct grade value once: same codes as reading every row, in time that
grows with distinct values rather than rows."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from goldenloop.agreement.scale import BOOLEAN_CATEGORIES, Scale, _boolean_key, label_of

POOL = [1, 2.0, 3, "4", 5.0, None, np.nan, True, False, "pass", "FAIL", "x", pd.NA,
        np.int64(2), np.float64(3.0), "yes", 0]


def _row_by_row(scale: Scale, values) -> np.ndarray:
    """The reference: every row read on its own."""
    index = {c: i for i, c in enumerate(scale.categories or ())}
    out = []
    for v in values:
        key = label_of(v)
        if scale.value_type == "boolean":
            key = _boolean_key(key)
        out.append(index.get(key, np.nan))
    return np.array(out, dtype=float)


def _forms(values: list) -> list:
    return [values, np.array(values, dtype=object), pd.Series(values, dtype=object),
            pd.Series([label_of(v) for v in values]).astype("category")]


@pytest.mark.parametrize("value_type, categories", [
    ("nominal", None), ("nominal", ("x", "pass")), ("ordinal", None),
    ("ordinal", ("1", "2", "3", "4", "5")), ("boolean", None)])
def test_codes_equal_reading_every_row(value_type, categories):
    rng = np.random.default_rng(7)
    for _ in range(20):
        values = [POOL[i] for i in rng.integers(0, len(POOL), 60)]
        for form in _forms(values):
            scale = Scale(value_type, categories).with_observed(form)
            seen = sorted({label_of(v) for v in values} - {None})
            if value_type == "nominal":
                assert set(scale.categories) == set(categories or ()) | set(seen)
            got = scale.encode(form)
            assert np.array_equal(got, _row_by_row(scale, values), equal_nan=True)


def test_boolean_codes_of_a_numeric_categorical():
    # Grades arrive as categoricals on the page; numbers 1/0 read as pass/fail.
    values = pd.Series([1.0, 0.0, np.nan, 1.0, 2.0]).astype("category")
    codes = Scale("boolean").encode(values)
    assert BOOLEAN_CATEGORIES == ("fail", "pass")
    assert np.array_equal(codes, [1.0, 0.0, np.nan, 1.0, np.nan], equal_nan=True)


def test_cost_grows_with_distinct_values_not_rows():
    rng = np.random.default_rng(0)
    col = pd.Series(rng.integers(1, 6, 300_000).astype(float)).astype(object)
    t = time.perf_counter()
    scale = Scale("ordinal").with_observed(col, col)
    codes = scale.encode(col)
    took = time.perf_counter() - t
    assert scale.categories == ("1", "2", "3", "4", "5")
    assert np.array_equal(codes, col.to_numpy(dtype=float) - 1)
    # Reading 900k rows one by one takes over a second; distinct values, a few ms (the bound
    # leaves room for a busy machine).
    assert took < 0.4, f"{took:.2f} s for 300k rows"
