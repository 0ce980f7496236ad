"""The Golden sets page in real headless Chromium against `goldenloop serve` on a demo
history: reviewers grade demo items (one with a corrected answer); a lead builds a golden set
from the page, exports it in every format, downloads it and reads the card; a grade changes;
the lead exports again and sees the diff. The store and the files are checked afterwards."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import browser_support as bs
import pytest
from review_support import FULL, demo_template, opts  # noqa: F401  (demo_template: fixture)

from goldenloop import golden, review
from goldenloop.sampling import create_hand_queue
from goldenloop.schema import open_store
from goldenloop.store import Store

pytestmark = pytest.mark.browser
CORRECTED = "Please start the return under Account > Orders; return shipping is free."


def _grade_demo_items(db: Path) -> tuple[int, int]:
    """Two reviewers grade six demo answers, as on the Grade page; ben corrects one (its span
    key is returned with the queue's id)."""
    with open_store(db) as s:
        keys = [k for (k,) in s.rows(
            """SELECT span_key FROM spans WHERE kind = 'llm' AND status = 'ok'
                 AND span_key NOT IN (SELECT span_key FROM grades WHERE source = 'human')
               ORDER BY span_key LIMIT 6""")]
        q = create_hand_queue(s, opts("golden demo", by="ana", reviewers_per_item=1),
                              span_keys=keys)
        for i in range(len(keys)):
            who = "ana" if i % 2 else "ben"
            c = review.next_item(s, q.queue_id, who)
            if i == 0:
                review.submit(s, c, {**FULL, "correctness": 2}, correction=CORRECTED)
                corrected = c.span_key
            else:
                review.submit(s, c, {**FULL, "correctness": 5})
    return q.queue_id, corrected


def _change_a_grade(db: Path, queue_id: int) -> int:
    """ana takes back her last grade and submits it again as wrong (the Grade page's Undo)."""
    with open_store(db) as s:
        c = review.undo_last(s, queue_id, "ana")
        review.submit(s, c, {**FULL, "correctness": 1})
        return c.span_key


def _click(page, name: str) -> None:
    page.get_by_role("button", name=name).first.click()
    bs.wait_rendered(page)


def _wait_text(page, text: str, timeout_ms: int = 60_000) -> None:
    page.get_by_text(text).first.wait_for(timeout=timeout_ms)


def _build_and_export(url: str, shot: str) -> tuple[bytes, str]:
    with bs.chromium() as browser:
        page = bs.open_page(browser, f"{url}/golden?reviewer=ana")
        _wait_text(page, "Source of truth")
        _click(page, "Preview")
        _wait_text(page, "Graded targets considered")
        bs.screenshot(page, f"{shot}-preview")
        _click(page, "Save version and export")
        _wait_text(page, "Dataset card (README.md)")
        bs.wait_rendered(page)
        bs.screenshot(page, f"{shot}-exported")
        with page.expect_download() as dl:
            page.get_by_role("button", name="Download all (zip)").click()
        data = Path(dl.value.path()).read_bytes()
        text = page.inner_text("body")
        page.close()
    return data, text


def test_grade_build_export_change_export_and_diff(demo_template, tmp_path):  # noqa: F811
    db = tmp_path / "goldenloop.duckdb"
    db.write_bytes(demo_template.read_bytes())
    queue_id, corrected = _grade_demo_items(db)

    with bs.running_app(db, tmp_path) as url:
        zipped, text = _build_and_export(url, "golden-v1")
    assert "Saved correctness-golden version 1" in text
    names = zipfile.ZipFile(io.BytesIO(zipped)).namelist()
    for f in ("golden.jsonl", "golden.csv", "golden.parquet", "openai_chat.jsonl",
              "openai_evals.jsonl", "README.md", "hf/dataset_info.json"):
        assert f"correctness-golden-v1/{f}" in names
    with Store(db, read_only=True, migrate_schema=False) as s:
        v1 = golden.get_version(s, "correctness-golden")
        rows = golden.rows(s, v1).set_index("span_key")
    assert v1.content_hash in text and v1.author == "ana"     # the card is on the page
    assert rows.loc[corrected, "expected_output"] == CORRECTED
    card = zipfile.ZipFile(io.BytesIO(zipped)).read("correctness-golden-v1/README.md").decode()
    assert f"rows: {v1.rows}" in card

    changed = _change_a_grade(db, queue_id)
    assert changed in rows.index
    with bs.running_app(db, tmp_path) as url:
        zipped2, text2 = _build_and_export(url, "golden-v2")
    assert "Saved correctness-golden version 2" in text2
    with Store(db, read_only=True, migrate_schema=False) as s:
        d = golden.diff(s, "correctness-golden", 1, 2)
        assert golden.get_version(s, "correctness-golden").version == 2
    assert d.removed["row_key"].tolist() == [f"span:{changed}"]   # now wrong, not corrected
    assert d.summary() in text2
    lines = zipfile.ZipFile(io.BytesIO(zipped2)).read(
        "correctness-golden-v2/golden.jsonl").decode().splitlines()
    assert len(lines) == v1.rows - 1
    assert f"span:{changed}" not in {json.loads(x)["row_key"] for x in lines}
