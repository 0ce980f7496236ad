"""The import flow in real headless Chromium against `goldenloop serve`: upload a messy file,
the owner imports it as a job, and the page shows the counts and the quarantined rows."""

from __future__ import annotations

from pathlib import Path

import browser_support as bs
import pytest
from import_support import MESSY_CSV

from goldenloop.store import Store

pytestmark = pytest.mark.browser


def test_upload_imports_as_a_job_and_shows_quarantine(tmp_path: Path) -> None:
    db = tmp_path / "goldenloop.duckdb"
    messy = tmp_path / "messy.csv"
    messy.write_text(MESSY_CSV)
    with bs.chromium() as browser, bs.running_app(db, tmp_path) as url:
        # Importing is a lead's write: ana, the first name used, leads (no roles.yaml here).
        page = bs.open_page(browser, f"{url}/imports?reviewer=ana")
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(messy))
        page.get_by_text("messy.csv").first.wait_for()
        page.get_by_role("textbox", name="Column mapping (optional)").fill("end_time=end")
        page.get_by_role("button", name="Import").click()
        # The job runs in the owner; the page follows it, then lists the rows kept aside.
        page.get_by_text("6 rows in quarantine").wait_for(timeout=60_000)
        bs.wait_rendered(page)
        bs.screenshot(page, "imports-after-upload")
        # Dataframes draw on a canvas: read the Jobs page's counts from the store below.
        page.goto(f"{url}/jobs")  # the sidebar may fold Jobs under "View more"
        page.get_by_text("Recent jobs").wait_for(timeout=30_000)
        bs.wait_rendered(page)
        bs.screenshot(page, "jobs-after-import")
    with Store(db, read_only=True, migrate_schema=False) as store:
        assert store.scalar("SELECT count(*) FROM spans") == 3
        assert store.scalar("SELECT count(*) FROM quarantine") == 6
        # The import job (the owner also queues its own work: scoring new spans, detection).
        jobs = store.rows("SELECT kind, status, origin FROM jobs WHERE kind = 'import'")
        assert jobs == [("import", "done", "app")]
        assert "3 imported, 1 duplicates, 6 quarantined" in store.scalar(
            "SELECT message FROM jobs WHERE kind = 'import'")
        assert store.scalar("SELECT reason FROM quarantine WHERE row_number = 3") == "negative: -5"
