"""SQL of the Monitor's aggregates: time-bucketed request statistics, automatic signals,
correctness from grades, end-user feedback, version first-seen times and the filter clause
they all share.

Every user value reaches DuckDB as a named parameter. The only text spliced into these
statements comes from this module: the split column, chosen from ``SPLIT_COLUMNS`` by name,
and the filter clauses, whose shape depends only on which filters are set. Each function
returns one aggregate of at most a few thousand rows; none returns spans.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from goldenloop.spanstore.base import SpanStore
from goldenloop.store.shared_sql import CHOSEN_JUDGES
from goldenloop.store.span_columns import production_sql
from goldenloop.store.span_filter import SpanFilter
from goldenloop.store.span_filter import where as span_where
from goldenloop.store.store import Store

# What a chart may be split by: a name callers pass, and the column it reads.
SPLIT_COLUMNS = {
    "model_version": "s.model_version",
    "prompt_version": "s.prompt_version",
    "app": "s.app",
    "environment": "s.environment",
}
ALL_GROUP = "all"  # the one group of an unsplit series
UNSET_GROUP = "(not set)"  # spans that do not name the split column
OFFENSIVE_THRESHOLD = 0.5  # a text counts as offensive at this probability or above
# Requests are LLM calls: agent, retrieval and tool steps wrap or feed a call and would
# count one user request several times, with latencies and costs that are not the model's.
REQUEST_KIND = "llm"


# The name the span store's ClickHouse twin of the Monitor's query still uses.
FilterLike = SpanFilter


def where_clause(f: SpanFilter, *, with_time: bool = True) -> tuple[str, dict]:
    """The filter as a SQL condition on spans aliased ``s``, and its named parameters: the
    one builder's (``store.span_filter.where``). Unset parts add nothing, so DuckDB's plan
    stays as simple as the bare query's."""
    return span_where(f, "s", with_time=with_time)


def group_expr(split: str | None) -> str:
    if split is None:
        return f"'{ALL_GROUP}'"
    return f"coalesce({SPLIT_COLUMNS[split]}, '{UNSET_GROUP}')"


# Buckets count from a Monday at midnight long before any span, so every width that divides
# a day (or a week) lines up with days (and weeks), and the integer division below never
# meets a negative number (DuckDB's // truncates towards zero).
BUCKET_ORIGIN_US = -2_208_988_800_000_000  # 1900-01-01 00:00 UTC, a Monday


def _bucket_key(alias: str = "s") -> str:
    """The bucket number of a span: grouping by an integer is cheaper than by time_bucket's
    timestamp (about 15% of the main chart query at 10M spans)."""
    return f"((epoch_us({alias}.start_time) - {BUCKET_ORIGIN_US}) // $bucket_us)"


def _bucket_time(key: str) -> str:
    """The start of bucket ``key``, as a timestamp."""
    return f"make_timestamp({key} * $bucket_us + {BUCKET_ORIGIN_US})"


def _bucket(alias: str = "s") -> str:
    return _bucket_time(_bucket_key(alias))


# Failures by status. count_if and avg(CASE ...) instead of count(*) FILTER and avg(...)
# FILTER: the same values for about 8% less CPU in the main chart query at 10M spans (a
# FILTER clause selects rows per aggregate; a boolean sum and a CASE do not). count_if of no
# rows is NULL where a count is 0, and a HUGEINT: coalesce and cast, once per group.
_STATUS_COUNTS = """coalesce(count_if(s.status = 'error'), 0)::BIGINT AS errors,
                       coalesce(count_if(s.status = 'timeout'), 0)::BIGINT AS timeouts,
                       coalesce(count_if(s.status = 'empty'), 0)::BIGINT AS empty"""


def request_stats(store: Store, f: SpanFilter, split: str | None, bucket_us: int,
                  ttft: bool = False) -> pd.DataFrame:
    """Per time bucket and group: requests, failures by status, exact latency percentiles,
    tokens per answered request, cost, and with ``ttft`` time-to-first-token percentiles.

    One scan; the three latency percentiles come from one sort per group (a list argument).
    Latency counts every request, failed ones included: a timeout is what the user waited.
    Tokens are averaged over answered (``ok``) requests, which is what "per response" means.
    Time to first token is a second sort per group, so only when asked.
    """
    where, params = where_clause(f)
    params["bucket_us"] = bucket_us
    ttft_out = "ttft[1] AS ttft_p50, ttft[2] AS ttft_p95," if ttft else ""
    ttft_agg = "quantile_cont(s.ttft_ms, [0.5, 0.95]) AS ttft," if ttft else ""
    return store.df(
        f"""SELECT {_bucket_time("bucket")} AS time, grp AS "group", requests, errors, timeouts, empty,
                   lat[1] AS latency_p50, lat[2] AS latency_p95, lat[3] AS latency_p99,
                   {ttft_out} input_tokens, output_tokens, cost_usd, priced
            FROM (
                SELECT {_bucket_key()} AS bucket, {group_expr(split)} AS grp,
                       count(*) AS requests,
                       {_STATUS_COUNTS},
                       quantile_cont(s.latency_ms, [0.5, 0.95, 0.99]) AS lat, {ttft_agg}
                       avg(CASE WHEN s.status = 'ok' THEN s.input_tokens END) AS input_tokens,
                       avg(CASE WHEN s.status = 'ok' THEN s.output_tokens END) AS output_tokens,
                       sum(s.cost_usd) AS cost_usd,
                       count(s.cost_usd) AS priced
                FROM spans s WHERE s.kind = '{REQUEST_KIND}' AND {where}
                GROUP BY ALL
            ) ORDER BY time, "group" """,
        params,
    )


def request_totals(store: Store, f: SpanFilter, split: str | None) -> pd.DataFrame:
    """One row over the whole filter: requests, failures, latency percentiles, cost, the
    number of groups of ``split`` and the first and last request."""
    where, params = where_clause(f)
    requests = f"spans s WHERE s.kind = '{REQUEST_KIND}' AND {where}"
    # The groups in a subquery of their own: count(DISTINCT ...) beside the other aggregates
    # made DuckDB run them all in a slower plan (about 40% more CPU at 10M spans).
    return store.df(
        f"""SELECT * EXCLUDE (lat), lat[1] AS latency_p50, lat[2] AS latency_p95,
                   (SELECT count(*) FROM (SELECT DISTINCT {group_expr(split)} FROM {requests}))
                       AS groups
            FROM (
                SELECT count(*) AS requests,
                       {_STATUS_COUNTS},
                       quantile_cont(s.latency_ms, [0.5, 0.95]) AS lat,  -- one state, not two
                       avg(CASE WHEN s.status = 'ok' THEN s.output_tokens END) AS output_tokens,
                       sum(s.cost_usd) AS cost_usd, count(s.cost_usd) AS priced,
                       min(s.start_time) AS first_start, max(s.start_time) AS last_start
                FROM {requests})""",
        params,
    )


def signals(store: Store, f: SpanFilter, split: str | None, bucket_us: int) -> pd.DataFrame:
    """Per time bucket and group, over spans with a signals row: how many, the share of user
    messages and of answers that are offensive, the mean sentiment of each, and for each of
    these four how many values it averages (``*_n``: a span without text has none)."""
    where, params = where_clause(f)
    params |= {"bucket_us": bucket_us, "threshold": OFFENSIVE_THRESHOLD}
    return store.df(
        f"""SELECT {_bucket()} AS time, {group_expr(split)} AS "group",
                   count(*) AS scored,
                   count(g.user_offensive) AS user_offensive_n,
                   count(g.output_offensive) AS output_offensive_n,
                   count(g.user_sentiment) AS user_sentiment_n,
                   count(g.output_sentiment) AS output_sentiment_n,
                   avg(CAST(g.user_offensive >= $threshold AS DOUBLE)) AS user_offensive,
                   avg(CAST(g.output_offensive >= $threshold AS DOUBLE)) AS output_offensive,
                   avg(g.user_sentiment) AS user_sentiment,
                   avg(g.output_sentiment) AS output_sentiment
            FROM signals g JOIN spans s ON s.span_key = g.span_key
            WHERE {where}
            GROUP BY ALL ORDER BY time, "group" """,
        params,
    )


# Weight of one graded span in the correctness mean. "inclusion": a grade answering a review
# queue item counts 1 / its inclusion probability (a Hajek mean: spans a design sampled
# rarely stand for more traffic); grades given outside a queue count 1. "equal": all count 1.
GRADE_WEIGHTS = {
    "inclusion": "coalesce(1.0 / nullif(qi.inclusion_prob, 0), 1.0)",
    "equal": "1.0",
}


def _graded(weights: str) -> str:
    """Live grades of one criterion per graded span and source: the mean value and weight.
    Live grades only (an edited grade counts once, as edited); a span graded by several
    reviewers counts once, with the mean of their values. Judge grades count only from
    ``$judge_versions`` (NULL: every version)."""
    return f"""SELECT span_key, source, avg(value) AS value, avg(w) AS w FROM (
                SELECT g.span_key, g.source, g.value_number AS value, {GRADE_WEIGHTS[weights]} AS w
                FROM live_grades g LEFT JOIN queue_items qi ON qi.queue_item_id = g.queue_item_id
                WHERE g.criterion = $criterion AND list_contains($sources, g.source)
                  AND g.span_key IS NOT NULL AND g.value_number IS NOT NULL
                  AND NOT coalesce(g.not_applicable, false) AND {CHOSEN_JUDGES}
            ) GROUP BY span_key, source"""


def _grade_params(criterion: str, sources: Sequence[str],
                  judge_versions: Sequence[str] | None) -> dict:
    return {"criterion": criterion, "sources": list(sources),
            "judge_versions": None if judge_versions is None else list(judge_versions)}


def correctness(store: Store, f: SpanFilter, split: str | None, criterion: str,
                sources: Sequence[str], weights: str, bucket_us: int,
                judge_versions: Sequence[str] | None = None) -> pd.DataFrame:
    """Per day (of the graded span's start), source and group: graded spans, the sum of their
    weights and of squared weights, and the weighted mean and mean square of the value
    (grades as ``_graded`` counts them)."""
    where, params = where_clause(f)
    params |= _grade_params(criterion, sources, judge_versions) | {"bucket_us": bucket_us}
    return store.df(
        f"""WITH per_span AS ({_graded(weights)})
            SELECT {_bucket()} AS time, p.source, {group_expr(split)} AS "group",
                   count(*) AS n, sum(p.w) AS sum_w, sum(p.w * p.w) AS sum_w2,
                   sum(p.w * p.value) / sum(p.w) AS mean,
                   sum(p.w * p.value * p.value) / sum(p.w) AS mean_sq
            FROM per_span p JOIN spans s ON s.span_key = p.span_key
            WHERE {where}
            GROUP BY ALL ORDER BY time, p.source, "group" """,
        params,
    )


def numeric_criteria(store: Store) -> pd.DataFrame:
    """Criteria with numeric grades on spans: name, grades, and the scale when a rubric
    states it (the newest rubric's, when several do)."""
    return store.df(
        """WITH graded AS (
               SELECT criterion, count(*) AS grades FROM live_grades
               WHERE span_key IS NOT NULL AND value_number IS NOT NULL GROUP BY criterion
           ), scale AS (
               SELECT name, arg_max(min_value, created_at) AS min_value,
                      arg_max(max_value, created_at) AS max_value,
                      arg_max(higher_is_better, created_at) AS higher_is_better
               FROM criteria GROUP BY name
           )
           SELECT g.criterion, g.grades, c.min_value, c.max_value, c.higher_is_better
           FROM graded g LEFT JOIN scale c ON c.name = g.criterion
           ORDER BY g.grades DESC, g.criterion"""
    )


def feedback(store: Store, f: SpanFilter, split: str | None, bucket_us: int) -> pd.DataFrame:
    """Per time bucket and group of requests: how many, how many got end-user feedback, and
    thumbs given and thumbs down. Feedback counts on the span it names (its ``span_key``)."""
    where, params = where_clause(f)
    params["bucket_us"] = bucket_us
    return store.df(
        f"""WITH fb AS (
                SELECT span_key, count(*) FILTER (WHERE kind = 'thumbs') AS thumbs,
                       count(*) FILTER (WHERE kind = 'thumbs' AND value = 0) AS down
                FROM feedback WHERE span_key IS NOT NULL GROUP BY span_key
            )
            SELECT {_bucket()} AS time, {group_expr(split)} AS "group",
                   count(*) AS requests, count(fb.span_key) AS with_feedback,
                   coalesce(sum(fb.thumbs), 0) AS thumbs, coalesce(sum(fb.down), 0) AS down
            FROM spans s LEFT JOIN fb ON fb.span_key = s.span_key
            WHERE s.kind = '{REQUEST_KIND}' AND {where}
            GROUP BY ALL ORDER BY time, "group" """,
        params,
    )


def version_first_seen(store: Store, f: SpanFilter) -> pd.DataFrame:
    """Each model version that answered a request matching the filter (time range aside):
    its first and last request, how many, and the first request of any version, so callers
    can tell a version that appeared from one present since the data began."""
    where, params = where_clause(f, with_time=False)
    return store.df(
        f"""SELECT s.model_version, min(s.start_time) AS first_seen,
                   max(s.start_time) AS last_seen, count(*) AS requests,
                   min(min(s.start_time)) OVER () AS data_start
            FROM spans s
            WHERE s.kind = '{REQUEST_KIND}' AND s.model_version IS NOT NULL AND {where}
            GROUP BY s.model_version ORDER BY first_seen, s.model_version""",
        params,
    )


def request_totals_in(spans: SpanStore, f: SpanFilter, split: str | None) -> pd.DataFrame:
    """``request_totals`` read from a span store of either dialect."""
    if spans.dialect == "duckdb":
        return request_totals(spans.store, f, split)
    from goldenloop.metrics import sql_clickhouse
    from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where

    where, params = clickhouse_where(f)
    group = f"ifNull({SPLIT_COLUMNS[split]}, '{UNSET_GROUP}')" if split else f"'{ALL_GROUP}'"
    frame = sql_clickhouse.run(spans, sql_clickhouse.request_totals(where, group),
                               params | {"kind": REQUEST_KIND})
    return frame.drop(columns="lat")


def version_first_seen_in(spans: SpanStore, f: SpanFilter) -> pd.DataFrame:
    """``version_first_seen`` read from a span store of either dialect."""
    if spans.dialect == "duckdb":
        return version_first_seen(spans.store, f)
    from goldenloop.metrics import sql_clickhouse
    from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where

    where, params = clickhouse_where(f, with_time=False)
    text = sql_clickhouse.version_first_seen(where)
    return sql_clickhouse.run(spans, text, params | {"kind": REQUEST_KIND},
                              ["model_version", "first_seen", "last_seen", "requests", "data_start"])


def dimension_values(store: Store, limit: int) -> pd.DataFrame:
    """The values each filter can take among requests (busiest first, ``limit`` per
    dimension): columns dimension, value, requests."""
    per_column = " UNION ALL ".join(
        f"""(SELECT '{name}' AS dimension, {column} AS value, count(*) AS requests
             FROM spans s WHERE s.kind = '{REQUEST_KIND}' AND {column} IS NOT NULL
                   AND {production_sql("s")}
             GROUP BY ALL ORDER BY requests DESC, value LIMIT {int(limit)})"""
        for name, column in SPLIT_COLUMNS.items()
    )
    tags = f"""(SELECT 'tags' AS dimension, tag AS value, count(*) AS requests
                FROM (SELECT unnest(s.tags) AS tag FROM spans s
                      WHERE s.kind = '{REQUEST_KIND}' AND s.tags IS NOT NULL
                            AND {production_sql("s")})
                GROUP BY ALL ORDER BY requests DESC, value LIMIT {int(limit)})"""
    return store.df(f"{per_column} UNION ALL {tags}")


def request_range(store: Store) -> tuple[datetime | None, datetime | None, int]:
    """First and last production request start, and how many there are."""
    row = store.rows(
        f"SELECT min(start_time), max(start_time), count(*) FROM spans "
        f"WHERE kind = '{REQUEST_KIND}' AND {production_sql()}"
    )[0]
    return row[0], row[1], int(row[2])
