"""Timing one Streamlit page load in headless Chromium, for the page benchmarks: from
navigation until every chart is drawn, the websocket traffic (the server's share as the
browser sees it), the renderer's main-thread CPU, and a tab switch from click to drawn.
"""

from __future__ import annotations

import statistics
import time

PROBE = """
window.__drawn = [];
(function probe() {
    const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
    let drawn = 0;
    for (const c of charts) if (c.querySelector('svg.marks .role-mark, canvas.marks')) drawn++;
    const first = document.querySelector('[data-testid="stMainBlockContainer"] '
                                         + '[data-testid="stElementContainer"]');
    if (first && window.__first === undefined) window.__first = performance.now();
    if (drawn !== window.__last) { window.__drawn.push([performance.now(), drawn]); window.__last = drawn; }
    requestAnimationFrame(probe);
})();
"""


CPU_METRICS = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration",
               "ProcessTime")


def cpu_metrics(cdp) -> dict[str, float]:
    """The renderer's main-thread busy time by kind, in thread CPU time (``threadTicks``), so
    a busy machine slows the wall clock but not these; and the DOM size."""
    got = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {k: got[k] for k in (*CPU_METRICS, "Nodes")}


# Every chart element holds a drawn Vega view (marks in its SVG, or its canvas), and nothing
# is loading. The browser test's own check reads SVG only.
_DRAWN = """(n) => {
    const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
    if (charts.length < n) return false;
    for (const c of charts) if (!c.querySelector('svg.marks .role-mark, canvas.marks')) return false;
    return document.querySelector('[data-testid="stSkeleton"]') === null;
}"""


def draw_time(page, url: str, views: int, timeout_s: float = 120) -> float:
    """Seconds from navigating to ``url`` until every chart (``views`` of them) is drawn."""
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_function(_DRAWN, arg=views, timeout=timeout_s * 1000, polling=20)
    return time.perf_counter() - t


def listen(page) -> list[tuple[float, int]]:
    """When and how many bytes the server sends over the page's websocket (every delta:
    elements, specs, Arrow data), appended as they arrive."""
    received: list[tuple[float, int]] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.append(
        (time.perf_counter(), len(frame) if isinstance(frame, (bytes, str)) else 0))))
    return received


def timed_load(page, url: str, received: list[tuple[float, int]], views: int) -> dict:
    """One navigation until drawn, with the server's share as the browser sees it: the first
    and the last websocket message after navigation started (the script's run ends with the
    last one), and the bytes sent."""
    seen, t0 = len(received), time.perf_counter()
    total = draw_time(page, url, views=views)
    page.wait_for_timeout(300)  # let the probe see the last frame, and late messages arrive
    frames = [(t - t0, n) for t, n in received[seen:] if t >= t0]
    return {"draw_s": round(total, 3), "ws_kB": round(sum(n for _, n in frames) / 1e3, 1),
            "ws_first_s": round(frames[0][0], 3) if frames else None,
            "ws_last_s": round(frames[-1][0], 3) if frames else None}


def one_view(page, cdp, url: str, received: list[tuple[float, int]], views: int) -> dict:
    before = cpu_metrics(cdp)
    view = timed_load(page, url, received, views)
    view["settled_s"] = last_change(page)
    after = cpu_metrics(cdp)
    first = page.evaluate("window.__first")
    drawn = page.evaluate("window.__drawn")
    view |= {"first_element_s": round(first / 1000, 3) if first else None,
             "first_chart_s": round(next(t for t, n in drawn if n > 0) / 1000, 3),
             "last_chart_s": round(next(t for t, n in drawn if n >= views) / 1000, 3),
             "dom_nodes": int(after["Nodes"])}
    # The main thread's figures start again with each document (a navigation): read them
    # as they stand; the renderer process's CPU time runs on, so take its difference.
    view |= {f"cpu_{k}_s": round(after[k] - (before[k] if k == "ProcessTime" else 0), 3)
             for k in CPU_METRICS}
    return view


# The open tab's panel holds ``n`` chart elements, each a drawn Vega view.
_TAB_DRAWN = """(n) => {
    const panel = Array.from(document.querySelectorAll('[role="tabpanel"]'))
        .find(p => !p.hidden && p.offsetParent !== null);
    if (!panel) return false;
    const charts = panel.querySelectorAll('[data-testid="stVegaLiteChart"]');
    if (charts.length !== n) return false;
    for (const c of charts) if (!c.querySelector('svg.marks .role-mark, canvas.marks')) return false;
    return document.querySelector('[data-testid="stSkeleton"]') === null;
}"""


def tab_switches(page, url: str, tabs: dict[str, int], runs: int) -> dict[str, float]:
    """Median seconds from a click on each tab to its charts drawn (the tab's first open
    fills its caches and is not counted), back to the first tab between clicks."""
    labels = [label for label, n in tabs.items() if n][1:]
    if not labels:
        return {}
    first = next(iter(tabs))
    page.goto(url)
    page.wait_for_function(_TAB_DRAWN, arg=tabs[first], timeout=120_000, polling=20)
    times: dict[str, list[float]] = {label: [] for label in labels}
    for i in range(runs + 1):
        for label in labels:
            for tab, n in ((label, tabs[label]), (first, tabs[first])):
                t = time.perf_counter()
                page.get_by_role("tab", name=tab).click()
                page.wait_for_function(_TAB_DRAWN, arg=n, timeout=120_000, polling=20)
                if i and tab == label:
                    times[label].append(time.perf_counter() - t)
    return {label: round(statistics.median(ts), 3) for label, ts in times.items()}


# The time of the page's last change (any element, attribute or text), from navigation start.
SETTLE_PROBE = """
window.__lastChange = 0;
new MutationObserver(() => { window.__lastChange = performance.now(); })
    .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""


def last_change(page, quiet_s: float = 1.5, timeout_s: float = 60) -> float | None:
    """Seconds from navigation start to the page's last change, once nothing has changed for
    ``quiet_s`` (the wait is not counted): the same measure for any page, the Monitor and its
    peer alike. Needs ``SETTLE_PROBE`` as an init script of ``page``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"() => performance.now() - window.__lastChange > {quiet_s * 1000}",
                               timeout=timeout_s * 1000, polling=100)
    except PlaywrightTimeout:
        return None  # never still: no figure rather than a wrong one
    return round(page.evaluate("window.__lastChange") / 1000, 3)
