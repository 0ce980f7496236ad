"""What each signals column is called on screen and what it honestly measures, so pages and
reports label the signals the same way (and never oversell them)."""

from __future__ import annotations

from goldenloop.scorers.refusal import HEAD_CHARS

_OFFENSIVE = ("Probability of offensive language (profanity, insults, slurs) from "
              "alt-profanity-check's shipped linear model. English; word-based: it misses polite "
              "hostility and threats without rude words, and ignores context. Not a toxicity or "
              "safety judgement.")
_SENTIMENT = ("VADER compound sentiment, from -1 (negative) to +1 (positive). A lexicon built "
              "for short English texts: other languages read as neutral, sarcasm is missed. "
              "Compare averages over many spans, not single values.")
_MODERATION = ("Flagged by the configured moderation endpoint (OpenAI's or a compatible one); "
               "the score is its highest category score. Only spans moderated so far have a "
               "value.")

# column: (label, help)
SIGNALS: dict[str, tuple[str, str]] = {
    "user_offensive": ("Offensive language, user", _OFFENSIVE),
    "output_offensive": ("Offensive language, answer", _OFFENSIVE),
    "user_sentiment": ("Sentiment, user", _SENTIMENT),
    "output_sentiment": ("Sentiment, answer", _SENTIMENT),
    "output_chars": ("Answer length (characters)", "Unicode characters of the answer; empty "
                     "when the call returned no answer (an error or a timeout)."),
    "output_words": ("Answer length (words)", "Runs of non-space characters in the answer."),
    "refusal": ("Refusal", "The answer opens by declining (\"I'm sorry, but I can't help with "
                f"that\"): English patterns over its first {HEAD_CHARS} characters. Right and "
                "wrong refusals alike; graders judge which."),
    "user_moderation_flagged": ("Moderation flag, user", _MODERATION),
    "output_moderation_flagged": ("Moderation flag, answer", _MODERATION),
    "user_moderation_score": ("Moderation score, user", _MODERATION),
    "output_moderation_score": ("Moderation score, answer", _MODERATION),
}
