"""Sign-in through a trusted proxy header, in headless Chromium against `goldenloop serve`.

The browser plays the proxy's part by sending the header itself (Playwright adds it to every
request, the WebSocket upgrade included). Configured to trust 127.0.0.1, the header names the
user; configured to trust another address, the same header is ignored, even when the request
also claims, with X-Forwarded-For, to come from that address (the server keeps the real peer).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import browser_support as bs
import pytest
from signin_support import demo3k, serving  # noqa: F401 (demo3k: a fixture)

pytestmark = pytest.mark.browser

HEADER = "X-Forwarded-Email"


def _secrets(address: str) -> str:
    return f'[trusted_proxy]\nheader = "{HEADER}"\naddresses = ["{address}"]\n'


def _open(browser, url: str, headers: dict[str, str]):
    ctx = browser.new_context(viewport=bs.VIEWPORT, locale="en-US", timezone_id="UTC",
                              extra_http_headers=headers)
    page = ctx.new_page()
    page.goto(url)
    return page


def _db(demo3k: Path, tmp_path: Path) -> Path:  # noqa: F811 (the fixture's value)
    db = tmp_path / "goldenloop.duckdb"
    shutil.copy(demo3k, db)
    return db


def test_header_from_the_configured_proxy_names_the_user(demo3k, tmp_path):  # noqa: F811
    with bs.chromium() as browser, serving(_db(demo3k, tmp_path), _secrets("127.0.0.1"),
                                           tmp_path) as url:
        page = _open(browser, f"{url}/queues?reviewer=mallory", {HEADER: "Chloe@Example.org"})
        page.get_by_text("chloe@example.org · lead").wait_for(timeout=30_000)
        assert page.get_by_role("textbox", name="Your name").count() == 0
        assert page.get_by_text("mallory").count() == 0
        bs.screenshot(page, "signin-proxy-header")
        bare = _open(browser, f"{url}/queues", {})
        bare.get_by_text("did not come through it").wait_for(timeout=30_000)


def test_header_from_anyone_else_is_ignored(demo3k, tmp_path):  # noqa: F811
    with bs.chromium() as browser, serving(_db(demo3k, tmp_path), _secrets("10.1.2.3"),
                                           tmp_path) as url:
        page = _open(browser, f"{url}/queues", {HEADER: "chloe@example.org",
                                                "X-Forwarded-For": "10.1.2.3"})
        page.get_by_text("did not come through it").wait_for(timeout=30_000)
        assert page.get_by_text("chloe@example.org").count() == 0
