"""The Agreement page over 10k graded pairs per judge version, in headless Chromium.

    python benchmarks/bench_agreement_page.py            # 8,000 spans, 10k pairs per version
    python benchmarks/bench_agreement_page.py --runs 9

The store (kept in benchmarks/out) holds 8,000 LLM spans over 30 days in sessions of three
turns, an ordinal 1–5 criterion graded by four reviewers (one per span, a second on a
quarter of them: 10,000 human grades) and by two judge versions on every span: 10,000
judge–human pairs per version, 20,000 in all. Timed: the library call behind the page
(cold, in this process), and the page in Chromium from navigation until its three charts
are drawn and the verdicts shown — once cold, then warm (the app's cached aggregate) as the
median of several loads. The machine is shared: the load average is printed beside.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from goldenloop.agreement import criterion_report as page_data  # noqa: E402
from goldenloop.agreement.gate import default_rule  # noqa: E402
from goldenloop.ingest.loader import import_table  # noqa: E402
from goldenloop.schema import open_store  # noqa: E402
from goldenloop.store.grades import insert_criteria, insert_grades  # noqa: E402

OUT = HERE / "out"
TTL_S = 31      # the app's aggregate cache lifetime (app/state.py), and a second
FRESH_S = 18    # a timed load starting later than this after the compute might outlive it
SPANS = 8000
START = datetime(2026, 1, 1)
REVIEWERS = ("ana", "ben", "chloe", "dev")
# Every chart drawn (marks in its SVG), the verdicts shown, nothing loading.
_DRAWN = """() => {
    const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
    if (charts.length < 3) return false;
    for (const c of charts) if (!c.querySelector('svg.marks .role-mark')) return false;
    const t = document.body.innerText;
    return (t.includes('Fit for use') || t.includes('Not fit for use'))
        && document.querySelector('[data-testid="stSkeleton"]') === null;
}"""


def load_average() -> str:
    a, b, c = os.getloadavg()
    return f"load average {a:.1f} {b:.1f} {c:.1f}"


def build(path: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    n = SPANS
    t0 = [START + timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 30 * 86400, n))]
    with open_store(path) as store:
        import_table(store, pa.table({
            "trace_id": [f"t{i}" for i in range(n)], "span_id": [f"s{i}" for i in range(n)],
            "session_id": [f"sess{i // 3}" for i in range(n)], "kind": ["llm"] * n,
            "app": np.where(np.arange(n) % 3 == 0, "sql-assistant", "support-bot").tolist(),
            "model_version": [("m-a", "m-b", "m-c")[i % 3] for i in range(n)],
            "start_time": pa.array(t0, pa.timestamp("us")),
            "end_time": pa.array([t + timedelta(seconds=2) for t in t0], pa.timestamp("us")),
            "status": ["ok"] * n, "last_user_message": [f"question {i}" for i in range(n)],
            "output": [f"answer {i}" for i in range(n)],
        }), source="bench", origin="bench", label="<agreement bench>")
        keys = np.array([k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")])
        store.write(insert_criteria, pa.table({
            "rubric_name": ["default"], "rubric_version": ["bench-1"], "name": ["correctness"],
            "value_type": ["ordinal"], "min_value": [1.0], "max_value": [5.0]}))
        truth = rng.choice(5, n, p=[0.1, 0.1, 0.2, 0.3, 0.3]) + 1

        def noisy(rows: np.ndarray, p_right: float) -> np.ndarray:
            step = rng.choice([-1, 1], len(rows))
            return np.where(rng.random(len(rows)) < p_right, truth[rows],
                            np.clip(truth[rows] + step, 1, 5))

        first = rng.integers(0, 4, n)
        second_rows = np.sort(rng.choice(n, 10_000 - n, replace=False))
        rows = np.r_[np.arange(n), second_rows]
        who = np.r_[first, (first[second_rows] + rng.integers(1, 4, len(second_rows))) % 4]
        grades = [_grades(keys[rows], noisy(rows, 0.8), "human", {
            "author_kind": "reviewer", "author_id": [REVIEWERS[w] for w in who]})]
        for day, (version, p) in enumerate((("v1", 0.75), ("v2", 0.85))):
            everyone = np.arange(n)
            grades.append(_grades(keys, noisy(everyone, p), "judge", {
                "created_at": pa.array([START + timedelta(days=32 + day)] * n, pa.timestamp("us")),
                "author_kind": "judge", "author_id": "bench-judge", "judge_name": "bench-judge",
                "judge_version": version,
                "raw": [json.dumps({"explanation": f"reason {i}"}) for i in range(n)]}))
        for t in grades:
            store.write(insert_grades, t)
        store.checkpoint()


def _grades(span_keys: np.ndarray, values: np.ndarray, source: str, extra: dict) -> pa.Table:
    k = len(span_keys)
    cols = {"target_type": ["span"] * k, "span_key": pa.array(span_keys, pa.int64()),
            "criterion": ["correctness"] * k, "value_number": values.astype(float),
            "source": [source] * k, "rubric_name": ["default"] * k,
            "rubric_version": ["bench-1"] * k,
            "created_at": pa.array([START + timedelta(days=31)] * k, pa.timestamp("us"))}
    for name, v in extra.items():
        cols[name] = v if isinstance(v, list | pa.Array) else [v] * k
    return pa.table(cols)


def draw_time(page, url: str, timeout_s: float = 120) -> float:
    """A full page load: navigation, Streamlit's scripts, the page's script, every chart."""
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_function(_DRAWN, timeout=timeout_s * 1000, polling=20)
    return time.perf_counter() - t


def nav_time(page, url: str, timeout_s: float = 120) -> float:
    """Opening the page from another page of the app (the sidebar link): how a lead gets
    there, with the app's scripts (Vega among them) already loaded."""
    page.goto(f"{url}/jobs")
    page.wait_for_function("() => document.body.innerText.includes('Jobs')", polling=20)
    page.wait_for_timeout(500)
    t = time.perf_counter()
    page.locator('a[data-testid="stSidebarNavLink"][href$="/agreement"]').click()
    page.wait_for_function(_DRAWN, timeout=timeout_s * 1000, polling=20)
    return time.perf_counter() - t


def baseline_time(page, url: str) -> float:
    """A full load of the Jobs page (a title and a table): what the machine allows now."""
    t = time.perf_counter()
    page.goto(f"{url}/jobs")
    page.wait_for_function("() => document.body.innerText.includes('Jobs')", polling=20)
    bs_wait(page)
    return time.perf_counter() - t


def bs_wait(page) -> None:
    import browser_support as bs

    bs.wait_rendered(page, settled_s=0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    db = OUT / f"agreement_{SPANS}.duckdb"
    if not db.exists():
        build(db)
    print(f"machine: {os.cpu_count()} cores; {load_average()}")
    with open_store(db) as store:
        pairs = len(page_data.load(store, page_data.PageFilter("correctness"))[1])
        query = page_data.PageQuery(page_data.PageFilter("correctness"), default_rule("ordinal"))
        t = time.perf_counter()
        page_data.agreement_page(store, query)
        library_s = time.perf_counter() - t
    print(f"{pairs:,} judge-human pairs (two judge versions); library call behind the page "
          f"(cold, 1,000 resamples): {library_s:.2f} s", flush=True)

    import browser_support as bs
    from browser_page_support import wait_until_idle

    with bs.chromium() as browser, bs.running_app(db, OUT) as url:
        page = bs.open_page(browser, url)
        wait_until_idle(page, url)  # the owner scores new spans first: not the page's time
        cold = draw_time(page, f"{url}/agreement")
        warm, nav, base = [], [], []
        # When the cached aggregates were stored: at the earliest, and at the latest.
        earliest = latest = time.perf_counter()  # the cold load just filled the cache
        while len(warm) < args.runs:
            if time.perf_counter() - earliest > FRESH_S:
                # The app keeps aggregates 30 s from when they were stored: let them expire,
                # recompute them with one untimed load, then time warm loads only.
                page.wait_for_timeout(max(0.0, TTL_S - (time.perf_counter() - latest)) * 1000)
                earliest = time.perf_counter()
                draw_time(page, f"{url}/agreement")
                latest = time.perf_counter()
                continue
            warm.append(draw_time(page, f"{url}/agreement"))
            if time.perf_counter() - earliest < FRESH_S:
                nav.append(nav_time(page, url))
            base.append(baseline_time(page, url))
        draw_time(page, f"{url}/agreement")
        bs.screenshot(page, "agreement-bench")
    med = statistics.median
    result = {"pairs": pairs, "library_cold_s": round(library_s, 3), "page_cold_s": round(cold, 3),
              "page_warm_median_s": round(med(warm), 3), "page_warm_s": [round(w, 3) for w in warm],
              "nav_warm_median_s": round(med(nav), 3), "nav_warm_s": [round(w, 3) for w in nav],
              "jobs_page_median_s": round(med(base), 3),
              "ratio_to_jobs_page": round(med(warm) / med(base), 2), "load": load_average(),
              "finished": datetime.now().isoformat(timespec="seconds")}
    print(f"page in Chromium: cold {cold:.2f} s; warm full load median {med(warm):.2f} s "
          f"{result['page_warm_s']}; warm from the sidebar median {med(nav):.2f} s "
          f"{result['nav_warm_s']}; the Jobs page (baseline) {med(base):.2f} s, ratio "
          f"{result['ratio_to_jobs_page']}x [{result['load']}]")
    (OUT / "agreement_page.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
