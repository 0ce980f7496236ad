"""The ClickHouse text of detection's series (``anomalies.series_sql``), for a span store in
ClickHouse: the same hourly (or daily) aggregates with the same buckets, grouping sets and
NULLs, so detection tests the same numbers whichever store holds the spans.

Differences from DuckDB's text, each for the same result: exact quantiles are
``quantilesExactInclusive`` (linear interpolation, as ``quantile_cont``); sample variances of
fewer than two values are NULL (``varSamp`` would give NaN); ``argMax(tuple(x), t).1`` keeps
a NULL ``x``; a session's key is ``cityHash64`` (it only groups). Grades stay in the workflow
file: ``grade_buckets`` fetches the graded spans by key and aggregates them there.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from goldenloop.anomalies import series_sql as duck
from goldenloop.metrics import OFFENSIVE_THRESHOLD, REQUEST_KIND, UNSET_GROUP
from goldenloop.spanstore.base import DialectSQL, SpanStore
from goldenloop.spanstore.clickhouse_filter import micros
from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where
from goldenloop.store.span_columns import JUDGE_APP
from goldenloop.store.span_filter import SpanFilter

_NAMED_APP = f"s.app IS NOT NULL AND s.app <> '{JUDGE_APP}'"
_GROUPS = "GROUPING SETS ((b, app), (b, app, mv), (b, app, pv))"


def bucket(alias: str = "s", width_us: int = duck.HOUR_US, column: str = "start_time") -> str:
    return (f"intDiv(toUnixTimestamp64Micro({alias}.{column}) - ({duck.ORIGIN_US}), "
            f"{int(width_us)})")


def _span_columns() -> str:
    return f"""{bucket()} AS b, s.app AS app,
               ifNull(s.model_version, '{UNSET_GROUP}') AS mv,
               ifNull(s.prompt_version, '{UNSET_GROUP}') AS pv"""


def _spans(start: datetime | None, end: datetime, app: str | None = None,
           kinds: tuple[str, ...] = (REQUEST_KIND,)) -> tuple[str, dict]:
    where, params = clickhouse_where(SpanFilter(start=start, end=end,
                                                apps=(app,) if app else (), kinds=kinds))
    return f"{where} AND {_NAMED_APP}", params


def _quantiles(column: str, qs: tuple[float, ...]) -> str:
    nulls = ", ".join(["NULL"] * len(qs))
    return (f"if(count({column}) = 0, [{nulls}], arrayMap(x -> toNullable(x), "
            f"quantilesExactInclusive({', '.join(map(str, qs))})({column})))")


def _var(column: str) -> str:
    return f"if(count({column}) > 1, varSamp({column}), NULL)"


def _run(spans: SpanStore, sql: str, params: dict) -> pd.DataFrame:
    out = spans.query(DialectSQL(clickhouse=sql), params)
    for c in out.columns:  # naive UTC times, as DuckDB hands them out
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.tz_localize(None)
    return out


def request_buckets(spans: SpanStore, start: datetime, end: datetime,
                    app: str | None = None) -> pd.DataFrame:
    requests, params = _spans(start, end, app)
    core = _run(spans, f"""
        SELECT b, app, {duck._dims('mv', 'pv')},
               toInt64(count()) AS requests, toInt64(countIf(status = 'error')) AS errors,
               toInt64(countIf(status = 'timeout')) AS timeouts,
               toInt64(countIf(status = 'empty')) AS empty,
               {_quantiles('latency_ms', (0.5, 0.95, 0.99))} AS lat,
               {_quantiles('ttft_ms', (0.5, 0.95))} AS ttft, toInt64(count(ttft_ms)) AS ttft_n,
               avgOrNull(in_tok) AS in_tok_mean, {_var('in_tok')} AS in_tok_var,
               toInt64(count(in_tok)) AS in_tok_n,
               avgOrNull(out_tok) AS out_tok_mean, {_var('out_tok')} AS out_tok_var,
               toInt64(count(out_tok)) AS out_tok_n,
               avgOrNull(cost_usd) AS cost_mean, {_var('cost_usd')} AS cost_var,
               toInt64(count(cost_usd)) AS cost_n
        FROM (SELECT {_span_columns()}, s.status AS status, s.latency_ms AS latency_ms,
                     s.ttft_ms AS ttft_ms, s.cost_usd AS cost_usd,
                     if(s.status = 'ok', s.input_tokens, NULL) AS in_tok,
                     if(s.status = 'ok', s.output_tokens, NULL) AS out_tok
              FROM spans AS s FINAL WHERE {requests})
        GROUP BY {_GROUPS}""", params)
    if len(core):
        core = core.assign(lat_p50=core["lat"].str[0], lat_p95=core["lat"].str[1],
                           lat_p99=core["lat"].str[2], ttft_p50=core["ttft"].str[0],
                           ttft_p95=core["ttft"].str[1]).drop(columns=["lat", "ttft"])
    sums = f"""
        toInt64(countIf(g.user_offensive >= {OFFENSIVE_THRESHOLD})) AS user_off_k,
        toInt64(count(g.user_offensive)) AS user_off_n,
        toInt64(countIf(g.output_offensive >= {OFFENSIVE_THRESHOLD})) AS out_off_k,
        toInt64(count(g.output_offensive)) AS out_off_n,
        sum(g.user_sentiment) AS us, sum(pow(g.user_sentiment, 2)) AS us2,
        toInt64(count(g.user_sentiment)) AS usn,
        sum(g.output_sentiment) AS os, sum(pow(g.output_sentiment, 2)) AS os2,
        toInt64(count(g.output_sentiment)) AS osn,
        toInt64(countIf(g.refusal)) AS refusal_k, toInt64(count(g.refusal)) AS refusal_n"""
    signals = _run(spans, f"""
        SELECT b, app, {duck._dims('mv', 'pv')},
               sum(user_off_k) AS user_off_k, sum(user_off_n) AS user_off_n,
               sum(out_off_k) AS out_off_k, sum(out_off_n) AS out_off_n,
               {_mean_var('us', 'usn', 'user_sent')},
               {_mean_var('os', 'osn', 'out_sent')},
               sum(refusal_k) AS refusal_k, sum(refusal_n) AS refusal_n
        FROM (SELECT {_span_columns()}, {sums}
              FROM signals AS g FINAL JOIN spans AS s FINAL ON s.span_key = g.span_key
              WHERE {requests} GROUP BY b, app, mv, pv)
        GROUP BY {_GROUPS}""", params)
    feedback = _run(spans, f"""
        SELECT b, app, {duck._dims('mv', 'pv')}, sum(thumbs) AS thumbs, sum(down) AS down
        FROM (SELECT {_span_columns()}, sum(fb.thumbs) AS thumbs, sum(fb.down) AS down
              FROM (SELECT span_key, toInt64(countIf(kind = 'thumbs')) AS thumbs,
                           toInt64(countIf(kind = 'thumbs' AND value <= 0)) AS down
                    FROM feedback FINAL WHERE span_key IS NOT NULL GROUP BY span_key) AS fb
              JOIN spans AS s FINAL ON s.span_key = fb.span_key
              WHERE {requests} GROUP BY b, app, mv, pv)
        GROUP BY {_GROUPS}""", params)
    return duck.merge_request_parts(core, signals, feedback)


def _mean_var(total: str, n: str, name: str) -> str:
    """``series_sql._mean_var``; the count comes out as ``<name>_n`` (``n`` names the inner
    column apart: ClickHouse would read a reuse of the name as the outer alias)."""
    return (f"sum({total}) / nullIf(sum({n}), 0) AS {name}_mean, "
            f"(sum({total}2) - pow(sum({total}), 2) / nullIf(sum({n}), 0)) "
            f"/ nullIf(sum({n}) - 1, 0) AS {name}_var, sum({n}) AS {name}_n")


def tool_buckets(spans: SpanStore, start: datetime, end: datetime,
                 app: str | None = None) -> pd.DataFrame:
    tools, params = _spans(start, end, app, duck.TOOL_KINDS)
    out = _run(spans, f"""
        SELECT b, app,
               if(grouping(name) = 0, 'component', NULL) AS dimension,
               if(grouping(name) = 0, name, NULL) AS value,
               toInt64(count()) AS tool_n, toInt64(countIf(ifNull(status, 'ok') <> 'ok')) AS tool_fail,
               {_quantiles('latency_ms', (0.5, 0.95))} AS tool_lat
        FROM (SELECT {bucket()} AS b, s.app AS app, ifNull(s.name, '{UNSET_GROUP}') AS name,
                     s.status AS status, s.latency_ms AS latency_ms
              FROM spans AS s FINAL WHERE {tools})
        GROUP BY GROUPING SETS ((b, app), (b, app, name))""", params)
    if len(out):
        out = out.assign(tool_lat_p50=out["tool_lat"].str[0],
                         tool_lat_p95=out["tool_lat"].str[1]).drop(columns="tool_lat")
    return out


def session_buckets(spans: SpanStore, start: datetime, end: datetime, settled: datetime,
                    app: str | None = None) -> pd.DataFrame:
    requests, params = _spans(start, end, app)
    return _run(spans, f"""
        SELECT {bucket('p', duck.HOUR_US, 'first_at')} AS b, app,
               CAST(NULL AS Nullable(String)) AS dimension, CAST(NULL AS Nullable(String)) AS value,
               toInt64(count()) AS sessions, avg(turns) AS turns_mean, {_var('turns')} AS turns_var,
               toInt64(countIf(dropped)) AS dropped
        FROM (SELECT s.app AS app, cityHash64(s.session_id) AS sid,
                     min(s.start_time) AS first_at, max(s.start_time) AS last_at,
                     toInt64(count()) AS turns,
                     argMax(tuple(s.status), s.start_time).1 <> 'ok' AS dropped
              FROM spans AS s FINAL
              WHERE {requests} AND s.session_id IS NOT NULL
              GROUP BY s.app, sid) AS p
        WHERE last_at < fromUnixTimestamp64Micro(%(settled)s, 'UTC')
        GROUP BY b, app""", {**params, "settled": micros(settled)})


def failure_kinds(spans: SpanStore, start: datetime, end: datetime) -> pd.DataFrame:
    kinds = ", ".join(f"'{k}'" for k in duck.TOOL_KINDS)
    failed, params = _spans(None, end, None, (REQUEST_KIND, *duck.TOOL_KINDS))
    # The same normalisation as DuckDB's; ``[.]`` for a dot: a backslash would be read as an
    # escape of ClickHouse's string literal first.
    message = ("replaceRegexpAll(replaceRegexpAll(replaceRegexpAll(ifNull(s.error_message, ''), "
               "'[0-9a-fA-F]{8}-[0-9a-fA-F-]{27,}', '<id>'), '''[^'']*''|\"[^\"]*\"', '<v>'), "
               "'[0-9]+([.][0-9]+)?', '#')")
    out = _run(spans, f"""
        SELECT app, component, error_kind, failure, min(start_time) AS first_seen,
               max(start_time) AS last_seen,
               toInt64(countIf(start_time < fromUnixTimestamp64Micro(%(start)s, 'UTC'))) AS before,
               toInt64(countIf(start_time >= fromUnixTimestamp64Micro(%(start)s, 'UTC'))) AS since,
               arraySlice(arrayMap(p -> p.2, arrayReverseSort(groupArray((start_time, span_key)))),
                          1, 20) AS recent_keys
        FROM (SELECT s.app AS app,
                     if(s.kind IN ({kinds}), ifNull(s.name, '{UNSET_GROUP}'), NULL) AS component,
                     coalesce(s.error_type, s.status) AS error_kind,
                     trim(TRAILING ': ' FROM concat(coalesce(s.error_type, s.status), ': ',
                                                  leftUTF8({message}, 120))) AS failure,
                     s.start_time AS start_time, s.span_key AS span_key
              FROM spans AS s FINAL
              WHERE s.status IS NOT NULL AND s.status NOT IN ('ok', 'empty') AND {failed})
        GROUP BY app, component, error_kind, failure""", {**params, "start": micros(start)})
    if len(out):
        out["recent_keys"] = out["recent_keys"].map(list)
    return out


def version_first_seen(spans: SpanStore, end: datetime) -> pd.DataFrame:
    requests, params = _spans(None, end)
    return _run(spans, f"""
        SELECT app, {duck._dims('mv', 'pv')}, min(start_time) AS first_seen,
               max(start_time) AS last_seen, toInt64(count()) AS requests
        FROM (SELECT s.app AS app, s.start_time AS start_time, s.model_version AS mv,
                     s.prompt_version AS pv
              FROM spans AS s FINAL WHERE {requests})
        GROUP BY GROUPING SETS ((app), (app, mv), (app, pv))""", params)


def last_start(spans: SpanStore) -> datetime | None:
    """The latest production span's start (``detection.detect_range``)."""
    got = _run(spans, f"SELECT maxOrNull(s.start_time) AS last FROM spans AS s FINAL "
                      f"WHERE {duck.production('s')}", {})
    value = got["last"].iloc[0] if len(got) else None
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def previous_version(spans: SpanStore, around: SpanFilter, dim: str, value: str,
                     first: datetime) -> str | None:
    """``events._previous``: of an app's versions (``dim``: model_version or prompt_version)
    in ``around``, the one whose share of requests fell most from before ``first`` to after."""
    if dim not in ("model_version", "prompt_version"):
        raise ValueError(f"not a version column: {dim!r}")
    where, params = clickhouse_where(around)
    got = _run(spans, f"""
        SELECT version, before / sum(before) OVER () - after / greatest(sum(after) OVER (), 1)
                   AS fell
        FROM (SELECT s.{dim} AS version,
                     toInt64(countIf(s.start_time < fromUnixTimestamp64Micro(%(first)s, 'UTC')))
                         AS before,
                     toInt64(countIf(s.start_time >= fromUnixTimestamp64Micro(%(first)s, 'UTC')))
                         AS after
              FROM spans AS s FINAL WHERE {where} AND s.{dim} IS NOT NULL GROUP BY version)
        WHERE before > 0 AND version <> %(value)s
        ORDER BY fell DESC, before DESC LIMIT 1""",
               {**params, "value": value, "first": micros(first)})
    return str(got["version"].iloc[0]) if len(got) else None
