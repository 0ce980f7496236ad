"""Evaluating 100 alert rules on a demo store (target: under 1 s).

    python benchmarks/bench_alerts.py                    # a 200k-span demo (the default size)
    python benchmarks/bench_alerts.py --spans 1000000    # a 1M-span demo

The 100 rules mix every metric, both demo apps and all traffic, windows of 15 minutes, 1 hour
and 1 day, and every condition (above, below, change against the previous window and against
the same hours of the previous 7 days, anomaly, no data). They are evaluated at the end of the
demo history, in-process, best of 5, three ways in the same run:

- ``grouped``: ``alerts.evaluate`` (rules sharing family, filter, window and reference share
  one statement: what the owner's thread and `goldenloop alerts check` do);
- ``one by one``: ``alerts.evaluate`` called once per rule (no grouping), for the gain;
- ``bare``: the baseline: one hand-written statement per distinct (filter, window), counting
  the requests with literal values: the least any evaluation can scan.

Also timed: ``alerts.check`` (evaluate, record states and transitions in one transaction).
Stores are kept in benchmarks/out and reused.
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import cycle
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from timing import best, uptime  # noqa: E402

from goldenloop import alerts, demo  # noqa: E402
from goldenloop.alerts import records  # noqa: E402
from goldenloop.schema import open_store  # noqa: E402
from goldenloop.store import Store  # noqa: E402

OUT = HERE / "out"
APPS = ([], ["support-bot"], ["sql-assistant"])
WINDOWS = ("15m", "1h", "1d")


def demo_store(spans: int) -> Path:
    path = OUT / f"alerts-demo-{spans}.duckdb"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        t0 = time.perf_counter()
        with open_store(path) as store:
            demo.generate(store, spans=spans, seed=7)
        print(f"demo store of {spans:,} spans written in {time.perf_counter() - t0:.0f} s")
    return path


def hundred_rules(apps: list[str]) -> list[alerts.Rule]:
    """100 rules over every metric, app filter, window and condition (deterministic)."""
    metrics = [m for m in alerts.METRICS if m != "anomalies"]
    app_filters = cycle([[], *[[a] for a in apps]])
    windows = cycle(WINDOWS)
    kinds = cycle(["above", "above", "below", "change-previous", "change-baseline", "no_data"])
    rules = []
    for i in range(96):
        metric, kind, window = metrics[i % len(metrics)], next(kinds), next(windows)
        d = {"name": f"r{i:03d}", "metric": metric, "window": window,
             "filter": {"apps": next(app_filters)}}
        if kind == "above":
            d |= {"condition": "above", "warn": 1e9}
        elif kind == "below":
            d |= {"condition": "below", "warn": -1e9}
        elif kind == "change-previous":
            d |= {"condition": "change", "warn": 0.5, "critical": 1.0}
        elif kind == "change-baseline":
            d |= {"condition": "change", "compare_to": "baseline", "warn": 0.5,
                  "window": "1h"}
        else:
            d |= {"condition": "no_data"}
        rules.append(alerts.parse_rule(d))
    for i, apps_filter in enumerate([[], *[[a] for a in apps]] * 2):
        rules.append(alerts.parse_rule({"name": f"anomalies{i}", "metric": "anomalies",
                                        "condition": "anomaly", "warn": 2, "critical": 3,
                                        "filter": {"apps": apps_filter}}))
    return rules[:100]


def bare(store: Store, rules: list[alerts.Rule], at) -> None:
    """The baseline: one literal count per distinct (app filter, window)."""
    seen = {(tuple(r.filter.apps), r.window) for r in rules if r.condition != "anomaly"}
    for apps, window in seen:
        app_sql = f"AND app IN ({', '.join(repr(a) for a in apps)})" if apps else ""
        store.rows(f"""SELECT count(*), avg(latency_ms) FROM spans
                       WHERE kind = 'llm' AND start_time >= TIMESTAMP '{at - window}'
                         AND start_time < TIMESTAMP '{at}' {app_sql}""")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    path = demo_store(args.spans)
    with open_store(path) as store:
        apps = [a for (a,) in store.rows("SELECT DISTINCT app FROM spans WHERE kind = 'llm' "
                                         "AND source = 'demo' ORDER BY app")]
        at = store.scalar("SELECT max(start_time) FROM spans")
        rules = hundred_rules(apps)
        store.write(lambda cur: cur.execute("DELETE FROM alert_rules"))
        for r in rules:
            store.write(records.save_rule, r, "app", "bench")
        n = store.scalar("SELECT count(*) FROM spans")
        evs = alerts.evaluate(store, rules, at)
        states = {s: sum(e.state == s for e in evs) for s in alerts.STATES}
        grouped = best(lambda: alerts.evaluate(store, rules, at), args.repeat)
        single = best(lambda: [alerts.evaluate(store, [r], at) for r in rules], args.repeat)
        baseline = best(lambda: bare(store, rules, at), args.repeat)
        checked = best(lambda: alerts.check(store, alerts.Settings(), at=at), args.repeat)
    print(f"{len(rules)} rules on a demo store of {n:,} spans ({', '.join(apps)}), "
          f"evaluated at {at:%Y-%m-%d %H:%M}; states {states}")
    print(f"  grouped (alerts.evaluate)      {grouped * 1000:7.0f} ms   "
          f"{grouped / baseline:4.1f}x bare")
    print(f"  one statement per rule         {single * 1000:7.0f} ms   "
          f"{single / baseline:4.1f}x bare")
    print(f"  bare counts per filter/window  {baseline * 1000:7.0f} ms")
    print(f"  alerts.check (with recording)  {checked * 1000:7.0f} ms")
    print(f"  best of {args.repeat}, in-process wall time; {uptime()}")


if __name__ == "__main__":
    main()
