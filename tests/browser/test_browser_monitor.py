"""The Monitor page in real headless Chromium over a demo history: every chart drawn (each
tab opened in turn), the silent model update marked on each, every injected incident
labelled, and the warm draw timed from navigation to the last chart of the first tab."""

from __future__ import annotations

import json
import os
import statistics
from datetime import datetime
from pathlib import Path

import browser_support as bs
import pytest
from browser_page_support import draw_time, wait_until_idle
from metrics_support import fill_stand_in_signals

from goldenloop.demo.incidents import NEW_4O

pytestmark = pytest.mark.browser

ALL_CHARTS = 14
# The tabs, the Vega views each draws (all charts of a tab are one view) and its charts.
TABS = {"Traffic and latency": (1, 4), "Tokens and cost": (1, 4), "Signals": (1, 2),
        "Correctness": (1, 2), "Feedback": (1, 2)}
INCIDENT_LABELS = ("latency spike", "error burst", "timeout storm", "token drift",
                   "offensive rise", "correctness drop")


def chart_texts(page) -> list[str]:
    """The text of each chart, the charts of a view apart (Vega's group of each innermost
    concatenated view: rows of two, the rows of a tab stacked; or the whole view when it
    stands alone)."""
    return page.evaluate("""() => Array.from(
        document.querySelectorAll('[data-testid="stVegaLiteChart"] svg.marks'), svg => {
            const isView = g => /(^| )(concat_[0-9]+_)+group( |$)/.test(g.getAttribute('class'));
            const views = Array.from(svg.querySelectorAll('g.mark-group')).filter(isView)
                .filter(g => !Array.from(g.querySelectorAll('g.mark-group')).some(isView));
            return views.length ? views.map(g => g.textContent) : [svg.textContent];
        }).flat()""")


# The open tab's panel holds ``n`` chart elements, each a drawn Vega view, and the page no
# others (the tab left keeps its charts, hidden, until the run ends).
_TAB_DRAWN = """(n) => {
    const panel = Array.from(document.querySelectorAll('[role="tabpanel"]'))
        .find(p => !p.hidden && p.offsetParent !== null);
    if (!panel) return false;
    const charts = panel.querySelectorAll('[data-testid="stVegaLiteChart"]');
    if (charts.length !== n) return false;
    if (document.querySelectorAll('[data-testid="stVegaLiteChart"]').length !== n) return false;
    for (const c of charts) if (!c.querySelector('svg.marks .role-mark')) return false;
    return document.querySelector('[data-testid="stSkeleton"]') === null;
}"""


def open_tab(page, label: str, views: int) -> list[str]:
    """Click the tab ``label`` and wait until its ``views`` are drawn; their chart texts."""
    page.get_by_role("tab", name=label).click()
    page.wait_for_function(_TAB_DRAWN, arg=views, timeout=60_000, polling=50)
    return chart_texts(page)


@pytest.fixture(scope="module")
def browser():
    with bs.chromium() as b:
        yield b


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_files) -> Path:
    return demo_files.copy(tmp_path_factory.mktemp("monitor") / "demo.duckdb", spans=60_000, seed=7,
                           end=datetime(2026, 3, 2, 12), then=(fill_stand_in_signals,))


def test_monitor_shows_every_incident_and_the_version_marker(browser, demo_db, tmp_path) -> None:
    with bs.running_app(demo_db, tmp_path) as url:
        page = bs.open_page(browser, url)
        wait_until_idle(page, url)
        cold = draw_time(page, f"{url}/monitor")
        shot = bs.screenshot(page, "monitor-demo")
        tabs = [t.inner_text() for t in page.get_by_role("tab").all()]
        body = page.locator('[data-testid="stMain"]').inner_text()
        texts = [open_tab(page, label, views) for label, (views, _) in TABS.items()]
        bs.screenshot(page, "monitor-demo-feedback-tab")
        exceptions = page.locator('[data-testid="stException"]').count()
        warm = [draw_time(page, f"{url}/monitor") for _ in range(5)]

        draw_time(page, f"{url}/monitor?split=model+version")
        split_shot = bs.screenshot(page, "monitor-demo-split")
        split_texts = chart_texts(page)
    assert exceptions == 0
    assert tabs == list(TABS)
    assert [len(t) for t in texts] == [n for _, n in TABS.values()]  # only the open tab's
    texts = [t for tab in texts for t in tab]
    assert len(texts) == ALL_CHARTS
    assert all(NEW_4O in t for t in texts)  # the silent update, marked on every time chart
    everything = " ".join(texts)
    for label in INCIDENT_LABELS:  # each shaded and named on the charts where it shows
        assert label in everything, label
    assert "No automatic signals" not in body and "Requests" in body
    assert all(v in " ".join(split_texts) for v in
               ("gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", NEW_4O))  # one line each
    assert shot.stat().st_size > 50_000 and split_shot.stat().st_size > 50_000
    load = os.getloadavg()[0]
    timing = {"cold_s": round(cold, 3), "warm_s": [round(w, 3) for w in warm],
              "warm_median_s": round(statistics.median(warm), 3), "load_1min": round(load, 2)}
    (bs.screenshot_dir() / "monitor-demo-timing.json").write_text(json.dumps(timing))
    print(f"Monitor over 60k demo spans: {timing}")
    # The goal (1.5 s at 1M spans) is measured by benchmarks/bench_monitor_page.py; here a
    # bound that a shared, busy machine still meets catches a page that stopped caching. The
    # machine has 2 cores: past a load of 4 every process waits its turn, and the bound grows
    # with the load measured (seen: 6.5-13 s warm at a load of 17, all checks above passing).
    assert timing["warm_median_s"] < 8 * max(1.0, load / 4), timing
