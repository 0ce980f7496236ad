"""The link in a notification opens the app's view of the alert: `goldenloop serve` with an
alerts.yaml posts to a loopback receiver, and headless Chromium follows the payload's link to
the Alerts page with that rule chosen."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import browser_support as bs
from alerts_support import load, minute_traffic, receiver

from goldenloop.alerts.engine import utcnow
from goldenloop.schema import open_store

RULES = """
rules:
  - name: a quiet rule             # first in the list: the page's choice without the link
    metric: requests
    condition: no_data
  - name: support errors & timeouts
    metric: error_rate
    filter: {{apps: [support]}}
    window: 10m
    condition: above
    critical: 0.3
    interval: 1s
    channels: [{{type: webhook, url: "{url}"}}]
"""


def test_the_notification_link_opens_the_rule_on_the_alerts_page(tmp_path):
    db = tmp_path / "goldenloop.duckdb"
    with open_store(db) as store:
        load(store, minute_traffic(utcnow() - timedelta(minutes=10), 10, 10, 0.5))
    port = bs.free_port()
    env = os.environ | {"GOLDENLOOP_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    with receiver() as rec:
        (tmp_path / "alerts.yaml").write_text(RULES.format(url=rec.url()))
        with open(tmp_path / "serve.log", "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "goldenloop.cli", "serve", "--db", str(db), "--port",
                 str(port), "--no-demo"], stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=bs.ROOT, stdin=subprocess.DEVNULL)
        try:
            bs.wait_healthy(f"http://127.0.0.1:{port}", server, tmp_path / "serve.log")
            deadline = time.monotonic() + 60
            while not rec.bodies() and time.monotonic() < deadline:
                time.sleep(0.2)
            (body,) = rec.bodies()
            link = body["link"]
            assert link == (f"http://127.0.0.1:{port}/alerts?rule="
                            "support%20errors%20%26%20timeouts")
            with bs.chromium() as browser:
                page = bs.open_page(browser, link)
                main = page.locator('[data-testid="stMainBlockContainer"]')
                assert main.get_by_role("heading", name="Alerts").count() == 1
                code = main.locator('[data-testid="stCode"]').inner_text()
                assert "name: support errors & timeouts" in code and "quiet" not in code
                assert "History" in main.inner_text()
                bs.screenshot(page, "alerts-from-link")
        finally:
            bs.stop(server)
