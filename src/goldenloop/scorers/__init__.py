"""Automatic per-text signals, written to the wide ``signals`` table (DESIGN.md).

Offline scorers (nothing is downloaded; each module has ``NAME``, ``VERSION`` and a batched
``score(texts)`` over an Arrow array or a list, null in, null out):

- ``offensive``: offensive-language probability (alt-profanity-check's shipped linear model),
- ``sentiment``: VADER compound sentiment in [-1, 1] (short English texts),
- ``refusal``: English refusal patterns ("I'm sorry, but I can't help with that"),
- ``length``: output characters and words.

``moderation`` calls an OpenAI-compatible moderation endpoint when configured. ``run`` scores
the LLM spans that need it and is the worker's "score" job.
"""

from goldenloop.scorers.run import ScoreResult, compute, score_job, score_spans, versions

__all__ = ["ScoreResult", "compute", "score_job", "score_spans", "versions"]
