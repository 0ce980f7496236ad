"""The Conversations page in real headless Chromium over a demo history: drop-off and
turn-depth figures drawn, the numbers the library computes on the tiles, the idle timeout
from the URL, screenshots to read."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import browser_support as bs
import pytest
from browser_page_support import draw_time, wait_until_idle
from metrics_support import fill_stand_in_signals

from goldenloop.metrics import SpanFilter
from goldenloop.metrics import conversations as C
from goldenloop.schema import open_store

pytestmark = pytest.mark.browser

END = datetime(2026, 3, 2, 12)
CHARTS = 5  # drop-off, turns per session, turns to resolution, offensive and sentiment by depth


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_files) -> Path:
    return demo_files.copy(tmp_path_factory.mktemp("conversations") / "demo.duckdb", spans=20_000,
                           seed=11, end=END, then=(fill_stand_in_signals,))


def expected(db: Path, idle: int) -> C.ConversationStats:
    with open_store(db) as store:  # read before the app owns the file
        last = store.scalar("SELECT max(start_time) FROM spans WHERE kind = 'llm'")
        end = last.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return C.conversation_stats(store, SpanFilter(start=end - timedelta(days=30), end=end), idle)


def tiles(page) -> dict[str, str]:
    out = {}
    for m in page.locator('[data-testid="stMetric"]').all():
        label = m.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = m.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


def test_conversations_page_shows_drop_off_and_turn_depth(demo_db, tmp_path) -> None:
    want, want_5 = expected(demo_db, 30), expected(demo_db, 5)
    with bs.chromium() as browser, bs.running_app(demo_db, tmp_path) as url:
        page = bs.open_page(browser, url)
        wait_until_idle(page, url)
        draw_time(page, f"{url}/conversations", charts=CHARTS)
        bs.wait_rendered(page)
        shot = bs.screenshot(page, "conversations-demo")
        shown = tiles(page)
        body = page.locator('[data-testid="stMain"]').inner_text()
        texts = " ".join(page.evaluate("""() => Array.from(
            document.querySelectorAll('[data-testid="stVegaLiteChart"] svg'), s => s.textContent)"""))
        exceptions = page.locator('[data-testid="stException"]').count()

        draw_time(page, f"{url}/conversations?idle=5", charts=CHARTS)
        bs.wait_rendered(page)
        shown_5 = tiles(page)
        bs.screenshot(page, "conversations-demo-idle5")
    assert exceptions == 0
    assert shown["Sessions"] == f"{want.total_sessions:,}"
    assert shown["Drop-off"] == f"{want.dropoff()['any_share'].iloc[0]:.1%}"
    assert shown["Resolved"] == f"{want.resolved_summary()['share']:.1%}"
    assert shown_5["Sessions"] == f"{want_5.total_sessions:,}" != shown["Sessions"]
    for title in ("Drop-off by model version", "Turns per session, by model version",
                  "Offensive user messages by turn depth", "User sentiment by turn depth"):
        assert title in texts, title
    for label in ("unanswered", "errored", "negative feedback", "any of these"):
        assert label in texts, label
    assert "turn depth (1 = first turn of a session)" in texts
    assert "Drop-off" in body and "User messages by turn depth" in body
    assert shot.stat().st_size > 50_000
