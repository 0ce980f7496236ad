"""SQL of detection: every monitored series in a few scans, as hourly (or daily) aggregates.

One scan of LLM requests gives all request, signal and feedback measures per hour for every
app, app x model version and app x prompt version at once (GROUPING SETS); one scan of tool
and retrieval spans gives failures and latency per app and per component (the span name);
sessions and grades have a scan each. Each returns at most a few hundred thousand rows of
numbers, never spans. goldenloop's own traffic (``INTERNAL_SOURCES``) is left out of all.
Buckets are integers: hours (or days) since ``ORIGIN_US``, a Monday long before any span.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from goldenloop.metrics import OFFENSIVE_THRESHOLD, REQUEST_KIND, UNSET_GROUP
from goldenloop.spanstore.base import DUCKDB, SpanStore
from goldenloop.store import Store
from goldenloop.store.span_columns import JUDGE_APP, production_sql
from goldenloop.store.span_filter import SpanFilter
from goldenloop.store.span_filter import where as span_where

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
ORIGIN_US = -2_208_988_800_000_000  # 1900-01-01 00:00 UTC, a Monday
TOOL_KINDS = ("tool", "retrieval")
CORRECTNESS = "correctness"


def production(alias: str = "s") -> str:
    """Spans of the monitored applications: not goldenloop's own (judge, experiments,
    canaries), whatever app name they were given."""
    return f"{production_sql(alias)} AND {alias}.app IS NOT NULL AND {alias}.app <> '{JUDGE_APP}'"


def bucket(alias: str = "s", width_us: int = HOUR_US) -> str:
    return f"((epoch_us({alias}.start_time) - {ORIGIN_US}) // {int(width_us)})"


def bucket_start(b: int, width_us: int = HOUR_US) -> datetime:
    return pd.Timestamp(ORIGIN_US * 1000 + int(b) * width_us * 1000).to_pydatetime()


def to_bucket(t: datetime, width_us: int = HOUR_US) -> int:
    return int((pd.Timestamp(t).value // 1000 - ORIGIN_US) // width_us)


def _dims(split_a: str, split_b: str) -> str:
    """Dimension name and value columns of a GROUPING SETS row (NULL for the whole app)."""
    return (f"CASE WHEN grouping({split_a}) = 0 THEN 'model_version' "
            f"WHEN grouping({split_b}) = 0 THEN 'prompt_version' END AS dimension, "
            f"CASE WHEN grouping({split_a}) = 0 THEN {split_a} "
            f"WHEN grouping({split_b}) = 0 THEN {split_b} END AS value")


_KEYS = ["b", "app", "dimension", "value"]
_SPAN_COLUMNS = f"""{bucket()} AS b, s.app,
                    coalesce(s.model_version, '{UNSET_GROUP}') AS mv,
                    coalesce(s.prompt_version, '{UNSET_GROUP}') AS pv"""
_NAMED_APP = f"s.app IS NOT NULL AND s.app <> '{JUDGE_APP}'"


def _clickhouse(spans: SpanStore | None):
    """The ClickHouse texts when ``spans`` live there (each reader takes ``spans``: where the
    spans live; None: the store's own file), else None."""
    if spans is None or spans.dialect == DUCKDB:
        return None
    from goldenloop.anomalies import series_sql_clickhouse

    return series_sql_clickhouse


def _spans(start: datetime | None, end: datetime, app: str | None = None,
           kinds: tuple[str, ...] = (REQUEST_KIND,)) -> tuple[str, dict]:
    """The spans a series reads, on alias ``s``: the one span filter (production spans of
    ``kinds`` started in [start, end), of ``app`` when given) and a named monitored app."""
    where, params = span_where(SpanFilter(start=start, end=end, apps=(app,) if app else (),
                                          kinds=kinds))
    return f"{where} AND {_NAMED_APP}", params


def request_buckets(store: Store, start: datetime, end: datetime,
                    app: str | None = None, spans: SpanStore | None = None) -> pd.DataFrame:
    """Per hour, app and (whole app | model version | prompt version): requests, failures by
    status, latency and time-to-first-token quantiles, token and cost means with their
    variances, signal counts and means, thumbs and thumbs down.

    Three statements: quantiles need every request of each grouping set, so they come from
    spans alone; signals and feedback are joined, summed at the finest level (hour x app x
    model version x prompt version) and only then rolled up, which costs a third of joining
    them into the quantile scan. ``app``: one app only (a chart of one anomaly)."""
    if ch := _clickhouse(spans):
        return ch.request_buckets(spans, start, end, app)
    requests, params = _spans(start, end, app)
    core = store.df(
        f"""WITH base AS (
                SELECT {_SPAN_COLUMNS}, s.status, s.latency_ms, s.ttft_ms, s.cost_usd,
                       CASE WHEN s.status = 'ok' THEN s.input_tokens END AS in_tok,
                       CASE WHEN s.status = 'ok' THEN s.output_tokens END AS out_tok
                FROM spans s WHERE {requests}
            )
            SELECT * EXCLUDE (lat, ttft), lat[1] AS lat_p50, lat[2] AS lat_p95,
                   lat[3] AS lat_p99, ttft[1] AS ttft_p50, ttft[2] AS ttft_p95 FROM (
            SELECT b, app, {_dims('mv', 'pv')},
                   count(*) AS requests,
                   count_if(status = 'error') AS errors,
                   count_if(status = 'timeout') AS timeouts,
                   count_if(status = 'empty') AS empty,
                   quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS lat,
                   quantile_cont(ttft_ms, [0.5, 0.95]) AS ttft, count(ttft_ms) AS ttft_n,
                   avg(in_tok) AS in_tok_mean, var_samp(in_tok) AS in_tok_var,
                   count(in_tok) AS in_tok_n,
                   avg(out_tok) AS out_tok_mean, var_samp(out_tok) AS out_tok_var,
                   count(out_tok) AS out_tok_n,
                   avg(cost_usd) AS cost_mean, var_samp(cost_usd) AS cost_var,
                   count(cost_usd) AS cost_n
            FROM base
            GROUP BY GROUPING SETS ((b, app), (b, app, mv), (b, app, pv)))""",
        params)
    signals = store.df(
        f"""WITH f AS (
                SELECT {_SPAN_COLUMNS},
                       count_if(g.user_offensive >= {OFFENSIVE_THRESHOLD}) AS user_off_k,
                       count(g.user_offensive) AS user_off_n,
                       count_if(g.output_offensive >= {OFFENSIVE_THRESHOLD}) AS out_off_k,
                       count(g.output_offensive) AS out_off_n,
                       sum(g.user_sentiment) AS us, sum(g.user_sentiment ^ 2) AS us2,
                       count(g.user_sentiment) AS user_sent_n,
                       sum(g.output_sentiment) AS os, sum(g.output_sentiment ^ 2) AS os2,
                       count(g.output_sentiment) AS out_sent_n,
                       count_if(g.refusal) AS refusal_k, count(g.refusal) AS refusal_n
                FROM signals g JOIN spans s ON s.span_key = g.span_key
                WHERE {requests} GROUP BY ALL
            )
            SELECT b, app, {_dims('mv', 'pv')},
                   sum(user_off_k) AS user_off_k, sum(user_off_n) AS user_off_n,
                   sum(out_off_k) AS out_off_k, sum(out_off_n) AS out_off_n,
                   {_mean_var('us', 'user_sent_n', 'user_sent')},
                   {_mean_var('os', 'out_sent_n', 'out_sent')},
                   sum(refusal_k) AS refusal_k, sum(refusal_n) AS refusal_n
            FROM f GROUP BY GROUPING SETS ((b, app), (b, app, mv), (b, app, pv))""",
        params)
    feedback = store.df(
        f"""WITH fb AS (
                SELECT span_key, count(*) FILTER (WHERE kind = 'thumbs') AS thumbs,
                       count(*) FILTER (WHERE kind = 'thumbs' AND value <= 0) AS down
                FROM feedback WHERE span_key IS NOT NULL GROUP BY span_key
            ), f AS (
                SELECT {_SPAN_COLUMNS}, sum(fb.thumbs) AS thumbs, sum(fb.down) AS down
                FROM fb JOIN spans s ON s.span_key = fb.span_key
                WHERE {requests} GROUP BY ALL
            )
            SELECT b, app, {_dims('mv', 'pv')}, sum(thumbs) AS thumbs, sum(down) AS down
            FROM f GROUP BY GROUPING SETS ((b, app), (b, app, mv), (b, app, pv))""",
        params)
    return merge_request_parts(core, signals, feedback)


def merge_request_parts(core: pd.DataFrame, signals: pd.DataFrame, feedback: pd.DataFrame
                        ) -> pd.DataFrame:
    """The request scan with the signal and feedback sums joined on (bucket, app, dimension,
    value); no signals or feedback count 0."""
    out = core
    for extra in (signals, feedback):
        out = out.merge(extra, on=_KEYS, how="left")
    counts = ["user_off_k", "user_off_n", "out_off_k", "out_off_n", "user_sent_n",
              "out_sent_n", "refusal_k", "refusal_n", "thumbs", "down"]
    out[counts] = out[counts].fillna(0)
    return out


def _mean_var(total: str, n: str, name: str) -> str:
    """Mean and sample variance from per-group sums and sums of squares."""
    return (f"sum({total}) / nullif(sum({n}), 0) AS {name}_mean, "
            f"(sum({total}2) - sum({total}) ^ 2 / nullif(sum({n}), 0)) "
            f"/ nullif(sum({n}) - 1, 0) AS {name}_var, sum({n}) AS {n}")


def tool_buckets(store: Store, start: datetime, end: datetime,
                 app: str | None = None, spans: SpanStore | None = None) -> pd.DataFrame:
    """Per hour, app and (all tool/retrieval spans | one component by span name): how many,
    how many failed, latency p50 and p95."""
    if ch := _clickhouse(spans):
        return ch.tool_buckets(spans, start, end, app)
    tools, params = _spans(start, end, app, TOOL_KINDS)
    return store.df(
        f"""SELECT * EXCLUDE (tool_lat), tool_lat[1] AS tool_lat_p50,
                   tool_lat[2] AS tool_lat_p95 FROM (
            SELECT {bucket()} AS b, s.app,
                   CASE WHEN grouping(s.name) = 0 THEN 'component' END AS dimension,
                   CASE WHEN grouping(s.name) = 0 THEN coalesce(s.name, '{UNSET_GROUP}') END AS value,
                   count(*) AS tool_n, count_if(s.status <> 'ok') AS tool_fail,
                   quantile_cont(s.latency_ms, [0.5, 0.95]) AS tool_lat
            FROM spans s
            WHERE {tools}
            GROUP BY GROUPING SETS ((b, s.app), (b, s.app, s.name)))""",
        params,
    )


def session_buckets(store: Store, start: datetime, end: datetime, settled: datetime,
                    app: str | None = None, spans: SpanStore | None = None) -> pd.DataFrame:
    """Per hour of a session's first request and app: sessions, their turns (LLM calls) and
    how many ended on a failed request. Sessions still active after ``settled`` may go on, so
    they are left out."""
    if ch := _clickhouse(spans):
        return ch.session_buckets(spans, start, end, settled, app)
    requests, params = _spans(start, end, app)
    return store.df(
        # A turn is counted as an LLM call: chat apps make one per turn, and counting distinct
        # traces per session costs eight times as much (a change shows either way).
        f"""WITH per_session AS (
                SELECT s.app, hash(s.session_id) AS sid, min(s.start_time) AS first_at,
                       max(s.start_time) AS last_at, count(*) AS turns,
                       arg_max(s.status, s.start_time) <> 'ok' AS dropped
                FROM spans s
                WHERE {requests} AND s.session_id IS NOT NULL
                GROUP BY s.app, hash(s.session_id)
            )
            SELECT {bucket('p', HOUR_US).replace('p.start_time', 'p.first_at')} AS b, app,
                   NULL::VARCHAR AS dimension, NULL::VARCHAR AS value,
                   count(*) AS sessions, avg(turns) AS turns_mean, var_samp(turns) AS turns_var,
                   count_if(dropped) AS dropped
            FROM per_session p WHERE last_at < $settled
            GROUP BY ALL""",
        {**params, "settled": settled},
    )


def counted_judges(store: Store) -> list[str] | None:
    """The judge versions whose correctness grades detection counts: those fit for use
    (passing the agreement gate), as on the Monitor page. An unfit judge's grades would
    otherwise raise or hide correctness anomalies of production traffic."""
    from goldenloop.agreement import fitness  # heavy (bootstrap); only when grades are read

    return fitness.sql_versions(fitness.choose(store, CORRECTNESS))


def grade_buckets(store: Store, start: datetime, end: datetime,
                  app: str | None = None, spans: SpanStore | None = None) -> pd.DataFrame:
    """Per day of the graded span, app and (whole app | model version | prompt version): spans
    with a live correctness grade (human, or a judge version fit for use; a span graded
    several times counts once, with its mean), the mean grade and its variance. With the
    spans elsewhere (ClickHouse), the graded ones are fetched by key and joined here."""
    from goldenloop.store.shared_sql import CHOSEN_JUDGES

    graded, params = _spans(start, end, app, ())
    params = {**params, "judge_versions": counted_judges(store)}
    if not _clickhouse(spans):
        return store.df(_grade_sql("spans", graded, CHOSEN_JUDGES), params)
    from goldenloop.spanstore.keyed import local_spans, registered

    keys = [k for (k,) in store.rows("SELECT DISTINCT span_key FROM live_grades WHERE criterion = ? "
                                     "AND span_key IS NOT NULL", [CORRECTNESS])]
    table = local_spans(spans, keys, ["span_key", "start_time", "app", "model_version",
                                      "prompt_version", "source", "kind"])
    cur = store.cursor()
    with registered(cur, "_graded_spans", table):
        return cur.execute(_grade_sql("_graded_spans", graded, CHOSEN_JUDGES), params).df()


def _grade_sql(spans_table: str, graded: str, chosen: str) -> str:
    return f"""WITH per_span AS (
                SELECT g.span_key, avg(g.value_number) AS v
                FROM live_grades g
                WHERE g.criterion = '{CORRECTNESS}' AND g.span_key IS NOT NULL
                  AND g.value_number IS NOT NULL AND NOT coalesce(g.not_applicable, false)
                  AND {chosen}
                GROUP BY g.span_key
            ), base AS (
                SELECT {bucket('s', DAY_US)} AS b, s.app,
                       coalesce(s.model_version, '{UNSET_GROUP}') AS mv,
                       coalesce(s.prompt_version, '{UNSET_GROUP}') AS pv, p.v
                FROM per_span p JOIN {spans_table} s ON s.span_key = p.span_key
                WHERE {graded}
            )
            SELECT b, app, {_dims('mv', 'pv')}, count(*) AS graded, avg(v) AS grade_mean,
                   var_samp(v) AS grade_var
            FROM base GROUP BY GROUPING SETS ((b, app), (b, app, mv), (b, app, pv))"""


def failure_kinds(store: Store, start: datetime, end: datetime,
                  spans: SpanStore | None = None) -> pd.DataFrame:
    """Every failure kind per app and component: the error type with its message normalised
    (digits, hex ids and quoted values replaced), when it was first and last seen, how often
    before ``start`` and from ``start`` on. Components are tool/retrieval span names; LLM
    calls have component NULL."""
    if ch := _clickhouse(spans):
        return ch.failure_kinds(spans, start, end)
    kinds = ", ".join(f"'{k}'" for k in TOOL_KINDS)
    failed, params = _spans(None, end, None, (REQUEST_KIND, *TOOL_KINDS))
    return store.df(
        f"""WITH f AS (
                SELECT s.app, CASE WHEN s.kind IN ({kinds}) THEN coalesce(s.name, '{UNSET_GROUP}')
                                  END AS component,
                       coalesce(s.error_type, s.status) AS error_kind,
                       rtrim(coalesce(s.error_type, s.status) || ': ' || left(regexp_replace(
                           regexp_replace(regexp_replace(coalesce(s.error_message, ''),
                               '[0-9a-fA-F]{{8}}-[0-9a-fA-F-]{{27,}}', '<id>', 'g'),
                               '''[^'']*''|"[^"]*"', '<v>', 'g'),
                           '[0-9]+(\\.[0-9]+)?', '#', 'g'), 120), ': ') AS failure,
                       s.start_time, s.span_key
                FROM spans s
                WHERE s.status IS NOT NULL AND s.status NOT IN ('ok', 'empty') AND {failed}
            )
            SELECT app, component, error_kind, failure, min(start_time) AS first_seen,
                   max(start_time) AS last_seen,
                   count(*) FILTER (WHERE start_time < $start) AS before,
                   count(*) FILTER (WHERE start_time >= $start) AS since,
                   list(span_key ORDER BY start_time DESC)[1:20] AS recent_keys
            FROM f GROUP BY ALL""",
        {**params, "start": start},
    )


def version_first_seen(store: Store, end: datetime, spans: SpanStore | None = None
                       ) -> pd.DataFrame:
    """Per app, model version and prompt version: first and last request and how many, and
    the app's first request (a version there from the start did not appear)."""
    if ch := _clickhouse(spans):
        return ch.version_first_seen(spans, end)
    requests, params = _spans(None, end)
    return store.df(
        f"""SELECT app, {_dims('mv', 'pv')}, min(start_time) AS first_seen,
                   max(start_time) AS last_seen, count(*) AS requests
            FROM (SELECT s.app, s.start_time, s.model_version AS mv, s.prompt_version AS pv
                  FROM spans s WHERE {requests})
            GROUP BY GROUPING SETS ((app), (app, mv), (app, pv))""",
        params,
    )
