"""Anomaly detection: recall of the demo's injected incidents and false anomalies per app,
on demo histories of three seeds; and the time of a whole detection run at 1M and 10M spans
against a bare baseline measured in the same run.

    python benchmarks/bench_anomalies.py                        # 3 seeds x 200k, 1M and 10M
    python benchmarks/bench_anomalies.py --seeds 7 --sizes 1000000 --demo-spans 60000

Recall: an incident is found when an anomaly matches it (``anomalies.evaluate``: same app,
overlapping window, a lasting change within a day of its start). A false anomaly matches no
incident; a new model or prompt version appearing is counted apart (it is a real event the
demo's answer key does not list). Detection runs with ``now`` at the history's end, over its
last 30 days, at the default sensitivity.

Speed: ``detect`` end to end (SQL, statistics, examples, writing the records) on stores made
by ``metrics_data`` (LLM spans only) with a signals row per span and sessions of four calls,
best of 3, wall time and
the process's CPU time (all DuckDB threads; the machine is shared, so CPU time is the steadier
measure of work). The baseline is the bare hourly x app x model version count with exact
p50/p95/p99 latency, the Monitor's main aggregate. Stores are kept in benchmarks/out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import metrics_data  # noqa: E402
from timing import uptime  # noqa: E402

from goldenloop.anomalies import detect  # noqa: E402
from goldenloop.anomalies.evaluate import against_incidents  # noqa: E402
from goldenloop.schema import open_store  # noqa: E402

OUT = HERE / "out"
DEMO_END = datetime(2026, 3, 2, 12)
BARE = """SELECT (epoch_us(start_time) // 3600000000) AS b, app, model_version, count(*),
                 quantile_cont(latency_ms, [0.5, 0.95, 0.99]) FROM spans GROUP BY ALL"""


def clock(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def best_of(fn, repeat: int = 3) -> tuple[float, float]:
    runs = [clock(fn) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def demo_store(seed: int, spans: int) -> tuple[Path, float]:
    """A scored demo history (generated once and kept); seconds it took, 0 when reused."""
    from goldenloop.demo import generate
    from goldenloop.scorers.run import score_spans

    path = OUT / f"anomalies-demo-{seed}-{spans}.duckdb"
    if path.exists():
        return path, 0.0
    t0 = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    with open_store(tmp) as s:
        generate(s, spans=spans, seed=seed, end=DEMO_END, queue=False)
        score_spans(s)
        s.checkpoint()
    tmp.rename(path)
    return path, time.perf_counter() - t0


def recall(seed: int, spans: int) -> dict:
    path, made = demo_store(seed, spans)
    with open_store(path) as s:
        s.write(lambda cur: (cur.execute("DELETE FROM anomaly_events"),
                             cur.execute("DELETE FROM anomalies")))
        r = detect(s, now=DEMO_END)
        incidents, false = against_incidents(s)
    events = false[false["kind"] == "new_version"]
    other = false[false["kind"] != "new_version"]
    return {
        "seed": seed, "spans": spans, "generated_s": round(made, 1),
        "incidents": len(incidents), "found": int(incidents["found"].sum()),
        "with_examples": int(sum(bool(x) for x in incidents["with_examples"])),
        "missed": incidents[~incidents["found"]]["kind"].tolist(),
        "anomalies": r.found, "detect_s": round(r.seconds, 2),
        "false_per_app": other.groupby("app").size().to_dict(),
        "version_events_per_app": events.groupby("app").size().to_dict(),
        "false": [f"{a.app} {a.metric} {a.kind} {a.window_start:%m-%d %H:%M}"
                  for a in other.itertuples()],
    }


def big_store(rows: int) -> tuple[Path, float]:
    """``metrics_data``'s spans, with a signals row per span as scoring would leave, and
    sessions of four consecutive calls (the session metrics have a scan of their own)."""
    path = OUT / f"anomalies-{rows}.duckdb"
    t0 = time.perf_counter()
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        metrics_data.build_store(tmp, rows, texts=False)
        with open_store(tmp) as s:
            s.write(lambda cur: cur.execute(
                """INSERT INTO signals (span_key, user_offensive, output_offensive,
                       user_sentiment, output_sentiment, output_chars, output_words, refusal)
                   SELECT span_key, random() * 0.6, random() * 0.55, random() * 2 - 1,
                          random() * 2 - 1, 200, 40, random() < 0.02 FROM spans"""))
            s.checkpoint()
        tmp.rename(path)
    with open_store(path) as s:
        if not s.scalar("SELECT count(session_id) FROM spans"):
            s.write(lambda cur: cur.execute(
                "UPDATE spans SET session_id = 's' || (span_key // 4)"))
            s.checkpoint()
    return path, time.perf_counter() - t0


def speed(rows: int) -> dict:
    path, made = big_store(rows)
    made = made if made > 1 else 0.0
    with open_store(path) as s:
        s.write(lambda cur: (cur.execute("DELETE FROM anomaly_events"),
                             cur.execute("DELETE FROM anomalies")))
        first = clock(lambda: detect(s))  # inserts the records
        wall, cpu = best_of(lambda: detect(s))  # re-detection: updates them
        bare_wall, bare_cpu = best_of(lambda: s.df(BARE))
    return {
        "rows": rows, "generated_s": round(made, 1),
        "first_run_wall_s": round(first[0], 2), "first_run_cpu_s": round(first[1], 2),
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "bare_wall_s": round(bare_wall, 3), "bare_cpu_s": round(bare_cpu, 3),
        "ratio_wall": round(wall / bare_wall, 1), "ratio_cpu": round(cpu / bare_cpu, 1),
        "us_per_span_wall": round(wall / rows * 1e6, 3),
        "us_per_span_cpu": round(cpu / rows * 1e6, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=[7, 11, 23])
    ap.add_argument("--demo-spans", type=int, default=200_000)
    ap.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    result = {"uptime_before": uptime(), "recall": [], "speed": []}
    for seed in args.seeds:
        r = recall(seed, args.demo_spans)
        result["recall"].append(r)
        print(f"seed {seed}: {r['found']}/{r['incidents']} incidents found "
              f"({r['with_examples']} with examples); false per app {r['false_per_app']}; "
              f"version events {r['version_events_per_app']}; detect {r['detect_s']} s"
              + (f"; generated in {r['generated_s']} s" if r["generated_s"] else ""),
              flush=True)
    for rows in args.sizes:
        r = speed(rows)
        result["speed"].append(r)
        print(f"{rows:>11,} spans: detect {r['wall_s']} s wall / {r['cpu_s']} s CPU "
              f"(first run {r['first_run_wall_s']} s); bare {r['bare_wall_s']} s / "
              f"{r['bare_cpu_s']} s CPU; ratio {r['ratio_wall']}x wall, {r['ratio_cpu']}x CPU; "
              f"{r['us_per_span_wall']} us/span wall, {r['us_per_span_cpu']} us/span CPU"
              + (f"; store made in {r['generated_s']} s" if r["generated_s"] else ""),
              flush=True)
    result["uptime_after"] = uptime()
    print(result["uptime_before"], "|", result["uptime_after"])
    (OUT / "anomalies.json").write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
