"""Untrusted text (model output, user text, every name from data) made safe to show.

Two helpers, one per way a page shows text:
- ``visible``: for plain text (``st.text``, ``st.code``, table cells): bidi controls and other
  invisible characters become visible markers such as ``<U+202E>``, so a right-to-left
  override cannot reverse what a reviewer reads and a zero-width character cannot hide.
- ``md``: for the few places that always render Markdown (labels, titles, captions, widget
  texts): ``visible``, on one line, with a backslash before every character Markdown or
  Streamlit's extras act on inside a line (emphasis, code, links and images, HTML and entities,
  ``:red[...]``, ``:material/...:``, ``$...$``), before a list or quote marker at the start,
  and with the web addresses GitHub Markdown would link by themselves (``http://``, ``www.``,
  ``a@b.c``) broken by an invisible word joiner. Hyphens, dots and quotes inside a line mean
  nothing to Markdown and stay as they are, so ``gpt-4.1`` reads the same in a test.
Prefer plain text; use ``md`` only where Streamlit offers nothing else.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

# Invisible characters that change or hide what is shown: format characters (bidi controls,
# zero-width characters, the BOM, soft hyphen), control characters other than tab and line
# feed, and the line and paragraph separators.
_KEEP = {"\t", "\n"}
_HIDDEN_CATEGORIES = {"Cf", "Cc", "Zl", "Zp"}
# CommonMark lets a backslash escape any ASCII punctuation; these are the ones that act.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#!|~:$&^])")
_LINE_START = re.compile(r"^(\d{0,9})([-+.)])(?=\s|$)")  # a list item: "- x", "1. x"
_JOINER = "\u2060"  # WORD JOINER: invisible, and not part of a web address
# Bare addresses the GitHub Markdown extension turns into links, after escaping (``\:``).
_AUTOLINK = re.compile(r"(?i)(https?|ftp|mailto|xmpp)(?=\\:)|(www)(?=\.)|(?<=@)")
MD_LIMIT = 300


def _marker(ch: str) -> str:
    if ch in _KEEP or unicodedata.category(ch) not in _HIDDEN_CATEGORIES:
        return ch
    return f"<U+{ord(ch):04X}>"


def visible(value: object) -> str:
    """``value`` as text with every invisible or direction-changing character shown as
    ``<U+XXXX>``; an empty string for None or a missing value."""
    if value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value)
                         and pd.isna(value)):
        return ""
    text = str(value)
    if text.isascii() and text.isprintable():
        return text  # the common case, without a look at every character
    return "".join(_marker(ch) for ch in text)


def md(value: object, limit: int = MD_LIMIT) -> str:
    """``value`` as Markdown that renders as exactly its text, on one line, at most ``limit``
    characters (an ellipsis marks a cut)."""
    text = " ".join(visible(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    escaped = _LINE_START.sub(r"\1\\\2", _SPECIAL.sub(r"\\\1", text))
    return _AUTOLINK.sub(lambda m: (m.group(1) or m.group(2) or "") + _JOINER, escaped)


def visible_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text columns are passed through ``visible`` (for tables of
    untrusted text: a grid cell honours bidi controls as a page does)."""
    text = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]
    if not text or df.empty:
        return df
    return df.assign(**{c: df[c].map(lambda v: v if not isinstance(v, str) else visible(v))
                        for c in text})
