"""A curator builds a golden set fit for retraining on the Golden sets page, in real headless
Chromium against the app on a demo history: correctness (the criterion) and tone without
"too casual" (a second criterion), only reviewers accurate on gold items, de-duplicated
inputs, a split by session, and only JSONL exported. The store and the files are checked
afterwards against the library's own preview of the same filter."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import browser_support as bs
import pytest
from review_support import demo_template, opts  # noqa: F401  (demo_template: fixture)

from goldenloop import golden, review
from goldenloop.golden.curation import Condition
from goldenloop.review import sql as review_sql
from goldenloop.sampling import create_hand_queue
from goldenloop.schema import open_store
from goldenloop.store import Store

pytestmark = pytest.mark.browser
T0 = datetime(2026, 6, 1)
KNOWN = {"correctness": 5, "tone": ["on-brand"], "conciseness": "concise", "safety": "safe"}


def _grade(key: int, who: str, criterion: str, **value) -> dict:
    return {"target_type": "span", "target_id": str(key), "span_key": key,
            "criterion": criterion, "source": "human", "author_kind": "reviewer",
            "author_id": who, "rubric_name": "default", "rubric_version": "v1",
            "created_at": T0, **value}


def _history(db: Path) -> list[int]:
    """A gold item ines (new to the demo) answers right and zoe wrong; eight ungraded demo
    answers graded by them (four each: tone on-brand, one of ines's too casual), two of
    ines's sharing one question written differently. Returns the span keys (gold last)."""
    with open_store(db) as s:
        keys = [k for (k,) in s.rows(
            """SELECT span_key FROM spans WHERE kind = 'llm' AND status = 'ok'
                 AND span_key NOT IN (SELECT span_key FROM grades WHERE source = 'human')
               ORDER BY span_key LIMIT 9""")]
        q = create_hand_queue(s, opts("gold check", by="ana"), span_keys=keys[7:8]).queue_id
        gold = review.add_gold(s, q, "span", keys[8], KNOWN, "ana")
        rows = [_grade(keys[8], "ines", "correctness", value_number=5.0, queue_id=q,
                       queue_item_id=gold),
                _grade(keys[8], "zoe", "correctness", value_number=1.0, queue_id=q,
                       queue_item_id=gold)]
        for i, k in enumerate(keys[:8]):
            who = "ines" if i < 4 else "zoe"
            rows.append(_grade(k, who, "correctness", value_number=5.0))
            tone = ["too casual"] if i == 3 else ["on-brand"]
            rows.append(_grade(k, who, "tone", value_labels=tone))

        def write(cur):
            review_sql.insert_human_grades(cur, rows)
            for k, text in ((keys[0], "How do I return a parcel?"),
                            (keys[1], "  how do I   RETURN a parcel? ")):
                cur.execute("UPDATE spans SET last_user_message = ? WHERE span_key = ?",
                            [text, k])

        s.write(write)
    return keys


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the multiselect labelled ``label`` (type it, press Enter)."""
    box = page.locator('[data-testid="stMultiSelect"]').filter(has_text=label).first
    box.locator("input").click()
    page.keyboard.type(option)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    bs.wait_rendered(page)


def test_curator_builds_a_set_for_retraining_and_exports_only_jsonl(demo_template,  # noqa: F811
                                                                     tmp_path):
    db = tmp_path / "goldenloop.duckdb"
    db.write_bytes(demo_template.read_bytes())
    keys = _history(db)
    want_f = golden.GoldenFilter(conditions=(Condition("tone", without=("too casual",)),),
                                 min_gold_accuracy=0.9, dedupe=True, split=(80, 10, 10))
    with open_store(db) as s:
        want = golden.preview(s, want_f, limit=100)
    # ines's first three less one duplicate, and the gold item (its known answer and
    # ines outvote zoe); zoe's answers and the too casual one are left out
    assert want.counts["included"] == 3 and want.counts["duplicates_merged"] == 1

    with bs.running_app(db, tmp_path) as url, bs.chromium() as browser:
        page = bs.open_page(browser, f"{url}/golden?reviewer=ana")
        page.get_by_text("Source of truth").first.wait_for(timeout=60_000)
        _pick(page, "Also require, on other criteria", "tone")
        _pick(page, "none of", "too casual")
        acc = page.get_by_role("spinbutton", name="Their accuracy on gold items")
        acc.fill("0.9")
        acc.press("Tab")
        page.get_by_text("De-duplicate inputs").click()
        page.get_by_text("Split by session").click()
        page.get_by_role("button", name="Preview").first.click()
        bs.wait_rendered(page)
        page.get_by_text("Duplicate inputs merged: 1").first.wait_for(timeout=60_000)
        bs.screenshot(page, "golden-curated-preview")
        # Only JSONL: the formats start with every one; Backspace takes the last off.
        box = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Formats").first
        box.locator("input").click()
        for _ in range(len(golden.FORMATS) - 1):
            page.keyboard.press("Backspace")
        page.keyboard.press("Escape")
        bs.wait_rendered(page)
        page.get_by_role("button", name="Save version and export").first.click()
        page.get_by_text("Dataset card (README.md)").first.wait_for(timeout=120_000)
        bs.wait_rendered(page)
        bs.screenshot(page, "golden-curated-exported")
        text = page.inner_text("body")
        page.close()

    assert "Saved correctness-golden version 1" in text
    with Store(db, read_only=True, migrate_schema=False) as s:
        v = golden.get_version(s, "correctness-golden")
        rows = golden.rows(s, v)
    assert v.filter.conditions == want_f.conditions and v.filter.dedupe
    assert v.filter.min_gold_accuracy == 0.9 and v.filter.split == (0.8, 0.1, 0.1)
    assert set(rows["row_key"]) == set(want.rows["row_key"])
    assert set(rows["span_key"]) <= {*keys[:3], keys[8]} and len(rows) == 3
    assert v.counts["duplicates_merged"] == 1 and "seed 0" in text
    folder = tmp_path / "exports" / "correctness-golden" / "v1"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "golden.jsonl"]
    lines = [json.loads(x) for x in (folder / "golden.jsonl").read_text().splitlines()]
    assert {x["split"] for x in lines} <= {"train", "validation", "test"} and len(lines) == 3
