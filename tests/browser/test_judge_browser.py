"""The Judges page's key flow in real headless Chromium against `goldenloop serve`: a lead runs
the packaged correctness judge on a demo queue against a loopback OpenAI-compatible endpoint
(the app's process gets its URL through OPENAI_BASE_URL), follows the job's progress, and
reads the PPI estimate beside the human-only one; the store then holds the judge's grades."""

from __future__ import annotations

import shutil
from pathlib import Path

import browser_support as bs
import pytest
from openai_loopback import judged_text, openai_server, verdict
from review_support import FULL, demo_template, opts  # noqa: F401  (fixture)

from goldenloop import review
from goldenloop.sampling import Uniform, create_queue, make_frame
from goldenloop.schema import open_store
from goldenloop.store import Store

pytestmark = pytest.mark.browser


def _score(text: str | None) -> int:
    """A deterministic stand-in for quality: reviewers and judge mostly agree on it."""
    return 1 + len(text or "") % 5


def _prepare(db: Path) -> tuple[int, int]:
    """A demo queue of about 120 spans, 40 of them graded by a reviewer."""
    (db.parent / "roles.yaml").write_text("leads: [lead, ana]\n")  # ana runs it in the browser
    with open_store(db) as store:
        q = create_queue(store, opts("demo sample"), make_frame(), Uniform(120), seed=5)
        for _ in range(40):
            claim = review.next_item(store, q.queue_id, "ben")
            out = store.scalar("SELECT output FROM spans WHERE span_key = ?", [claim.span_key])
            review.submit(store, claim, {**FULL, "correctness": _score(out)})
        store.checkpoint()
        return q.queue_id, q.items


def test_run_a_judge_on_a_demo_queue(demo_template: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    db = tmp_path / "goldenloop.duckdb"
    shutil.copy(demo_template, db)
    queue_id, items = _prepare(db)

    def script(body: dict):
        out = judged_text(body, "output")
        lenient = len(out or "") % 7 == 0  # the judge is kinder than the reviewer sometimes
        return verdict(reason="scripted for the test", score=5 if lenient else _score(out))

    with openai_server(script, delay_s=0.3) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        with bs.chromium() as browser, bs.running_app(db, tmp_path) as url:
            page = bs.open_page(browser, f"{url}/judges?reviewer=ana")
            # The endpoint line: web addresses shown through Markdown carry an invisible joiner after
            # the scheme (so they never become links); look for the address after it.
            page.get_by_text(srv.base_url.split("://", 1)[1]).first.wait_for(timeout=30_000)
            bs.screenshot(page, "judges-before-run")
            page.get_by_role("button", name="Run judge").click()
            # The owner runs it as a job; the page follows it with a progress bar.
            page.get_by_text("· judge · running").first.wait_for(timeout=60_000)
            bs.screenshot(page, "judges-running")
            # When the job ends the page reruns: the new version leads the PPI section (it
            # judged every item), beside the human-only estimate.
            page.get_by_text(f"{items} judged, 40 also by humans").wait_for(timeout=120_000)
            bs.wait_rendered(page)
            bs.screenshot(page, "judges-after-run")
            assert page.get_by_text("Humans only").first.is_visible()
    # Demo texts repeat: identical prompts are sent once (the cache), every item is graded.
    assert 0 < len(srv.requests) <= items
    with Store(db, read_only=True, migrate_schema=False) as store:
        assert store.scalar("SELECT count(*) FROM grades WHERE source = 'judge' "
                            "AND judge_name = 'correctness'") == items
        assert store.scalar("SELECT count(*) FROM spans WHERE app = 'goldenloop-judge'") \
            == len(srv.requests)
        job = store.rows("SELECT status, origin FROM jobs WHERE kind = 'judge'")
        assert job == [("done", "app")]
        assert store.scalar("SELECT params->>'queue_id' FROM judge_runs") == str(queue_id)
