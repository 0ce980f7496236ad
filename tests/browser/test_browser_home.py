"""The Home page in real headless Chromium, over databases with known contents."""

from __future__ import annotations

from pathlib import Path

import browser_support as bs
import pytest
from home_support import bad_spans, seed_known_history, to_table

from goldenloop.ingest.loader import import_table
from goldenloop.schema import open_store

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    with bs.chromium() as b:
        yield b


def tiles(page) -> dict[str, str]:
    """Metric label → value as drawn."""
    out = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


def test_home_shows_the_store_at_a_glance(browser, tmp_path: Path) -> None:
    db = tmp_path / "goldenloop.duckdb"
    exp = seed_known_history(db)
    with bs.running_app(db, tmp_path) as url:
        page = bs.open_page(browser, url)
        page.get_by_text("Recent jobs").wait_for()
        shot = bs.screenshot(page, "home")
        shown = tiles(page)
        body = page.locator('[data-testid="stMain"]').inner_text()
        exceptions = page.locator('[data-testid="stException"]').count()
    assert exceptions == 0
    assert shown == {
        "Spans": f"{exp.spans}", "Traces": f"{exp.traces}", "Sessions": f"{exp.sessions}",
        "Apps": f"{exp.apps}", "Model versions": f"{exp.model_versions}",
        "Grades": f"{exp.grades}", "Rows imported": f"{exp.imported}",
        "Duplicates skipped": f"{exp.duplicates}", "Rows quarantined": f"{exp.quarantined}",
    }
    assert f"Spans from {exp.first} to {exp.last}" in body
    assert f"{exp.quarantined} rows failed validation" in body
    assert shot.stat().st_size > 10_000


def test_home_empty_and_quarantine_only(browser, tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    with bs.running_app(empty, tmp_path) as url:
        page = bs.open_page(browser, url)
        page.get_by_text("goldenloop import FILE").wait_for()
        bs.screenshot(page, "home-empty")
        body = page.locator('[data-testid="stMain"]').inner_text()
        metric_count = page.locator('[data-testid="stMetric"]').count()
    assert "no spans have been imported yet" in body
    assert "goldenloop demo" in body
    assert metric_count == 0

    rejected = tmp_path / "rejected.duckdb"
    with open_store(rejected) as store:
        import_table(store, to_table(bad_spans()), source="test", origin="test")
    with bs.running_app(rejected, tmp_path) as url:
        page = bs.open_page(browser, url)
        page.get_by_text("rows failed validation").wait_for()
        bs.screenshot(page, "home-quarantine-only")
        assert tiles(page)["Rows quarantined"] == "2"
