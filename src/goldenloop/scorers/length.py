"""Output length: characters (Unicode code points) and words (runs of non-space characters).

Computed in Arrow over the whole batch; a missing output (an error, a timeout) has no length
(null), an empty one has length 0.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from goldenloop.scorers._texts import Texts, as_strings

NAME = "length"
VERSION = "1"


def score(texts: Texts) -> tuple[pa.Int32Array, pa.Int32Array]:
    """(characters, words) of each text."""
    arr = as_strings(texts)
    chars = pc.utf8_length(arr).cast(pa.int32())
    words = pc.count_substring_regex(arr, r"\S+").cast(pa.int32())
    return chars, words
