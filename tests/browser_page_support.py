"""Waiting for and timing Streamlit pages in Chromium, and the review keys and marks the
browser tests of review, grading, sign-in and hostile data share."""

from __future__ import annotations

import time

import browser_support as bs

ROWS = 1  # the Monitor's first tab: two rows of two charts, all one Vega view


# Every chart element holds a drawn Vega view (marks in its SVG), and nothing is loading.
_DRAWN = """(n) => {
    const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
    if (charts.length < n) return false;
    for (const c of charts) if (!c.querySelector('svg.marks .role-mark')) return false;
    return document.querySelector('[data-testid="stSkeleton"]') === null;
}"""


def draw_time(page, url: str, charts: int = ROWS, timeout_s: float = 60) -> float:
    """Seconds from navigating to ``url`` until ``charts`` chart elements are drawn."""
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_function(_DRAWN, arg=charts, timeout=timeout_s * 1000, polling=20)
    return time.perf_counter() - t


def wait_until_idle(page, url: str, timeout_s: float = 600, quiet_s: float = 3) -> None:
    """Wait until the owner process runs no job (it scores new spans in the background),
    so timings do not share the CPU with it."""
    page.goto(f"{url}/jobs")
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        busy = page.get_by_text("In progress").count() > 0
        quiet_since = None if busy else (quiet_since or time.monotonic())
        if quiet_since and time.monotonic() - quiet_since >= quiet_s:
            return
        page.wait_for_timeout(500)
    raise TimeoutError("the owner process was still busy with jobs")


# Markup the hostile strings would produce if any reached Markdown or HTML: an element that
# loads from, or a link that leads to, anywhere but this server (a javascript: link included).
_RENDERED = """() => {
    const bad = [];
    const outside = (url) => {
        try {
            const u = new URL(url, document.baseURI);
            return u.protocol === 'javascript:' || (u.protocol.startsWith('http')
                                                    && u.hostname !== '127.0.0.1');
        } catch (e) { return true; }
    };
    for (const el of document.querySelectorAll('img, image, iframe, source, video, audio, object, embed')) {
        const src = el.getAttribute('src') || el.getAttribute('href') || el.getAttribute('xlink:href');
        if (src && !src.startsWith('data:') && outside(src)) bad.push(el.outerHTML.slice(0, 200));
    }
    for (const a of document.querySelectorAll('a[href]'))
        if (outside(a.getAttribute('href'))) bad.push(a.outerHTML.slice(0, 200));
    return bad;
}"""


# The app is idle: no run in flight, the page's keyboard script listening, and none of its
# keys still waiting.
_IDLE = """(() => { const a = document.querySelector('[data-test-script-state]');
    const d = document.documentElement.dataset;
    return a !== null && a.getAttribute('data-test-script-state') === 'notRunning'
        && d.glKeys === 'ready' && (d.glKeysPending || '0') === '0'; })()"""


# The current item's marker container (never a stale one left from the previous run).
_CURRENT = """(() => { const all = Array.from(document.querySelectorAll('[class*="st-key-glitem-"]'))
    .filter(el => !el.closest('[data-stale="true"]')); return all.length === 1 ? all[0] : null; })()"""


# The item marker's class, once the app is idle and the rubric's controls are drawn: every
# choice criterion shows its buttons (Streamlit loads a control's code lazily, so a container
# can be there before its buttons).
_MARKER = """() => { if (!""" + _IDLE + """) return null; const m = """ + _CURRENT + """;
    const crits = m ? Array.from(m.querySelectorAll('[class*="st-key-glcrit-"]')) : [];
    if (!crits.length || crits.some(c => !/-text-/.test(c.className)
                                      && !c.querySelector('button'))) return null;
    return Array.from(m.classList).find(c => c.startsWith('st-key-glitem-')); }"""


_CHECKED = """(i) => { const m = """ + _CURRENT + """; if (!m) return [];
    const el = m.querySelectorAll('[class*="st-key-glcrit-"]')[i];
    if (!el) return [];
    return Array.from(el.querySelectorAll('button[aria-checked="true"], '
        + 'button[aria-pressed="true"], button[data-selected="true"]'))
        .map(b => b.innerText.trim()); }"""


# What a failed wait prints: run state, keys ready and waiting, item markers, the focused
# criterion, the element with the focus, the script's last clicks.
_DEBUG = """() => [
    document.querySelector('[data-test-script-state]')?.getAttribute('data-test-script-state'),
    document.documentElement.dataset.glKeys, document.documentElement.dataset.glKeysPending,
    document.activeElement?.tagName,
    Array.from(document.querySelectorAll('[class*="st-key-glitem-"]'))
        .map(e => (e.className.match(/st-key-glitem-[0-9]+/) || [''])[0]).join(','),
    Array.from(document.querySelectorAll('[data-gl-focused]'))
        .map(e => e.dataset.glFocused).join(''), window.__glLog]"""


_NEXT_OR_DONE = f"""(o) => {{ if (!{_IDLE}) return false; const m = ({_MARKER})();
    const t = document.body.innerText;
    return m !== o && (m !== null || t.includes('Nothing left') || t.includes('held by other'));
}}"""


def _wait_item(page, old: str | None = None, timeout: float = 20_000) -> str:
    # The marker seen by the wait itself: a second look could fall in the next rerun (None).
    return page.wait_for_function(
        f"(old) => {{ const m = ({_MARKER})(); return m && m !== old ? m : null; }}",
        arg=old, timeout=timeout).json_value()


def _pick(page, key: str, criterion: int, expect: str) -> None:
    """Press a digit and wait until the focused criterion shows it chosen."""
    page.keyboard.press(key)
    try:
        page.wait_for_function(f"(i) => ({_CHECKED})(i).includes({expect!r})", arg=criterion,
                               timeout=10_000)
    except Exception:
        bs.screenshot(page, "review-pick-failed")
        print("DEBUG", page.evaluate(_DEBUG), [page.evaluate(_CHECKED, i) for i in range(4)])
        raise


def submit_by_keys(page) -> str:
    old = _wait_item(page)  # the app idle on this item
    page.keyboard.press("Control+Enter")
    page.wait_for_function(_NEXT_OR_DONE, arg=old, timeout=20_000)
    return old


def fill_default_by_mouse(page) -> None:
    """The same answers by clicks (this test is about two sessions, not the keyboard)."""
    for i, text in enumerate(("4", "1 · on-brand", "3 · concise", "3 · safe")):
        crit = page.locator('[class*="st-key-glcrit-"]').nth(i)
        crit.locator("button >> visible=true").filter(has_text=text).first.click()
        page.wait_for_function(f"(i) => ({_CHECKED})(i).includes({text!r})", arg=i,
                               timeout=10_000)
