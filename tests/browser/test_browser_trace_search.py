"""Searching requests by their words in real headless Chromium over a demo history: the Traces
page finds exactly the requests whose user message contains a word (counted here from the
file), with where it matched; and the Queues page keeps the chosen queue's id in the URL."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import browser_support as bs
import pytest

from goldenloop.schema import open_store
from goldenloop.store.span_columns import production_sql

pytestmark = pytest.mark.browser

END = datetime(2026, 3, 2, 12)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_files) -> Path:
    return demo_files.copy(tmp_path_factory.mktemp("search") / "demo.duckdb", spans=5_000, seed=7,
                           end=END)


def test_word_search_and_queue_in_the_url(demo_db, tmp_path) -> None:
    with open_store(demo_db) as store:  # the expected count, read before the app owns the file
        word = store.scalar("""SELECT split_part(last_user_message, ' ', 2) FROM spans
                               WHERE kind = 'llm' AND last_user_message LIKE '% % %'
                               ORDER BY span_key LIMIT 1""")
        expected = store.scalar(
            f"""SELECT count(*) FROM spans WHERE kind = 'llm' AND {production_sql()}
                AND (contains(lower(last_user_message), lower($w))
                     OR contains(lower(output), lower($w)))""", {"w": word})
        queue = store.scalar("SELECT min(queue_id) FROM queues")
    assert word and expected > 0
    with bs.chromium() as browser, bs.running_app(demo_db, tmp_path) as url:
        page = bs.open_page(browser, f"{url}/trace?range=All+data")
        bs.wait_rendered(page)
        page.get_by_label("Search in messages and answers").fill(word)
        page.get_by_test_id("stBaseButton-secondaryFormSubmit").filter(has_text=re.compile(r"Search$")).click()
        shown = min(expected, 100)
        page.get_by_text(f"{shown:,} requests match").wait_for(timeout=60_000)
        bs.wait_rendered(page)
        text = page.locator('[data-testid="stMain"]').inner_text()
        bs.screenshot(page, "trace-search")
        if queue is not None:
            page.goto(f"{url}/queues?reviewer=ana")
            bs.wait_rendered(page)
            page.wait_for_function("() => location.search.includes('queue=')", timeout=30_000)
            queue_url = page.url
        exceptions = page.locator('[data-testid="stException"]').count()
    assert exceptions == 0 and "Traceback" not in text
    assert "newest first" in text
    if queue is not None:
        assert f"queue={queue}" in queue_url
