"""The Compare page in real headless Chromium over a demo history scored by the real offline
scorers: opened without any choice, it compares support-bot's old gpt-4o snapshot with the
silent update and flags the longer, more effusive answers; the chart and table are drawn and
a screenshot is kept."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import browser_support as bs
import pytest

from goldenloop.demo.incidents import NEW_4O, OLD_4O
from goldenloop.scorers import score_spans

pytestmark = pytest.mark.browser

FLAGGED = ("Response length (characters)", "Output tokens per response", "Sentiment, model")
_DRAWN = """() => {
    const chart = document.querySelector('[data-testid="stVegaLiteChart"] svg.marks .role-mark');
    const table = document.querySelector('[data-testid="stDataFrame"]');
    return chart !== null && table !== null
        && document.querySelector('[data-testid="stSkeleton"]') === null;
}"""


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_files) -> Path:
    return demo_files.copy(tmp_path_factory.mktemp("compare") / "demo.duckdb", spans=30_000, seed=7,
                           end=datetime(2026, 3, 2, 12), then=(score_spans,))


def test_compare_flags_the_silent_update(demo_db, tmp_path) -> None:
    with bs.chromium() as browser, bs.running_app(demo_db, tmp_path) as url:
        page = bs.open_page(browser, f"{url}/compare")
        page.wait_for_function(_DRAWN, timeout=120_000, polling=100)
        bs.wait_rendered(page)
        shot = bs.screenshot(page, "compare-demo")
        # Compare's own choices (the reviewer picker of the identity sidebar is not one).
        chosen = page.evaluate("""() => Object.fromEntries(Array.from(
            document.querySelectorAll('[data-testid="stSelectbox"] input'),
            i => [i.getAttribute('aria-label'), i.value]))""")
        chosen.pop("Pick a known reviewer", None)
        alert = page.locator('[data-testid="stAlert"]').first.inner_text()
        chart = page.evaluate("""() => document.querySelector(
            '[data-testid="stVegaLiteChart"] svg.marks').textContent""")
        exceptions = page.locator('[data-testid="stException"]').count()
    assert exceptions == 0
    # Chosen without any click: the snapshot the silent update replaced, and the update.
    assert chosen == {"App": "support-bot", "A (baseline)": OLD_4O, "B": NEW_4O}
    assert "differ significantly and beyond their practical threshold" in alert
    for metric in FLAGGED:
        assert metric in alert, alert
        assert metric in chart
    assert "Error rate" not in alert
    assert shot.stat().st_size > 30_000
