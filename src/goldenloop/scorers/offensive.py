"""Offensive language: the probability that a text contains profanity or insults.

The model is alt-profanity-check's: a TF-IDF bag of words and a calibrated linear SVM,
trained on crowd-labelled comments for profanity and offensive language, shipped inside the
wheel (nothing is downloaded). It is fast and good at what it was trained for — swearing,
insults, slurs — and that is all this signal claims. It is *not* a toxicity or safety
judgement: it misses polite hostility, threats and harmful requests written without rude
words, it does not understand context or negation ("that's not stupid at all" scores high),
and it is English only. The optional moderation scorer is the stronger safety signal.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa

from goldenloop.scorers._texts import Texts, package_version, per_distinct

NAME = "offensive"
PACKAGE = "alt-profanity-check"
# Bump when this wrapper changes what it feeds the model or how it reads the answer.
_WRAPPER = 1
VERSION = f"{PACKAGE} {package_version(PACKAGE)}/{_WRAPPER}"


@cache
def _model():
    """The vectorizer and classifier, loaded once per process (about 1 s: sklearn)."""
    from profanity_check import profanity_check

    return profanity_check.vectorizer, profanity_check.model


def _probabilities(texts: list[str]) -> np.ndarray:
    vectorizer, model = _model()
    # predict_proba directly: the package's predict_prob adds a slow per-row Python step.
    return model.predict_proba(vectorizer.transform(texts))[:, 1]


def score(texts: Texts) -> pa.DoubleArray:
    """Probability in [0, 1] that each text is offensive; null for a missing or blank text."""
    return per_distinct(texts, _probabilities)
