"""Helpers every text scorer shares: texts as one Arrow string array, and scoring each
distinct text once.

Production texts repeat a lot (greetings, canned answers, templated replies), so scorers that
run per text in Python score the distinct texts of a batch and spread the results back by
index: the cost follows the number of distinct texts, not of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Texts = pa.Array | pa.ChunkedArray | Sequence[str | None]

# Long texts are scored on their opening only: the models here are built for short texts,
# and a 100 kB answer would otherwise cost as much as thousands of ordinary ones.
MAX_CHARS = 5_000


def as_strings(texts: Texts) -> pa.StringArray:
    """``texts`` as one (unchunked) Arrow string array; None stays null."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), pa.string())
    if texts.type == pa.large_string():
        texts = texts.cast(pa.string())
    return texts


def nonblank(texts: pa.StringArray) -> pa.StringArray:
    """Blank texts become null: there is nothing in them to judge."""
    blank = pc.equal(pc.utf8_trim_whitespace(texts), "")
    return pc.if_else(blank, pa.scalar(None, pa.string()), texts)


def per_distinct(texts: Texts, fn: Callable[[list[str]], np.ndarray]) -> pa.DoubleArray:
    """``fn`` over the distinct non-blank texts, spread back to every row; null stays null."""
    arr = nonblank(as_strings(texts))
    arr = pc.utf8_slice_codeunits(arr, 0, MAX_CHARS)
    encoded = arr.dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    values = np.asarray(fn(distinct), dtype=np.float64) if distinct else np.empty(0)
    return pa.array(values, pa.float64()).take(encoded.indices)


def package_version(name: str) -> str:
    """Installed version of a scorer's package: a new model release means a new version."""
    try:
        return version(name)
    except PackageNotFoundError:  # running from a source tree without metadata
        return "unknown"
