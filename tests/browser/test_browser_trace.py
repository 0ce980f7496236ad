"""Drill-down in real headless Chromium over a demo history: a click on a Monitor chart point
opens the requests behind it, a request's link opens the Traces page, whose tabs show the
request, the trace as a waterfall and an indented tree, and the conversation; a shared link
with a session id opens the conversation directly."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import browser_support as bs
import pytest
from browser_page_support import ROWS, draw_time, wait_until_idle
from metrics_support import fill_stand_in_signals

from goldenloop.schema import open_store

pytestmark = pytest.mark.browser

END = datetime(2026, 3, 2, 12)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_files) -> Path:
    return demo_files.copy(tmp_path_factory.mktemp("trace") / "demo.duckdb", spans=20_000, seed=5,
                           end=END, then=(fill_stand_in_signals,))


def click_point(page, row: int, view: int) -> None:
    """Click a point in the middle of a chart (the invisible click targets of its selection):
    chart ``view`` (0 left, 1 right) of row ``row`` of the first chart element (the Monitor's
    first tab: rows of two charts, stacked, in one Vega view)."""
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    points = chart.locator(f"svg g.concat_{row}_concat_{view}_group .mark-symbol path")
    box = points.nth(points.count() // 2).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def open_first_link(page, grid):
    """Open the first row's link of a table (a canvas grid: hover, then click the text)."""
    box = grid.bounding_box()
    x, y = box["x"] + 22, box["y"] + 35 + 18  # first column, first row under the header
    page.mouse.move(x - 2, y)
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    with page.expect_popup(timeout=15_000) as popup:
        page.mouse.click(x, y)
    new = popup.value
    new.set_viewport_size(bs.VIEWPORT)
    bs.wait_rendered(new)
    return new


@pytest.fixture(scope="module")
def browser():
    with bs.chromium() as b:
        yield b


def test_drill_down_from_monitor_to_trace(browser, demo_db, tmp_path) -> None:
    with open_store(demo_db) as store:  # a session to link to, read before the app owns the file
        session = store.scalar("""SELECT session_id FROM spans WHERE kind = 'llm'
                                  GROUP BY session_id HAVING count(DISTINCT trace_id) >= 3
                                  ORDER BY session_id LIMIT 1""")
    with bs.running_app(demo_db, tmp_path) as url:
        page = bs.open_page(browser, url)
        wait_until_idle(page, url)
        draw_time(page, f"{url}/monitor", charts=ROWS)
        click_point(page, 1, 0)  # latency, left of the second row
        dialog = page.locator('[role="dialog"]')
        dialog.wait_for(timeout=30_000)
        grid = dialog.locator('[data-testid="stDataFrame"]')
        grid.wait_for(timeout=30_000)
        page.wait_for_timeout(1000)
        dialog_text = dialog.inner_text()
        bs.screenshot(page, "monitor-drill-down")

        trace = open_first_link(page, grid)
        trace_url = trace.url
        trace.wait_for_timeout(1000)
        bs.screenshot(trace, "trace-request")
        request_text = trace.locator('[data-testid="stMain"]').inner_text()
        trace.get_by_role("tab", name="Trace").click()
        trace.wait_for_function("""() => document.querySelector(
            '[data-testid="stVegaLiteChart"] svg.marks .role-mark') !== null""", timeout=30_000)
        trace.wait_for_timeout(500)
        bs.screenshot(trace, "trace-tree")
        tree_text = trace.locator('[data-testid="stMain"]').inner_text()
        trace.get_by_role("tab", name="Conversation").click()
        trace.wait_for_timeout(1000)
        bs.screenshot(trace, "trace-conversation")

        page.goto(f"{url}/trace?session={session}")
        bs.wait_rendered(page)
        shared = page.locator('[data-testid="stMain"]').inner_text()
        exceptions = page.locator('[data-testid="stException"]').count() \
            + trace.locator('[data-testid="stException"]').count()
    assert exceptions == 0
    assert dialog_text.startswith("Requests behind the point")
    assert "Latency" in dialog_text and "slowest first" in dialog_text
    assert "/trace?trace=" in trace_url and "&span=" in trace_url
    assert "Last user message" in request_text and "Answer" in request_text
    assert "spans over" in tree_text and "└ llm" in tree_text  # the indented tree
    assert f"Session {session}:" in shared and "Turn 3" in shared
