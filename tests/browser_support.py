"""Helpers for tests that drive the real app in headless Chromium (a plain module, not a conftest).

``running_app`` starts the app as a subprocess on a free loopback port and waits until
``/_stcore/health`` answers ``ok``; ``chromium`` launches Debian's Chromium through Playwright
(never a downloaded browser) and skips the test, saying why, when it is missing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Streamlit's main area scrolls inside the page, so full_page screenshots miss it: be tall.
VIEWPORT = {"width": 1400, "height": 2000}
STARTUP_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_command(db: Path, port: int) -> list[str]:
    """How the app is started: as users start it, by the owner process `goldenloop serve`
    (``--no-demo``: tests bring their own data)."""
    return [sys.executable, "-m", "goldenloop.cli", "serve", "--db", str(db), "--port", str(port),
            "--no-demo"]


@contextmanager
def running_app(db: Path, log_dir: Path | None = None) -> Iterator[str]:
    """Run the app over database ``db``; yield its base URL; stop it afterwards."""
    port = free_port()
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="goldenloop-app-"))
    log = log_dir / f"app-{port}.log"
    env = os.environ | {"GOLDENLOOP_DB": str(db)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(app_command(db, port), cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url
    finally:
        stop(proc)


def wait_healthy(url: str, proc: subprocess.Popen, log: Path,
                 timeout: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().decode().strip() == "ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the app did not become healthy in {timeout:.0f} s:\n{_tail(log)}")


def stop(proc: subprocess.Popen) -> None:
    """Stop the app we started (this process only, by its handle)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Debian Chromium driven by Playwright; skips when either is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                     headless=True)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str):
    """A new tall page at ``url``, waited until Streamlit has drawn it."""
    page = browser.new_page(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    page.goto(url)
    wait_rendered(page)
    return page


_DRAWN = """() => {
    const main = document.querySelector('[data-testid="stMainBlockContainer"]');
    return main !== null && main.querySelector('[data-testid="stElementContainer"]') !== null
        && document.querySelector('[data-testid="stSkeleton"]') === null;
}"""


def wait_rendered(page, timeout_s: float = 30, settled_s: float = 0.75) -> None:
    """Wait until the page has elements and no loading skeletons, steadily for ``settled_s``.

    Streamlit streams elements as the script runs and loads some components lazily (metrics
    and dataframes show a skeleton first), so one look is not enough.
    """
    deadline = time.monotonic() + timeout_s
    steady_since = None
    while time.monotonic() < deadline:
        if page.evaluate(_DRAWN):
            steady_since = steady_since or time.monotonic()
            if time.monotonic() - steady_since >= settled_s:
                return
        else:
            steady_since = None
        page.wait_for_timeout(150)
    raise TimeoutError(f"the page did not finish drawing in {timeout_s:.0f} s")


def screenshot_dir() -> Path:
    d = Path(os.environ.get("GOLDENLOOP_SCREENSHOTS") or Path(tempfile.gettempdir())
             / "goldenloop-screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


def screenshot(page, name: str) -> Path:
    """Save a screenshot of the viewport under the screenshot folder; return its path."""
    path = screenshot_dir() / f"{name}.png"
    page.screenshot(path=str(path))
    return path
