"""Fixing a judge in real headless Chromium against `goldenloop serve`: a lead edits the
packaged judge's system prompt into a new version, reads the cost estimate, runs it on the
human-graded items (a job for the owner) and, when the job ends, sees every one graded and
the link to the versions side by side."""

from __future__ import annotations

import shutil
from pathlib import Path

import browser_support as bs
import pytest
from judge_support import STRICT, _script
from openai_loopback import openai_server
from review_support import FULL, demo_template, opts  # noqa: F401  (fixture)

from goldenloop import judge, review
from goldenloop.sampling import Uniform, create_queue, make_frame
from goldenloop.schema import open_store
from goldenloop.store import Store, audit

pytestmark = pytest.mark.browser


def test_a_lead_fixes_a_judge_in_the_browser(demo_template: Path, tmp_path: Path,  # noqa: F811
                                              monkeypatch) -> None:
    db = tmp_path / "goldenloop.duckdb"
    shutil.copy(demo_template, db)
    (db.parent / "roles.yaml").write_text("leads: [lead, ana]\n")  # ana edits in the browser
    with open_store(db) as store:
        q = create_queue(store, opts("demo sample"), make_frame(), Uniform(60), seed=5)
        for _ in range(30):
            claim = review.next_item(store, q.queue_id, "ben")
            review.submit(store, claim, {**FULL, "correctness": 3})
        graded = len(judge.from_human_graded(store, judge.get(store, "correctness")).targets)
        old = judge.get(store, "correctness")
        store.checkpoint()
    with openai_server(_script) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        with bs.chromium() as browser, bs.running_app(db, tmp_path) as url:
            page = bs.open_page(browser, f"{url}/judges?reviewer=ana")
            # The server's start-up jobs (scoring, detection) rerun the whole page when they
            # end, and a click during that rerun is lost: begin once they are done.
            page.wait_for_function("() => !document.body.innerText.includes('In progress')",
                                   timeout=180_000)
            bs.wait_rendered(page)
            box = page.get_by_label("System prompt")
            box.wait_for(timeout=60_000)
            box.fill(old.judge.system + STRICT)
            page.get_by_role("button", name="Make a new version").click()
            page.get_by_text(f"calls for {graded} targets (0 already graded").wait_for(
                timeout=60_000)
            bs.wait_rendered(page)  # a click while the page still reruns can be lost
            bs.screenshot(page, "judge-edit-estimate")
            shown = page.get_by_text("Cost estimate:").first.inner_text()
            calls = int(shown.split("Cost estimate: ")[1].split(" calls")[0].replace(",", ""))
            page.get_by_role("button", name="Run on these items").click()
            page.get_by_text(f"Cost estimate: 0 calls for {graded} targets").wait_for(
                timeout=180_000)
            link = page.get_by_role("link", name="Agreement → this version").first
            link.wait_for(timeout=30_000)
            assert "agreement" in (link.get_attribute("href") or "")
            bs.screenshot(page, "judge-edit-after-run")
    # Demo texts repeat: identical prompts are sent once (as estimated), every item is graded.
    assert 0 < len(srv.requests) == calls <= graded
    with Store(db, read_only=True, migrate_schema=False) as store:
        new = store.scalar("SELECT judge_version FROM judge_versions WHERE origin = 'edit'")
        assert store.scalar("SELECT count(*) FROM live_grades WHERE judge_version = ?",
                            [new]) == graded
        log = audit.entries(store, action="judge.edit")
        assert list(log.actor) == ["ana"] and list(log.interface) == ["app"]
