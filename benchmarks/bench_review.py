"""The next review item after Submit, in headless Chromium, on a store of 1M spans.

    python benchmarks/bench_review.py                 # 50 timed items on the 1M-span demo
    python benchmarks/bench_review.py --items 20      # fewer
    python benchmarks/bench_review.py --profile       # also time the library calls alone

The store is the demo history (``goldenloop demo --spans 1000000``: sessions, retrieval and
tool spans, signals, earlier grades), built once into benchmarks/out and copied for each run,
so the run's queue and grades never change the template. ``goldenloop serve`` owns the copy,
as users run it. A lead's stratified queue is drawn, then a reviewer grades items with the
keyboard (the picks' reruns finish first) and the time from the Submit click to the next
item is measured in the page, two ways:

- *shown*: the next item's marker and its rubric controls are in the page;
- *settled*: that, and the fragment's run has finished (nothing left to draw).

The machine is shared: the load average is printed beside the medians.
"""

from __future__ import annotations

import argparse
import json
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
sys.path.insert(0, str(ROOT / "tests" / "browser"))  # the browser tests' helpers

import browser_support as bs  # noqa: E402
from test_browser_monitor import wait_until_idle  # noqa: E402
from test_browser_review import _CURRENT, _MARKER, _wait_item, fill_default_by_keys  # noqa: E402
from timing import page_latency, uptime  # noqa: E402

from goldenloop import review, sampling  # noqa: E402
from goldenloop.schema import open_store  # noqa: E402

OUT = HERE / "out"
FULL = {"correctness": 4, "tone": ["on-brand"], "conciseness": "concise", "safety": "safe"}

# Click Submit; resolve with [shown ms, settled ms] (-1 on a 20 s timeout).
_TIMED_SUBMIT = """async () => {
    const marker = """ + _MARKER + """;
    const drawn = () => { const m = """ + _CURRENT + """;
        if (!m || !m.querySelector('[class*="st-key-glcrit-"]')) return null;
        return Array.from(m.classList).find(c => c.startsWith('st-key-glitem-')); };
    const old = marker(), t0 = performance.now();
    let shown = -1;
    """ + _CURRENT + """.querySelector('.st-key-gl_submit button').click();
    while (performance.now() - t0 < 20000) {
        await new Promise(r => requestAnimationFrame(r));
        const d = drawn();
        if (shown < 0 && d !== null && d !== old) shown = performance.now() - t0;
        const m = marker();
        if (m !== null && m !== old) return [shown < 0 ? performance.now() - t0 : shown,
                                             performance.now() - t0];
    }
    return [shown, -1];
}"""


def save_result(out: dict, name: str, db: Path) -> None:
    """Write the result to ``OUT/name`` and remove the run's database files."""
    (OUT / name).write_text(json.dumps(out, indent=2))
    for f in OUT.glob(f"{db.stem}*"):  # the working copy and the snapshot the server published
        f.unlink(missing_ok=True)


def template(spans: int) -> Path:
    """The demo store of ``spans`` spans (the one the metrics benchmark also uses)."""
    path = OUT / f"demo_{spans}.duckdb"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "goldenloop.cli", "demo", "--db", str(path),
                        "--spans", str(spans)], check=True, cwd=ROOT)
        print(f"demo of {spans:,} spans built in {time.perf_counter() - t:.0f} s")
    return path


def working_copy(spans: int) -> Path:
    path = OUT / f"review_bench_{spans}.duckdb"
    shutil.copy(template(spans), path)
    return path


def make_queue(db: Path, n: int) -> tuple[int, int, int]:
    """A lead's stratified queue of about ``n`` spans; (queue id, items, spans in store)."""
    with open_store(db) as s:
        q = sampling.create_queue(s, sampling.QueueOptions("bench", "lead"), sampling.make_frame(),
                                  sampling.Stratified(n), seed=11)
        return q.queue_id, q.items, int(s.scalar("SELECT count(*) FROM spans"))


def profile_library(db: Path, queue_id: int, items: int) -> dict[str, float]:
    """Median ms of each library call the grading screen makes for one submission (the
    callback, then the fragment's run), outside the app."""
    calls: dict[str, list[float]] = {}

    def timed(name, fn, *args):
        t = time.perf_counter()
        out = fn(*args)
        calls.setdefault(name, []).append((time.perf_counter() - t) * 1000)
        return out

    with open_store(db) as s:
        claim = review.next_item(s, queue_id, "pat")
        for _ in range(min(items, 30) - 1):
            _, nxt = timed("submit_and_next", review.submit_and_next, s, claim, FULL)
            timed("other_grades (just graded)", review.other_grades, s, claim)
            timed("grading_progress", review.grading_progress, s, queue_id, "pat")
            timed("queue_rubric", review.queue_rubric, s, queue_id)
            timed("is_adjudication", review.is_adjudication, s, queue_id)
            timed("payload", review.payload, s, nxt)
            claim = nxt
    return {k: round(statistics.median(v), 1) for k, v in calls.items()}


def browser_run(db: Path, queue_id: int, timed: int) -> list[tuple[float, float]]:
    times = []
    with bs.chromium() as browser, bs.running_app(db, OUT) as url:
        page = bs.open_page(browser, url)
        wait_until_idle(page, url)  # the owner's background jobs would share the CPU
        page.goto(f"{url}/grade?reviewer=ana&queue={queue_id}")
        _wait_item(page)
        for i in range(timed + 1):
            fill_default_by_keys(page)
            _wait_item(page)  # the picks' reruns are done: time the submit alone
            shown, settled = page.evaluate(_TIMED_SUBMIT)
            if shown < 0 or settled < 0:
                bs.screenshot(page, "review-bench-stuck")
                raise RuntimeError(f"no next item after {len(times)} timed submits")
            if i > 0:  # the first submit warms the page (scripts, caches); not timed
                times.append((shown, settled))
        bs.screenshot(page, "review-bench-last")
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=50, help="timed submits")
    ap.add_argument("--profile", action="store_true", help="also time the library calls")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; {uptime()}")
    db = working_copy(args.spans)
    queue_id, items, spans = make_queue(db, args.items + 30)
    assert items > args.items + 1, f"the queue holds {items} items, too few"
    out: dict = {"spans": spans, "queue_items": items}
    if args.profile:
        out["library_ms"] = profile_library(db, queue_id, items)
        print("library calls, median ms:", out["library_ms"])
        queue_id, items, _ = make_queue(db, args.items + 30)
    times = browser_run(db, queue_id, args.items)
    out |= page_latency(times) | {"load": uptime(),
                                  "finished": datetime.now().isoformat(timespec="seconds")}
    print(f"{spans:,} spans, {len(times)} items: next item shown after submit median "
          f"{out['shown_median_ms']:.0f} ms (p90 {out['shown_p90_ms']:.0f}), run settled median "
          f"{out['settled_median_ms']:.0f} ms (max {out['settled_max_ms']:.0f}) [{out['load']}]")
    save_result(out, "review.json", db)


if __name__ == "__main__":
    main()
