"""An anomaly's example spans with the spans in ClickHouse (``anomalies.examples``): the same
rules (which spans show a change of each metric, most telling first), in ClickHouse's text.

Signals and feedback are joined in ClickHouse; grades (the correctness rule) stay in the
workflow file and go along as array parameters. The "a request in the window" rules pick
spans by a hash of their key, ``cityHash64`` here and ``hash`` in DuckDB: both an arbitrary
but fixed choice, not the same spans.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from goldenloop.anomalies import series_sql as sql
from goldenloop.metrics import REQUEST_KIND
from goldenloop.spanstore.base import DialectSQL, SpanStore
from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where
from goldenloop.store import Store
from goldenloop.store.span_columns import JUDGE_APP
from goldenloop.store.span_filter import SpanFilter

_JOINS = {  # DuckDB's join of a rule: ClickHouse's
    "JOIN signals g ON g.span_key = s.span_key":
        "JOIN signals AS g FINAL ON g.span_key = s.span_key",
    "JOIN feedback f ON f.span_key = s.span_key AND f.kind = 'thumbs' AND f.value <= 0":
        "JOIN (SELECT DISTINCT span_key FROM feedback FINAL WHERE kind = 'thumbs' AND value <= 0)"
        " AS f ON f.span_key = s.span_key",
}
_GRADED = ("JOIN (SELECT p.1 AS span_key, p.2 AS v FROM "
           "(SELECT arrayJoin(arrayZip(%(gk)s, %(gv)s)) AS p)) AS gr ON gr.span_key = s.span_key")


def find_examples(store: Store, spans: SpanStore, rule: tuple[str, str, str, str], app: str,
                  dimension: str | None, value: str | None, metric: str, kind: str,
                  start: datetime, end: datetime, limit: int) -> list[int]:
    """``examples.find_examples`` on ClickHouse; ``rule`` is ``examples._rule``'s."""
    join, cond, order, _ = rule
    kinds = sql.TOOL_KINDS if metric.startswith("tool_") else (REQUEST_KIND,)
    version = {f"{dimension}s": (value,)} if dimension in ("model_version", "prompt_version") \
        else {}
    where, params = clickhouse_where(SpanFilter(start=start, end=end, apps=(app,), kinds=kinds,
                                                **version))
    parts = [where, f"s.app <> '{JUDGE_APP}'"]
    if dimension == "component":
        parts.append("s.name = %(component)s")
        params["component"] = value
    elif dimension == "error_type":
        parts.append("coalesce(s.error_type, s.status) = %(error_kind)s")
        params["error_kind"] = value
    if dimension == "component" and kind == "new_failure":
        cond = "s.status <> 'ok'"
    if join.startswith("JOIN (SELECT span_key, avg(value_number)"):  # correctness: grades
        graded = store.rows("SELECT span_key, avg(value_number) FROM live_grades "
                            "WHERE criterion = 'correctness' AND value_number IS NOT NULL "
                            "AND span_key IS NOT NULL GROUP BY span_key ORDER BY 1")
        if not graded:
            return []
        params |= {"gk": [int(k) for k, _ in graded], "gv": [float(v) for _, v in graded]}
        join = _GRADED
    else:
        join = _JOINS.get(join, join)
    order = order.replace("hash(s.span_key)", "cityHash64(s.span_key)")
    got = spans.query(DialectSQL(clickhouse=f"""
        SELECT s.span_key AS span_key FROM spans AS s FINAL {join}
        WHERE {' AND '.join(parts)} AND {cond}
        ORDER BY {order}, s.span_key LIMIT {int(limit)}"""), params)
    return list(dict.fromkeys(int(k) for k in got["span_key"])) if len(got) else []


def outlier_spans(store: Store, spans: SpanStore, f: SpanFilter, columns: list[str],
                  limit: int) -> pd.DataFrame:
    """``examples.outlier_spans`` on ClickHouse: the app's spike and dip windows (anomaly
    records, in the workflow file) go along as arrays; median and MAD are exact quantiles
    over each app, version and measure (linear interpolation, as DuckDB's ``median`` and
    ``mad``)."""
    from dataclasses import replace

    from goldenloop.anomalies.series_sql_clickhouse import _run
    from goldenloop.spanstore.clickhouse_filter import micros

    where, params = clickhouse_where(replace(f, kinds=(REQUEST_KIND,)))
    windows = store.rows("SELECT app, window_start, window_end FROM anomalies "
                         "WHERE kind IN ('spike', 'dip') AND app IS NOT NULL")
    windows = [("", 0, 0), *((a, micros(s0), micros(e0)) for a, s0, e0 in windows)]
    params |= {"wa": [w[0] for w in windows], "ws": [w[1] for w in windows],
               "we": [w[2] for w in windows]}
    w = "PARTITION BY app, model_version, measure"
    return _run(spans, f"""
        WITH f AS (
            SELECT * FROM spans AS s FINAL
            WHERE {sql.production('s')} AND {where}
              AND NOT arrayExists((a, s0, e0) -> a = s.app  -- outside the app's spikes and dips
                                  AND toUnixTimestamp64Micro(s.start_time) >= s0
                                  AND toUnixTimestamp64Micro(s.start_time) < e0,
                                  %(wa)s, %(ws)s, %(we)s)
        ), lv AS (
            SELECT span_key, app, model_version, 'latency_ms' AS measure,
                   log(greatest(latency_ms, 1)) AS x FROM f WHERE latency_ms IS NOT NULL
            UNION ALL
            SELECT span_key, app, model_version, 'output_tokens',
                   log(greatest(toFloat64(output_tokens), 1)) FROM f
            WHERE output_tokens IS NOT NULL AND status = 'ok'
        ), med AS (
            SELECT *, quantileExactInclusive(0.5)(x) OVER ({w}) AS m FROM lv
        ), z AS (
            SELECT span_key, measure,
                   (x - m) / nullIf(1.4826 * quantileExactInclusive(0.5)(abs(x - m)) OVER ({w}), 0)
                       AS zz
            FROM med
        ), best AS (  -- names apart from the columns: ClickHouse reads a reused name as the alias
            SELECT span_key, argMax(measure, abs(zz)) AS top_measure, max(abs(zz)) AS top_z
            FROM z WHERE abs(zz) >= 4 GROUP BY span_key
        )
        SELECT {', '.join('f.' + c + ' AS ' + c for c in columns)}, b.top_measure AS measure,
               round(b.top_z, 1) AS robust_z,
               concat('extreme ', replaceAll(b.top_measure, '_', ' '), ' for its version') AS why
        FROM best AS b JOIN f ON f.span_key = b.span_key
        ORDER BY b.top_z DESC, b.span_key LIMIT {int(limit)}""", params)
