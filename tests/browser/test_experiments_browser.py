"""The Experiments page in real headless Chromium against `goldenloop serve`: a run started on
the page becomes a job of the owner, follows its progress and lands in the runs table; the
comparison with an earlier run lists the regressed item, whose hostile answer (Markdown, an
image tag, a link) is shown as text and loads nothing."""

from __future__ import annotations

import json
from pathlib import Path

import browser_support as bs
import pytest
from openai_loopback import Reply, openai_server

from goldenloop.experiments import datasets, runner, targets
from goldenloop.schema import open_store

pytestmark = pytest.mark.browser
HOSTILE = "**bold** <img src=http://127.0.0.1:9/x.png> [link](http://127.0.0.1:9/)"


def test_run_from_the_page_and_compare(tmp_path: Path) -> None:
    db = tmp_path / "goldenloop.duckdb"
    (tmp_path / "qa.jsonl").write_text("\n".join(json.dumps(
        {"id": f"q{i}", "input": f"question {i}", "expected": f"answer {i}"}) for i in range(6)))

    def script(body):
        n = int(body["messages"][-1]["content"].split()[-1])
        shorter = "one sentence" in body["messages"][0]["content"]
        return Reply(content=HOSTILE if shorter and n == 2 else f"answer {n}", delay_s=0.2)

    with openai_server(script) as srv:
        folder = tmp_path / "targets"
        folder.mkdir()
        spec = {"name": "bot", "model": "gpt-4o-mini", "system": "Answer in two sentences.",
                "template": "{{ input }}", "endpoint": {"base_url": srv.base_url}}
        with open_store(db) as s:
            ds = datasets.import_file(s, "qa", tmp_path / "qa.jsonl").dataset
            runner.run(s, targets.Target(spec=targets.parse(spec, "bot.yaml")), ds, ["exact"])
        spec["system"] = "Answer in one sentence."
        (folder / "bot.yaml").write_text(json.dumps(spec))   # JSON is YAML
        with bs.chromium() as browser, bs.running_app(db, tmp_path) as url:
            page = bs.open_page(browser, f"{url}/experiments")
            page.get_by_text("Start a run", exact=True).click()
            # Nobody named: the page says how to start a run instead of queuing one that fails.
            page.get_by_text("Type your name in the sidebar to start a run.").wait_for()
            assert page.get_by_role("button", name="Run").count() == 0
            page = bs.open_page(browser, f"{url}/experiments?reviewer=lead")
            page.get_by_text("Start a run", exact=True).click()
            page.get_by_label("Test set (NAME or NAME@VERSION; golden sets too)").fill("qa")
            page.keyboard.press("Enter")
            page.get_by_role("button", name="Run").click()
            # The owner runs it as a job (checked in the store below); its progress line can
            # come and go faster than a look, so the test waits for the outcome instead. When
            # the job ends the page reruns: the new run is in the table and compared.
            page.get_by_text("1 regression, 0 improvements").wait_for(timeout=90_000)
            bs.wait_rendered(page)
            bs.screenshot(page, "experiments-compared")
            assert page.locator("img[src*='127.0.0.1:9']").count() == 0
            assert page.locator("a[href='http://127.0.0.1:9/']").count() == 0
            assert page.locator("strong", has_text="bold").count() == 0
    with open_store(db) as s:
        assert s.scalar("SELECT count(*) FROM experiment_runs WHERE status = 'done'") == 2
        assert s.scalar("SELECT count(*) FROM jobs WHERE kind = 'experiment_run' "
                        "AND status = 'done'") == 1
