"""Sign-in end to end in headless Chromium: `goldenloop serve --secrets FILE` against a real
OpenID Connect provider on loopback (nanoidp, tests/oidc_provider.py).

With no roles.yaml the first person to sign in (ana) becomes the lead, and the page says so;
she draws a queue. Ben signs in next: he is a reviewer, the URL's ?reviewer= names nobody, he
grades an item under his signed-in identity, the Audit log page refuses him, and the library refuses him a
lead's work when the CLI hands it to the running server. Afterwards the audit log holds the
bootstrap, his grade and the refusal, and the grades carry the signed-in identities (the
ID token's subject: tests/oidc_provider.py says why not the e-mail)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import browser_support as bs
import pytest
from browser_page_support import fill_default_by_mouse, submit_by_keys
from signin_support import (
    demo3k,  # noqa: F401 (fixtures)
    serving,
)

from goldenloop.access import roles
from goldenloop.store import Store, audit

pytest_plugins = ["oidc_provider"]  # the provider fixture (tests/oidc_provider.py)
pytest.importorskip("authlib", reason="Authlib (Streamlit's sign-in) is not installed")


def _job_outcome(db: Path, kind: str, seconds: float = 120) -> str:
    """`goldenloop jobs`' line for the job of ``kind`` once it has ended (read, as any CLI
    reader does, from the server's snapshot)."""
    deadline = time.monotonic() + seconds
    while True:
        out = subprocess.run([sys.executable, "-m", "goldenloop.cli", "jobs", "--db", str(db)],
                             capture_output=True, text=True, timeout=120, cwd=bs.ROOT).stdout
        line = next((ln for ln in out.splitlines() if re.search(
            rf"^#\d+ {kind}\s+(failed|done)", ln)), None)
        if line:
            return line
        assert time.monotonic() < deadline, f"the {kind} job did not end:\n{out}"
        time.sleep(1)


def sign_in(browser, url: str, user) -> object:
    """A fresh browser context (its own cookies) signed in as ``user`` through the provider."""
    ctx = browser.new_context(viewport=bs.VIEWPORT, locale="en-US", timezone_id="UTC")
    page = ctx.new_page()
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/authorize?**", timeout=30_000)  # the provider's own login form
    page.fill("#username", user.username)
    page.fill("#password", user.password)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{url}/**", timeout=30_000)
    page.get_by_text(f"{user.identity} · ").wait_for(timeout=30_000)
    return page


def test_sign_in_roles_and_refusals(oidc_provider, demo3k: Path, tmp_path: Path) -> None:  # noqa: F811
    db = tmp_path / "goldenloop.duckdb"
    shutil.copy(demo3k, db)
    ana, ben = oidc_provider.users["ana"], oidc_provider.users["ben"]
    with bs.chromium() as browser, serving(db, oidc_provider.secrets_toml(), tmp_path) as url:
        # not signed in: the sign-in screen only, no name box, no page
        page = bs.open_page(browser, f"{url}/grade?reviewer=ana")
        page.get_by_role("button", name="Sign in").wait_for()
        assert page.get_by_role("textbox", name="Your name").count() == 0
        bs.screenshot(page, "signin-screen")

        lead = sign_in(browser, url, ana)
        lead.get_by_text(f"{ana.identity} · lead").wait_for()
        lead.get_by_text("Lead since the first to sign in").wait_for()
        lead.goto(f"{url}/queues")
        lead.get_by_role("textbox", name="Queue name").fill("signed in")
        lead.get_by_role("button", name="Create queue").click()
        lead.get_by_text("Queue 1 created").wait_for(timeout=60_000)
        bs.screenshot(lead, "signin-lead-queue")

        reviewer = sign_in(browser, url, ben)
        reviewer.get_by_text(f"{ben.identity} · reviewer").wait_for()
        reviewer.goto(f"{url}/grade?queue=1&reviewer={ana.identity}")  # the URL names nobody
        reviewer.get_by_text(f"{ben.identity} · reviewer").wait_for(timeout=30_000)
        reviewer.locator('[class*="st-key-glcrit-"]').first.wait_for(timeout=30_000)
        fill_default_by_mouse(reviewer)
        submit_by_keys(reviewer)
        bs.screenshot(reviewer, "signin-reviewer-graded")
        reviewer.goto(f"{url}/queues?queue=1")
        reviewer.get_by_text(f"{ben.identity} · reviewer").wait_for(timeout=30_000)
        bs.wait_rendered(reviewer)
        assert reviewer.get_by_text("Create a queue").count() == 0
        reviewer.goto(f"{url}/audit")
        reviewer.get_by_text("The audit log is for leads").wait_for(timeout=30_000)

        # the library refuses him too: the CLI hands the work to the running server as a job
        queued = subprocess.run(
            [sys.executable, "-m", "goldenloop.cli", "golden", "build", "by-ben", "--db",
             str(db), "--author", ben.identity], capture_output=True, text=True, timeout=300,
            cwd=bs.ROOT)
        assert "queued the build as a job" in queued.stdout, queued.stdout + queued.stderr
        outcome = _job_outcome(db, "golden")
        assert " failed " in outcome and f"{ben.identity} may not export" in outcome, outcome

        lead.goto(f"{url}/audit")
        lead.get_by_text("Every write goldenloop records").wait_for(timeout=30_000)
        bs.screenshot(lead, "signin-lead-audit")

        # signing out ends the session: the sign-in screen again, no identity
        reviewer.get_by_role("button", name="Sign out").click()
        reviewer.wait_for_url(f"{url}/**", timeout=30_000)
        reviewer.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
        assert reviewer.get_by_text(f"{ben.identity} · ").count() == 0

    with Store(db, read_only=True, migrate_schema=False) as s:
        job = s.rows("SELECT status, error FROM jobs WHERE kind = 'golden'")
        assert len(job) == 1 and job[0][0] == "failed", job
        assert f"{ben.identity} may not export" in job[0][1]
        assert s.scalar("SELECT count(*) FROM golden_versions") == 0
        assert s.rows("SELECT created_by FROM queues") == [(ana.identity,)]
        authors = s.rows("SELECT DISTINCT author_id FROM grades WHERE source = 'human' "
                         "AND queue_id = 1")
        assert authors == [(ben.identity,)]
        log = audit.entries(s)
        pairs = set(zip(log["actor"], log["action"], strict=True))
    assert (ana.identity, "roles.bootstrap") in pairs
    assert (ben.identity, "access.denied") in pairs
    assert any(actor == ben.identity and action.startswith("grade") for actor, action in pairs)
    assert roles.load(db.parent).leads == {ana.identity}
