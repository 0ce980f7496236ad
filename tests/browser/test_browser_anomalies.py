"""Detection in the app, walked in real headless Chromium over a demo history that detection
has run on: Home shows the open anomalies, its link opens the Anomalies page, one anomaly
shows its chart window and example spans, a lead acknowledges it and sends its examples to a
review queue; afterwards the store holds the status change (by that lead) and a by-hand queue
of exactly the anomaly's example spans."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import browser_support as bs
import pytest

from goldenloop import anomalies
from goldenloop.schema import open_store
from goldenloop.scorers import score_spans

pytestmark = pytest.mark.browser

END = datetime(2026, 3, 2, 12)
LEAD = "lead"
_CHART_DRAWN = """() => {
    const c = document.querySelector('[data-testid="stVegaLiteChart"]');
    return c !== null && c.querySelector('svg.marks .role-mark') !== null;
}"""


@pytest.fixture
def detected_db(tmp_path: Path, demo_files) -> Path:
    # Scored first, as the server would before its own detection run: otherwise the
    # server's scoring and detection jobs add signal anomalies while the test reads.
    return demo_files.copy(tmp_path / "goldenloop.duckdb", spans=20_000, seed=5, end=END,
                           then=(score_spans, anomalies.detect))


def main_text(page) -> str:
    return page.inner_text('[data-testid="stMainBlockContainer"]')


def wait_text(page, text: str, timeout_s: float = 30) -> None:
    """Until the main area (not the sidebar's filters) shows ``text``."""
    page.wait_for_function(
        """(t) => {
            const main = document.querySelector('[data-testid="stMainBlockContainer"]');
            return main !== null && main.innerText.includes(t);
        }""", arg=text, timeout=timeout_s * 1000)


def test_home_to_anomaly_to_acknowledge_and_queue(detected_db: Path, tmp_path: Path) -> None:
    with open_store(detected_db) as store:
        open_ = anomalies.list_anomalies(store, status="open")
    assert len(open_) >= 1, "the demo history must leave an open anomaly"
    first = open_.iloc[0]  # the page opens the most severe, most recent one first
    with bs.running_app(detected_db, tmp_path) as base, bs.chromium() as browser:
        page = bs.open_page(browser, f"{base}/?reviewer={LEAD}")
        wait_text(page, "Open anomalies")
        text = main_text(page)
        assert f"{first['severity_name'].capitalize()} severity" in text
        bs.screenshot(page, "anomalies-home")
        page.get_by_role("link", name=re.compile(r"See all [\d,]+ open anomal")).first.click()
        wait_text(page, "Example spans")
        bs.wait_rendered(page)
        page.wait_for_function(_CHART_DRAWN, timeout=30_000)
        assert "/anomalies" in page.url
        text = main_text(page)
        assert first["description"] in text  # the first anomaly, opened
        assert f"Severity\n\n{first['severity_name']}" in text
        assert page.locator('[data-testid="stDataFrame"]').count() >= 2  # list, examples
        bs.screenshot(page, "anomalies-page")

        main = page.get_by_test_id("stMainBlockContainer")
        main.get_by_role("button", name="Acknowledge", exact=True).click()
        wait_text(page, "Status\n\nacknowledged")  # the status tile
        bs.wait_rendered(page)
        main.get_by_role("button", name="Queue the examples").click()  # a popover
        page.get_by_label("Queue name").fill("anomaly examples")
        page.get_by_role("button", name="Send the examples to a review queue").click()
        wait_text(page, "holds the examples")
        bs.screenshot(page, "anomalies-queued")
    with open_store(detected_db) as store:
        a = anomalies.get_anomaly(store, int(first["anomaly_id"]))
        queues = store.rows("SELECT queue_id, created_by, design FROM queues "
                            "WHERE name = 'anomaly examples'")
        assert len(queues) == 1
        items = store.rows("SELECT span_key FROM queue_items WHERE queue_id = ?",
                           [queues[0][0]])
    assert (a.status, a.status_by) == ("acknowledged", LEAD)
    assert queues[0][1] == LEAD and json.loads(queues[0][2])["probability"] is False
    assert sorted(k for (k,) in items) == sorted(a.example_span_keys)
