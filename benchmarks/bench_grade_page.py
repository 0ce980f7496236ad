"""Keys per item and the next item's latency on the Grade page, keyboard only, in headless
Chromium, on the demo history `goldenloop serve` makes by default (200,000 spans).

    python benchmarks/bench_grade_page.py               # 30 timed items
    python benchmarks/bench_grade_page.py --items 10 --spans 20000
    python benchmarks/bench_grade_page.py --ab OLD_APP_DIR   # the next item, old app against this

``--ab`` alternates an older Grade page (``OLD_APP_DIR`` holds an older ``app/`` folder, e.g.
``git archive COMMIT app | tar -x -C DIR``; it runs over this library) with this one, rounds
of ``--items`` each on fresh copies, timing from the Submit *click* with picks made by mouse,
so both are measured the same way whatever their keys.

A reviewer grades the default rubric's required criteria (correctness, tone, conciseness,
safety) of a lead's stratified queue with the keyboard alone: one digit per criterion (each
digit picks and moves on) and Ctrl+Enter. Every key pressed is counted. The latency is timed
in the page from the Ctrl+Enter keydown (a listener on the window, which sees the key before
the page's keyboard script) to

- *shown*: the next item's marker and its rubric controls are in the page;
- *settled*: that, and the app has finished its run and the keyboard script waits for no key.

Two baselines, measured in the same run:

- *bare*: a minimal Streamlit page (a button whose click reruns the page and changes one
  ``st.text``), served by plain ``streamlit run`` to the same Chromium, timed the same way
  from the click to the changed text (shown) and to the end of the run (settled), half of its
  rounds before the Grade page's and half after, so a load that drifts weighs on both. The
  ratio *shown / bare* is what this machine's noise leaves comparable between runs;
- *library*: the library calls one submission costs the page (``submit_and_next``,
  ``asked``, ``payload``, ``grading_progress``), in-process, per item, on a second queue of
  the same store before the server opens it.

The first submit warms the page and is not timed. The machine is shared: the load average is
printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT / "tests" / "unit"))  # test_browser_monitor's own helpers

import browser_support as bs  # noqa: E402
from bench_review import _TIMED_SUBMIT, save_result, template  # noqa: E402
from test_browser_monitor import wait_until_idle  # noqa: E402
from test_browser_review import (  # noqa: E402
    _CURRENT,
    _MARKER,
    _pick,
    _wait_item,
    fill_default_by_mouse,
)
from timing import page_latency, uptime  # noqa: E402

from goldenloop import review, sampling  # noqa: E402
from goldenloop.schema import open_store  # noqa: E402

OUT = HERE / "out"
FULL = {"correctness": 4, "tone": ["on-brand"], "conciseness": "concise", "safety": "safe"}
PICKS = (("4", "4"), ("1", "1 · on-brand"), ("3", "3 · concise"), ("3", "3 · safe"))

# Arm a timer: the next Ctrl+Enter keydown starts it; resolves window.__glT with [shown ms,
# settled ms] once the next item is drawn and the page is idle (-1 after 20 s).
_ARM = """() => {
    const marker = """ + _MARKER + """;
    const drawn = () => { const m = """ + _CURRENT + """;
        if (!m || !m.querySelector('[class*="st-key-glcrit-"]')) return null;
        return Array.from(m.classList).find(c => c.startsWith('st-key-glitem-')); };
    const old = marker();
    window.__glT = null;
    window.__glClick = -1;  // when the keyboard script clicked Submit, from the keydown
    let t0 = null;
    const clicked = (e) => {
        if (t0 !== null && e.target.closest && e.target.closest('.st-key-gl_submit')) {
            window.__glClick = performance.now() - t0;
            window.removeEventListener('click', clicked, true);
        }
    };
    window.addEventListener('click', clicked, true);
    const start = (e) => {
        if (!(e.ctrlKey && e.key === 'Enter')) return;
        window.removeEventListener('keydown', start, true);
        t0 = performance.now();
        let shown = -1;
        const tick = () => {
            const t = performance.now() - t0, d = drawn(), m = marker();
            if (shown < 0 && d !== null && d !== old) shown = t;
            if (m !== null && m !== old) {
                window.__glT = [shown < 0 ? t : shown, t, window.__glClick]; return; }
            if (t > 20000) { window.__glT = [shown, -1, window.__glClick]; return; }
            requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
    };
    window.addEventListener('keydown', start, true);
}"""


# The bare baseline: the least a Streamlit rerun that changes one element costs.
BARE_APP = '''import streamlit as st

if "n" not in st.session_state:
    st.session_state.n = 0


def bump() -> None:
    st.session_state.n += 1


st.button("Next", key="next", on_click=bump)
st.text(f"item {st.session_state.n}")
'''

# Click the bare page's button; resolve with [shown ms, settled ms] (-1 after 20 s).
_BARE_CLICK = """async () => {
    const text = () => document.querySelector('[data-testid="stText"]')?.innerText;
    const idle = () => document.querySelector('[data-test-script-state]')
        ?.getAttribute('data-test-script-state') === 'notRunning';
    const old = text(), t0 = performance.now();
    let shown = -1;
    document.querySelector('.st-key-next button').click();
    while (performance.now() - t0 < 20000) {
        await new Promise(r => requestAnimationFrame(r));
        if (shown < 0 && text() !== old) shown = performance.now() - t0;
        if (shown >= 0 && idle()) return [shown, performance.now() - t0];
    }
    return [shown, -1];
}"""


def bare_run(browser, clicks: int) -> list[tuple[float, float]]:
    """(shown, settled) ms of ``clicks`` timed reruns of the bare page (one warm-up first)."""
    script = OUT / "bare_app.py"
    script.write_text(BARE_APP)
    port = bs.free_port()
    log = OUT / f"bare-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port),
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=OUT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        bs.wait_healthy(url, proc, log)
        page = bs.open_page(browser, url)
        times = []
        for i in range(clicks + 1):
            page.wait_for_function("() => document.querySelector('[data-test-script-state]')"
                                   "?.getAttribute('data-test-script-state') === 'notRunning'")
            shown, settled = page.evaluate(_BARE_CLICK)
            if shown < 0 or settled < 0:
                raise RuntimeError(f"the bare page did not rerun after {len(times)} clicks")
            if i > 0:
                times.append((shown, settled))
        page.close()
        return times
    finally:
        bs.stop(proc)
        log.unlink(missing_ok=True)


def make_queues(db: Path, n: int) -> tuple[int, int, int]:
    """Two stratified queues of about ``n`` items (library baseline, browser); their ids and
    the spans in the store."""
    with open_store(db) as s:
        ids = [sampling.create_queue(s, sampling.QueueOptions(name, "lead"),
                                     sampling.make_frame(), sampling.Stratified(n),
                                     seed=seed).queue_id
               for name, seed in (("baseline", 3), ("keys", 11))]
        return ids[0], ids[1], int(s.scalar("SELECT count(*) FROM spans"))


def library_baseline(db: Path, queue_id: int, items: int) -> list[float]:
    """Per submission, ms of the library calls the page makes, in-process."""
    out = []
    with open_store(db) as s:
        claim = review.next_item(s, queue_id, "pat")
        for _ in range(items):
            t = time.perf_counter()
            _, nxt = review.submit_and_next(s, claim, FULL)
            if nxt is None:
                break
            review.grading_progress(s, queue_id, "pat")
            review.asked(s, nxt)
            review.payload(s, nxt)
            out.append((time.perf_counter() - t) * 1000)
            claim = nxt
    return out


def browser_run(db: Path, queue_id: int, timed: int
                ) -> tuple[list[tuple[float, float, float]], float, list[tuple[float, float]]]:
    """(latencies of the timed submits, keys pressed per item over every item graded, the
    bare page's latencies, half before and half after)."""
    with bs.chromium() as browser:
        bare = bare_run(browser, (timed + 1) // 2)
        times, per_item = _grade(browser, db, queue_id, timed)
        bare += bare_run(browser, timed // 2 or 1)
    return times, per_item, bare


def _grade(browser, db: Path, queue_id: int, timed: int
           ) -> tuple[list[tuple[float, float, float]], float]:
    times, keys, graded = [], 0, 0
    with bs.running_app(db, OUT) as url:
        page = bs.open_page(browser, url)
        wait_until_idle(page, url)  # the owner's background jobs would share the CPU
        page.goto(f"{url}/grade?reviewer=ana&queue={queue_id}")
        _wait_item(page)
        for i in range(timed + 1):
            for i_crit, (key, shown) in enumerate(PICKS):
                _pick(page, key, i_crit, shown)
                keys += 1
            _wait_item(page)  # idle, the picks drawn: time the submit alone
            page.evaluate(_ARM)
            page.keyboard.press("Control+Enter")
            keys += 1
            graded += 1
            page.wait_for_function("() => window.__glT !== null", timeout=30_000)
            shown, settled, click = page.evaluate("() => window.__glT")
            if shown < 0 or settled < 0:
                bs.screenshot(page, "grade-bench-stuck")
                raise RuntimeError(f"no next item after {len(times)} timed submits")
            if i > 0:
                times.append((shown, settled, click))
            _wait_item(page)
        bs.screenshot(page, "grade-bench-last")
    return times, keys / graded


def ab_round(db: Path, queue_id: int, items: int, app_dir: Path | None) -> list[float]:
    """Click-timed next-item latencies (shown, ms) of one app: this one, or the one in
    ``app_dir`` (imported first through PYTHONPATH by the server process)."""
    old = os.environ.get("PYTHONPATH")
    if app_dir is not None:
        shim = OUT / "ab_shim"
        shim.mkdir(exist_ok=True)
        link = shim / "goldenloop_app"
        link.unlink(missing_ok=True)
        link.symlink_to(app_dir.resolve())
        os.environ["PYTHONPATH"] = str(shim)
    try:
        times = []
        with bs.chromium() as browser, bs.running_app(db, OUT) as url:
            page = bs.open_page(browser, url)
            wait_until_idle(page, url)
            page.goto(f"{url}/grade?reviewer=ana&queue={queue_id}")
            _wait_item(page)
            for i in range(items + 1):
                fill_default_by_mouse(page)
                _wait_item(page)
                shown, _settled = page.evaluate(_TIMED_SUBMIT)
                if i > 0:
                    times.append(shown)
        return times
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def ab(spans: int, items: int, old_app: Path, rounds: int = 2) -> None:
    res: dict[str, list[float]] = {"old": [], "new": [], "bare": []}
    with bs.chromium() as browser:
        res["bare"] += [t[0] for t in bare_run(browser, items)]
    for r in range(rounds):  # the order alternates, so a load that drifts favours neither
        pair = [("old", old_app), ("new", None)]
        for label, app_dir in (pair if r % 2 == 0 else pair[::-1]):
            db = OUT / f"grade_ab_{spans}.duckdb"
            shutil.copy(template(spans), db)
            _, q, _ = make_queues(db, items + 10)
            res[label] += ab_round(db, q, items, app_dir)
            for f in OUT.glob(f"{db.stem}*"):
                f.unlink(missing_ok=True)
    with bs.chromium() as browser:
        res["bare"] += [t[0] for t in bare_run(browser, items)]
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"A/B, {rounds} rounds x {items} items, click to next item shown, median: old app "
          f"{med['old']:.0f} ms ({med['old'] / med['bare']:.1f}x bare), this app "
          f"{med['new']:.0f} ms ({med['new'] / med['bare']:.1f}x bare); the bare page "
          f"{med['bare']:.0f} ms [{uptime()}]")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=200_000)
    ap.add_argument("--items", type=int, default=30, help="timed submits")
    ap.add_argument("--ab", type=Path, help="an older app/ folder to compare against")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; {uptime()}")
    if args.ab:
        ab(args.spans, args.items, args.ab)
        return
    db = OUT / f"grade_bench_{args.spans}.duckdb"
    shutil.copy(template(args.spans), db)
    base_q, keys_q, spans = make_queues(db, args.items + 20)
    base = library_baseline(db, base_q, args.items)
    times, per_item, bare = browser_run(db, keys_q, args.items)
    lib = statistics.median(base)
    out = {"spans": spans, "keys_per_item": round(per_item, 2), "library_median_ms": round(lib, 1)}
    out |= page_latency(times)
    bare_shown = statistics.median(t[0] for t in bare)
    out |= {"key_to_click_median_ms": round(statistics.median(t[2] for t in times), 1),
            "shown_over_library": round(statistics.median(t[0] for t in times) / lib, 2),
            "bare_shown_median_ms": round(bare_shown, 1),
            "bare_settled_median_ms": round(statistics.median(t[1] for t in bare), 1),
            "shown_over_bare": round(out["shown_median_ms"] / bare_shown, 2),
            "load": uptime(), "finished": datetime.now().isoformat(timespec="seconds")}
    print(f"{spans:,} spans, {len(times)} timed items, keyboard only: {per_item:.2f} keys per "
          f"item; next item from the Ctrl+Enter keydown: shown median "
          f"{out['shown_median_ms']:.0f} ms (p90 {out['shown_p90_ms']:.0f}), settled median "
          f"{out['settled_median_ms']:.0f} ms (max {out['settled_max_ms']:.0f}), of which the "
          f"key to the Submit click {out['key_to_click_median_ms']:.0f} ms; the library "
          f"calls alone {lib:.0f} ms per item in-process (shown / library "
          f"{out['shown_over_library']:.1f}x); the bare page's rerun shown median "
          f"{bare_shown:.0f} ms (shown / bare {out['shown_over_bare']:.1f}x) [{out['load']}]")
    save_result(out, "grade_page.json", db)


if __name__ == "__main__":
    main()
