"""Refusals: answers where the assistant declines ("I'm sorry, but I can't help with that").

A small set of English patterns, matched case-insensitively in Arrow (RE2) over the opening
of each answer. Each pattern needs a first-person subject ("I", "we") *and* a declining verb,
because the near misses are everywhere in support answers: "I can help with that",
"I can't wait to help", "Sorry for the delay", "the item can't be returned after 7 days",
"Sorry, I can't find that order" (a failed lookup, not a refusal). It flags refusals whether
they were right (an out-of-scope or harmful request) or wrong (an in-scope question): the
rate over time and by model version is the signal; graders judge the single case.

The version carries a hash of the patterns, so editing them makes every answer scored again.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc

from goldenloop.scorers._texts import Texts, as_strings

NAME = "refusal"
# Refusals lead: an answer that helps for a paragraph and then declines a side request is
# not a refusal of the request. Only the opening is searched.
HEAD_CHARS = 300

# "I can't", "we're unable to", "I am not able to", "I won't be able to", ...
_CANT = (r"\b(?:i|we)(?:\s+am|\s+are|'m|'re)?\s+(?:can't|cannot|can\s+not|unable\s+to|"
         r"not\s+able\s+to|(?:won't|will\s+not)(?:\s+be\s+able\s+to)?|not\s+(?:allowed|permitted)\s+to)")
# Verbs of doing what was asked (not "find", "see", "wait", "make it clearer").
_DO = (r"(?:help|assist|do|provide|write|share|create|generate|fulfil+|comply|answer|discuss|"
       r"give|engage|support|produce|offer)")

PATTERNS: tuple[str, ...] = (
    # "I can't help with that", "we're unable to assist you with this request", "I can't help."
    # ("I can't help but notice" and "I can't help thinking" do not end the clause: no match.)
    _CANT + r"\s+(?:help|assist)(?:\s+you)?(?:\s+with\s+(?:that|this|it|your\s+request|such|"
    r"those|requests?)\b|\s*[.!,;:]|\s*$)",
    # "I'm not able to do that", "I cannot provide this", "I won't write that".
    _CANT + r"\s+" + _DO + r"\s+(?:that|this|it|such|your\s+request)\b",
    # "I cannot comply", "I cannot fulfil this request".
    _CANT + r"\s+(?:comply|fulfil+\s+(?:your|the|this|that)\s+request)\b",
    # An apology or regret, then "I/we can't <do>" in the same sentence:
    # "I'm sorry, but I can't write queries that change data", "Unfortunately, I'm not able
    # to provide that". "Sorry, I can't find that order" has no declining verb: no match.
    r"\b(?:sorry|afraid|apologi[sz]e|unfortunately)\b[^.!?\n]{0,30}?" + _CANT + r"\s+" + _DO + r"\b",
    # "As an AI language model, I cannot ...", "As an AI, I don't ..."
    r"\bas\s+an\s+ai(?:\s+(?:language\s+)?(?:model|assistant))?,?\s+i\s+(?:can't|cannot|"
    r"can\s+not|am\s+not|'m\s+not|am\s+unable|'m\s+unable|don't|do\s+not|won't|will\s+not)\b",
    # "I must decline", "I have to respectfully decline", "I refuse to help".
    r"\bi\s+(?:must|have\s+to|need\s+to|will\s+have\s+to|'ll\s+have\s+to)\s+(?:respectfully\s+)?"
    r"decline\b",
    r"\bi\s+(?:refuse\s+to|won't|will\s+not)\s+(?:help|assist)\b",
    # "That's not something I can help with", "this isn't something we can assist with".
    r"\b(?:that|this|it)(?:'s|\s+is)\s+(?:not|n't)\s+something\s+(?:i|we)\s+(?:can|am\s+able\s+to|"
    r"'m\s+able\s+to|are\s+able\s+to)\s+(?:help|assist)",
    r"\b(?:that|this|it)\s+isn't\s+something\s+(?:i|we)\s+can\s+(?:help|assist)",
)
PATTERN = "|".join(f"(?:{p})" for p in PATTERNS)
_REVISION = 1
VERSION = f"en.{_REVISION}+{hashlib.sha1(PATTERN.encode()).hexdigest()[:8]}"

_APOSTROPHES = "[\u2018\u2019\u02bc\u0060\u00b4]"  # typographic apostrophes read as "'"


def score(texts: Texts) -> pa.BooleanArray:
    """True where a text opens with a refusal; null for a missing text."""
    head = pc.utf8_slice_codeunits(as_strings(texts), 0, HEAD_CHARS)
    norm = pc.replace_substring_regex(pc.utf8_lower(head), _APOSTROPHES, "'")
    return pc.match_substring_regex(norm, PATTERN)
