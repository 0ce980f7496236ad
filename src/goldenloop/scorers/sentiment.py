"""Sentiment: VADER's compound score in [-1, 1] (negative … positive).

VADER is a rule-based lexicon built for short English social-media texts: it reads
intensifiers, negation, capitals, punctuation and emoticons, and knows nothing of other
languages, sarcasm or domain meaning ("the query killed it" reads as negative). Read it as
the tone of short English texts, averaged over many spans, not as a verdict on one.

VADER scores one text at a time in Python, so each distinct text of a batch is scored once
(production texts repeat a lot; see ``_texts.per_distinct``).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa

from goldenloop.scorers._texts import Texts, package_version, per_distinct

NAME = "sentiment"
PACKAGE = "vaderSentiment"
_WRAPPER = 1
VERSION = f"{PACKAGE} {package_version(PACKAGE)}/{_WRAPPER}"


@cache
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()  # reads its lexicon from the wheel: no download


def _compound(texts: list[str]) -> np.ndarray:
    polarity = _analyzer().polarity_scores
    return np.fromiter((polarity(t)["compound"] for t in texts), np.float64, len(texts))


def score(texts: Texts) -> pa.DoubleArray:
    """Compound sentiment in [-1, 1] of each text; null for a missing or blank text."""
    return per_distinct(texts, _compound)
