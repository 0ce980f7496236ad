"""The Grade page's keyboard in real headless Chromium against `goldenloop serve` on a demo
history: ten items graded at the key budget (at most 5 keys per item on the default rubric's
required criteria), one undone and found with its picks restored (then a label added with
Shift+digit), a disputed criterion adjudicated alone, and an item whose answer holds a SQL
block and the security tests' hostile strings: the block drawn as code, the context opened
and closed with X, and no request leaving 127.0.0.1. The store is checked afterwards."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import browser_support as bs
import hostile_data as hd
import pytest
from browser_page_support import _CHECKED, _NEXT_OR_DONE, _RENDERED, _pick, _wait_item
from review_support import FULL, opts

from goldenloop import review, sampling
from goldenloop.schema import open_store
from goldenloop.store import Store

pytestmark = pytest.mark.browser
KEY_BUDGET = 5  # keys per item, on average (issue 19)
ANSWER = ("The query:\n\n```sql\nSELECT region, sum(total) FROM orders GROUP BY region;\n```\n\n"
          "- one row per region\n\n" + hd.hostile("answer"))


@pytest.fixture(scope="module")
def template(demo_files) -> Path:
    return demo_files.template(spans=5000, queue=False)  # shared: tests copy it


def _setup(db: Path) -> dict[str, int]:
    """Queue 1 to grade; queue 3 adjudicates an item ben and cat graded apart on correctness
    only; queue 4 holds one span with earlier turns whose answer is SQL and hostile text."""
    with open_store(db) as s:
        q1 = sampling.create_queue(s, opts("keys"), sampling.make_frame(), sampling.Uniform(16),
                                   seed=21)
        q2 = sampling.create_queue(s, opts("double", reviewers_per_item=2), sampling.make_frame(),
                                   sampling.Uniform(3), seed=5)
        first = review.next_item(s, q2.queue_id, "ben")
        review.submit(s, first, FULL)
        second = review.next_item(s, q2.queue_id, "cat")
        review.submit(s, second, {**FULL, "correctness": 2})
        q3 = sampling.create_hand_queue(s, opts("settle", purpose="adjudication"),
                                        span_keys=[first.span_key])
        key = s.scalar("SELECT min(span_key) FROM spans WHERE kind = 'llm' AND turn_index > 0 "
                       "AND session_id IS NOT NULL")
        s.write(lambda cur: cur.execute("UPDATE spans SET output = ? WHERE span_key = ?",
                                        [ANSWER, key]))
        q4 = sampling.create_hand_queue(s, opts("hostile"), span_keys=[key])
    assert q1.items >= 11
    return {"grade": q1.queue_id, "settle": q3.queue_id, "hostile": q4.queue_id,
            "disputed_span": first.span_key}


def _submit(page, keys: list[str]) -> None:
    old = _wait_item(page)
    page.keyboard.press("Control+Enter")
    keys.append("Control+Enter")
    page.wait_for_function(_NEXT_OR_DONE, arg=old, timeout=20_000)


def _picks(page, n: int = 4) -> list[list[str]]:
    return [page.evaluate(_CHECKED, i) for i in range(n)]


def test_keyboard_budget_undo_adjudication_and_safe_output(template: Path, tmp_path: Path) -> None:
    db = tmp_path / "goldenloop.duckdb"
    shutil.copy(template, db)
    ids = _setup(db)
    keys: list[str] = []
    requests: list[str] = []
    outside: list[str] = []
    answers = [("4", "1", "3", "3")] * 9 + [("2", "3", "2", "3")]
    expect = [("4", "1 · on-brand", "3 · concise", "3 · safe")] * 9 + [
        ("2", "3 · too casual", "2 · some filler", "3 · safe")]
    with bs.chromium() as browser, bs.running_app(db, tmp_path) as url:
        page = browser.new_page(viewport=bs.VIEWPORT, locale="en-US", timezone_id="UTC")
        page.on("request", lambda r: requests.append(r.url))
        page.route(lambda u: urlsplit(u).hostname not in (None, "127.0.0.1"),
                   lambda r: (outside.append(r.request.url), r.abort()))
        page.goto(f"{url}/grade?reviewer=kim&queue={ids['grade']}")
        _wait_item(page)
        # ten items, keys only, every key counted
        for digits, shown in zip(answers, expect, strict=True):
            for i, (d, want) in enumerate(zip(digits, shown, strict=True)):
                _pick(page, d, i, want)
                keys.append(d)
            _submit(page, keys)
        per_item = len(keys) / 10
        assert per_item <= KEY_BUDGET, (per_item, keys)
        bs.screenshot(page, "grade-after-ten")
        # undo: the tenth item comes back with its picks
        old = _wait_item(page)
        page.keyboard.press("z")
        _wait_item(page, old)
        page.get_by_text("its picks are back").wait_for()
        assert _picks(page) == [["2"], ["3 · too casual"], ["2 · some filler"], ["3 · safe"]]
        bs.screenshot(page, "grade-undo-restored")
        page.keyboard.press("w")  # tone; Shift+2 adds "too formal" and stays there
        page.keyboard.press("Shift+2")
        page.wait_for_function(f"() => ({_CHECKED})(1).length === 2")
        _submit(page, [])
        # adjudication: only the disputed criterion is asked; blind mode says it does not apply
        page.goto(f"{url}/grade?reviewer=kim&queue={ids['settle']}")
        _wait_item(page)
        page.get_by_text("settle the criteria the earlier grades dispute (1 of 5)").wait_for()
        page.get_by_text("Blind mode: does not apply").wait_for()
        assert page.locator('[class*="st-key-glcrit-"]').count() == 1
        bs.screenshot(page, "grade-adjudication")
        _pick(page, "3", 0, "3")
        _submit(page, [])
        # readable, safe output; X opens and closes the context
        page.goto(f"{url}/grade?reviewer=kim&queue={ids['hostile']}")
        _wait_item(page)
        code = page.locator('[data-testid="stCode"]').filter(has_text="SELECT region")
        code.first.wait_for()
        ctx = page.locator('.st-key-glctx details')
        assert ctx.count() >= 1
        page.keyboard.press("x")
        page.wait_for_function("() => Array.from(document.querySelectorAll("
                               "'.st-key-glctx details')).every(d => d.open)")
        bs.screenshot(page, "grade-context-open")
        page.keyboard.press("x")
        page.wait_for_function("() => Array.from(document.querySelectorAll("
                               "'.st-key-glctx details')).every(d => !d.open)")
        page.wait_for_timeout(500)  # anything the page would load after drawing
        assert page.evaluate(_RENDERED) == []
        text = page.evaluate("() => document.body.innerText")
        assert hd.HTML in text and "• one row per region" in text
    hosts = {urlsplit(u).hostname for u in requests if urlsplit(u).scheme in ("http", "https")}
    assert outside == [] and hosts == {"127.0.0.1"}, (outside, hosts)
    with Store(db, read_only=True, migrate_schema=False) as s:
        done = s.rows("SELECT count(DISTINCT queue_item_id) FROM live_grades WHERE author_id = "
                      "'kim' AND queue_id = ?", [ids["grade"]])
        assert done == [(10,)]
        tone = s.rows("""SELECT value_labels FROM live_grades WHERE author_id = 'kim'
                         AND queue_id = ? AND criterion = 'tone' ORDER BY grade_id DESC LIMIT 1""",
                      [ids["grade"]])
        assert list(tone[0][0]) == ["too formal", "too casual"]  # the rubric's order
        assert s.scalar("SELECT count(*) FROM grades WHERE author_id = 'kim' AND retracted") == 4
        adj = s.rows("SELECT criterion, value_number, is_adjudication FROM live_grades "
                     "WHERE author_id = 'kim' AND queue_id = ?", [ids["settle"]])
        assert adj == [("correctness", 3.0, True)]
