"""Model output (and user text) shown readably and safely on the grading screen.

The text is parsed as CommonMark by markdown-it-py (a dependency of Streamlit's) with raw HTML
off, only to find its blocks: fenced and indented code become ``st.code`` (a fenced SQL block
is shown as SQL), and everything else — paragraphs, list items under a bullet or their
number, one per line, quotes, headings — becomes plain text drawn by ``st.text``, each
block's own words verbatim. Nothing is ever given to a Markdown or HTML renderer, so no
markup is interpreted: an ``<img>`` or ``<script>`` tag, an image, a ``javascript:`` link
and ``**bold**`` stay the characters they are; nothing is fetched, run or linked. Bidi
controls and invisible characters are made visible as everywhere else
(``untrusted.visible``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import streamlit as st
from markdown_it import MarkdownIt

from goldenloop_app.untrusted import visible

_LANGUAGE = re.compile(r"^[A-Za-z0-9_+#.-]{1,20}$")


@dataclass(frozen=True)
class Block:
    kind: str                   # "text" or "code"
    text: str
    language: str | None = None


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False})


def blocks(text: str) -> list[Block]:
    """``text`` as a list of plain-text and code blocks (adjacent prose joined)."""
    found: list[Block] = []
    prose: list[str] = []
    lists: list[list] = []      # per open list: [ordered?, next number]
    quote = 0
    pending = ""                # a list item's bullet, for its first paragraph

    in_list = [False]           # whether the last prose added was a list item's

    def add_prose(line: str) -> None:
        prefix = "│ " * quote + "  " * max(0, len(lists) - 1)
        text = "\n".join(prefix + (pending if i == 0 else " " * len(pending)) + part
                         for i, part in enumerate(line.split("\n")))
        if lists and in_list[0] and prose:  # list items one per line, not a paragraph each
            prose[-1] += "\n" + text
        else:
            prose.append(text)
        in_list[0] = bool(lists)

    def flush() -> None:
        if prose:
            found.append(Block("text", "\n\n".join(prose)))
            prose.clear()
        in_list[0] = False

    for t in _parser().parse(text):
        if t.type in ("bullet_list_open", "ordered_list_open"):
            lists.append([t.type == "ordered_list_open", int(t.attrs.get("start") or 1)])
        elif t.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif t.type == "list_item_open" and lists:
            ordered, n = lists[-1]
            pending = f"{n}. " if ordered else "• "
            lists[-1][1] = n + 1
        elif t.type == "blockquote_open":
            quote += 1
        elif t.type == "blockquote_close":
            quote -= 1
        elif t.type == "inline":
            add_prose(t.content)  # the source text of the block, verbatim
            pending = ""
        elif t.type == "hr":
            add_prose("———")
        elif t.type in ("fence", "code_block"):
            flush()
            info = (t.info or "").strip().split(" ")[0]
            found.append(Block("code", t.content.rstrip("\n"),
                               info.lower() if _LANGUAGE.match(info) else None))
    flush()
    return found


def draw(text: str) -> None:
    """Draw ``text`` as its blocks: prose with ``st.text``, code with ``st.code``."""
    parts = blocks(text)
    if not parts:
        st.text(visible(text))
        return
    for b in parts:
        if b.kind == "code":
            st.code(visible(b.text), language=b.language, wrap_lines=True)
        else:
            st.text(visible(b.text))
