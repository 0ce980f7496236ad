"""Model output on the Grade page, readable and safe: ``output_text`` splits it into code and
plain-text blocks (markdown-it-py, raw HTML off), and nothing reaches a Markdown or HTML
renderer. The hostile strings of the security tests (tests/hostile_data.py) go through the
splitter and through the page; the browser side (no request leaves 127.0.0.1) is in
tests/browser/test_browser_grade.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import hostile_data as hd
import pytest
from app_support import app_page
from review_support import demo_template, opts  # noqa: F401  (fixture)

from goldenloop import sampling
from goldenloop.schema import open_store
from goldenloop_app.review.output_text import blocks

SQL_ANSWER = ("Here is the query:\n\n```sql\nSELECT region, sum(total) AS revenue\n"
              "FROM orders GROUP BY region;\n```\n\nIt returns:\n\n- one row per region\n"
              "- the revenue of each\n\n" + hd.hostile("tail"))
MARKUP = (hd.IMG, hd.HTML, hd.LINK, hd.EXTRAS, "<script>alert(1)</script>")


@pytest.mark.parametrize("text", [hd.hostile("output"), hd.LONG, hd.HTML, hd.IMG, hd.LINK,
                                  hd.BIDI, hd.EXTRAS, "<script>alert(1)</script>"])
def test_hostile_prose_is_one_verbatim_text_block(text: str) -> None:
    assert blocks(text) == [type(blocks("x")[0])("text", text.strip())]


def test_code_lists_and_quotes_are_split_out() -> None:
    got = blocks(SQL_ANSWER)
    assert [(b.kind, b.language) for b in got] == [("text", None), ("code", "sql"),
                                                  ("text", None)]
    assert got[1].text == "SELECT region, sum(total) AS revenue\nFROM orders GROUP BY region;"
    assert got[2].text.splitlines()[:4] == ["It returns:", "",
                                            "• one row per region", "• the revenue of each"]
    assert got[2].text.endswith(hd.hostile("tail"))  # the markup in it kept as its characters
    assert blocks("1. a\n2. b\n\n> said\n\n    indented")[0].text == "1. a\n2. b\n\n│ said"
    assert blocks("```\n<img src=x onerror=alert(1)>\n```")[0].language is None


def test_a_language_name_from_the_text_is_checked() -> None:
    assert blocks('```sql" onload="x\nSELECT 1\n```')[0].language is None


@pytest.fixture
def demo_db(app_db: Path, demo_template: Path) -> Path:  # noqa: F811
    shutil.copy(demo_template, app_db)
    return app_db


def test_the_grade_page_draws_code_and_text_and_no_markdown(demo_db: Path) -> None:
    with open_store(demo_db) as s:
        key = s.scalar("SELECT min(span_key) FROM spans WHERE kind = 'llm'")
        s.write(lambda cur: cur.execute(
            "UPDATE spans SET output = ? WHERE span_key = ?", [SQL_ANSWER, key]))
        sampling.create_hand_queue(s, opts("hand"), span_keys=[key])
    at = app_page("grade", params={"reviewer": "ana"})
    assert "4 required, 1 optional" in [c.value for c in at.caption]  # the note is optional
    codes = [(c.value, c.language) for c in at.code]
    assert ("SELECT region, sum(total) AS revenue\nFROM orders GROUP BY region;", "sql") in codes
    shown = [t.value for t in at.text]
    assert "Here is the query:" in shown
    tail = next(t for t in shown if t.startswith("It returns:"))
    assert "• one row per region" in tail and hd.IMG in tail and hd.HTML in tail
    # no untrusted character reaches anything that renders Markdown or HTML
    rendered = [str(e.value) for k in ("markdown", "caption", "info") for e in at.get(k)]
    for bit in (*MARKUP, "203.0.113.7", "region"):
        assert not any(bit in r for r in rendered), bit
