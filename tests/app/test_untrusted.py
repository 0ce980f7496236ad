"""``app/untrusted.py``: invisible and bidi characters made visible, and untrusted text made
Markdown that renders as exactly its text. Rendering is checked with markdown-it-py (an
independent CommonMark implementation); Streamlit's own renderer is checked in Chromium by
tests/test_browser_hostile.py."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

markdown_it = pytest.importorskip("markdown_it")
from goldenloop_app.untrusted import md, visible, visible_frame  # noqa: E402

JOINER = "\u2060"
HOSTILE = [
    "![x](http://203.0.113.7/x.png)", "<img src=http://203.0.113.7/h.png>", "[a](javascript:1)",
    "**bold** _it_ `code` ~~s~~", "# heading", "- item", "1. item", "> quote", "&amp; &#60;",
    ":red[red] :material/home: $x^2$", "| a | b |", "line\nbreak\n\n- list", "\\*escaped\\*",
    "x <!-- c --> y", "http://example.com www.example.com a@b.example.com",
]


def rendered(markdown: str) -> str:
    return markdown_it.MarkdownIt("commonmark").render(markdown)


def as_text(markdown: str) -> str:
    """The text a reader sees: tags dropped, entities decoded, word joiners removed."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered(markdown))).strip().replace(JOINER, "")


@pytest.mark.parametrize("text", HOSTILE)
def test_md_renders_as_exactly_its_text(text: str) -> None:
    out = md(text)
    assert as_text(out) == " ".join(text.split())
    assert re.fullmatch(r"<p>[^<]*</p>\n", rendered(out)), rendered(out)  # one plain paragraph


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80))
def test_md_of_any_text_is_one_plain_paragraph(text: str) -> None:
    out = md(text)
    html_out = rendered(out)
    assert "<" not in re.sub(r"^<p>|</p>\n$", "", html_out) and "\n" not in out
    if html_out:
        assert as_text(out) == " ".join(visible(text).split())[:299] + (
            "…" if len(" ".join(visible(text).split())) > 300 else "")


def test_bare_addresses_are_not_linked() -> None:
    out = md("see http://203.0.113.7/x www.example.com a@b.example.com")
    for bare in ("http://", "www.", "@b"):
        assert bare not in out.replace("\\", "")  # each broken by a word joiner


def test_visible_marks_bidi_and_invisible_characters() -> None:
    assert visible("\u202egnp.exe") == "<U+202E>gnp.exe"
    assert visible("a\u200bb\u2066c\u2069\ufeff") == "a<U+200B>b<U+2066>c<U+2069><U+FEFF>"
    assert visible("tab\tand\nline\x07\x1b") == "tab\tand\nline<U+0007><U+001B>"
    assert visible("café 中文 😀") == "café 中文 😀"  # visible characters stay as they are
    assert visible(None) == "" and visible(float("nan")) == "" and visible(3) == "3"


def test_md_cuts_long_text_and_keeps_one_line() -> None:
    out = md("word " * 200, limit=50)
    assert len(out) == 50 and out.endswith("…") and "\n" not in out


def test_visible_frame_changes_text_columns_only() -> None:
    df = pd.DataFrame({"name": ["\u202eabc", "plain", None], "n": [1, 2, 3]})
    out = visible_frame(df)
    assert out["name"].tolist()[:2] == ["<U+202E>abc", "plain"] and pd.isna(out["name"].iloc[2])
    assert out["n"].tolist() == [1, 2, 3] and df["name"].iloc[0] == "\u202eabc"
