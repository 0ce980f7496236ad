"""In real headless Chromium: after a random judge runs on the demo queue, Monitor names the
judge version its correctness rests on (the demo's, fit for use) and leaves the new one out,
the Judges page lists the new version's calls and marks it not fit, and the Agreement page
marks it not fit for use. (The figures themselves are compared in test_bad_judge.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import browser_support as bs
import pytest
from judge_support import _random_judge, demo_template  # noqa: F401 (fixture)
from openai_loopback import openai_server

from goldenloop import judge
from goldenloop.agreement import fitness
from goldenloop.demo.queue import NAME
from goldenloop.schema import open_store

pytestmark = pytest.mark.browser


def _text(page) -> str:
    return page.inner_text('[data-testid="stMainBlockContainer"]')


def test_pages_after_a_random_judge_run(demo_template: Path, tmp_path: Path,  # noqa: F811
                                        monkeypatch) -> None:
    db = tmp_path / "goldenloop.duckdb"
    shutil.copy(demo_template, db)
    with open_store(db) as s:
        qid = int(s.scalar("SELECT queue_id FROM queues WHERE name = ?", [NAME]))
        with openai_server(_random_judge) as srv:
            monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
            monkeypatch.delenv("OPENAI_API_KEY", raising=False)
            j = judge.get(s, "correctness")
            judge.run(s, j, judge.from_queue(s, j, qid),
                      judge.RunOptions(concurrency=8, retry=judge.Retry(max_attempts=1)))
        fit = fitness.choose(s, "correctness").versions
        s.checkpoint()
    assert fit and j.version not in fit
    with bs.running_app(db, tmp_path) as url, bs.chromium() as browser:
        page = bs.open_page(browser, f"{url}/monitor?range=All+data&section=Correctness")
        page.wait_for_function("() => document.body.innerText.includes('Judge grades of "
                               "correctness counted')", timeout=90_000)
        text = _text(page)
        counted = next(line for line in text.splitlines() if "Judge grades of" in line)
        assert fit[0] in counted and f"{j.version} (not fit)" in counted, counted
        assert "goldenloop-judge" not in text
        bs.screenshot(page, "bad-judge-monitor")

        page = bs.open_page(browser, f"{url}/judges")
        page.wait_for_function("() => document.body.innerText.includes('Calls goldenloop made "
                               "itself')", timeout=90_000)
        bs.wait_rendered(page)
        grids = page.locator('[data-testid="stDataFrame"]')
        assert grids.count() >= 2
        bs.screenshot(page, "bad-judge-judges")

        page = bs.open_page(browser, f"{url}/agreement")
        page.wait_for_function("() => document.body.innerText.includes('Not fit for use')",
                               timeout=90_000)
        text = _text(page)
        assert text.count("Not fit for use") == 1 and text.count("Fit for use") == 1
        bs.screenshot(page, "bad-judge-agreement")
