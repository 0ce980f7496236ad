"""SQL of version comparison: per-session sums of every compared measure, and the per-request
latencies (with their session's number) that quantiles are resampled from.

A session is the unit a comparison resamples: turns of one conversation share a user, a
topic and a mood, so they are not independent. Requests without a session count as a
session of their own trace (and without a trace, alone).

Sessions are numbered 0, 1, ... in the order of their key, in both statements, so row ``i``
of ``session_sums`` is session ``i`` of ``request_latencies``. User values reach DuckDB as
named parameters; the filter clause is the one span filter's (``store.span_filter.where``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from goldenloop.metrics import sql_compare_clickhouse as compare_clickhouse
from goldenloop.metrics.sql import (
    GRADE_WEIGHTS,
    OFFENSIVE_THRESHOLD,
    REQUEST_KIND,
    where_clause,
)
from goldenloop.spanstore.base import DUCKDB, DialectSQL, SpanStore
from goldenloop.store.shared_sql import CHOSEN_JUDGES
from goldenloop.store.span_filter import SpanFilter
from goldenloop.store.span_filter import where as span_where
from goldenloop.store.store import Store

SESSION_KEY = "coalesce(s.session_id, 't:' || s.trace_id, 'k:' || CAST(s.span_key AS VARCHAR))"

# name -> SQL over one session's requests (``r``), signals (``g``), feedback (``fb``) and
# grades (``h`` human, ``j`` judge). Every value is a sum or a count: ratios are formed from
# the resampled sums (a ratio of sums, never a mean of per-session ratios).
SUMS = {
    "requests": "count(*)",
    "errors": "count(*) FILTER (WHERE r.status = 'error')",
    "timeouts": "count(*) FILTER (WHERE r.status = 'timeout')",
    "empty": "count(*) FILTER (WHERE r.status = 'empty')",
    # Tokens and output length per answered request, as the Monitor's "per response".
    "input_tokens": "sum(r.input_tokens) FILTER (WHERE r.status = 'ok')",
    "input_tokens_n": "count(r.input_tokens) FILTER (WHERE r.status = 'ok')",
    "output_tokens": "sum(r.output_tokens) FILTER (WHERE r.status = 'ok')",
    "output_tokens_n": "count(r.output_tokens) FILTER (WHERE r.status = 'ok')",
    "output_chars": "sum(g.output_chars) FILTER (WHERE r.status = 'ok')",
    "output_chars_n": "count(g.output_chars) FILTER (WHERE r.status = 'ok')",
    "cost_usd": "sum(r.cost_usd)",
    "priced": "count(r.cost_usd)",
    "refusals": "count(*) FILTER (WHERE g.refusal)",
    "refusal_n": "count(g.refusal)",
    "user_offensive": "count(*) FILTER (WHERE g.user_offensive >= $threshold)",
    "user_offensive_n": "count(g.user_offensive)",
    "output_offensive": "count(*) FILTER (WHERE g.output_offensive >= $threshold)",
    "output_offensive_n": "count(g.output_offensive)",
    "user_sentiment": "sum(g.user_sentiment)",
    "user_sentiment_n": "count(g.user_sentiment)",
    "output_sentiment": "sum(g.output_sentiment)",
    "output_sentiment_n": "count(g.output_sentiment)",
    "with_feedback": "count(fb.span_key)",
    "thumbs": "sum(fb.thumbs)",
    "thumbs_down": "sum(fb.down)",
    # Correctness: a weighted mean over graded requests (weights as the Monitor's), so the
    # sums are of weight × value and of weight.
    "human_wv": "sum(h.w * h.value)",
    "human_w": "sum(h.w)",
    "human_n": "count(h.value)",
    "judge_wv": "sum(j.w * j.value)",
    "judge_w": "sum(j.w)",
    "judge_n": "count(j.value)",
}


def _requests_cte(where: str) -> str:
    return f"""req AS (
        SELECT s.span_key, {SESSION_KEY} AS sess, s.status, s.latency_ms, s.ttft_ms,
               s.input_tokens, s.output_tokens, s.cost_usd
        FROM spans s WHERE s.kind = '{REQUEST_KIND}' AND {where}
    ), numbered AS (
        SELECT sess, CAST(row_number() OVER (ORDER BY sess) - 1 AS INTEGER) AS idx
        FROM (SELECT DISTINCT sess FROM req)
    )"""


def session_sums(store: Store, f: SpanFilter, criterion: str, weights: str = "inclusion",
                 sources: Sequence[str] = ("human", "judge"),
                 judge_versions: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """One row per session of the requests matching ``f`` (in session number order): every
    sum of ``SUMS``, as float arrays (0 where a session has nothing to sum). Judge grades
    count only from ``judge_versions`` (None: every version)."""
    where, params = where_clause(f)
    params |= {"threshold": OFFENSIVE_THRESHOLD, "criterion": criterion,
               "sources": list(sources),
               "judge_versions": None if judge_versions is None else list(judge_versions)}
    cols = ",\n".join(f"coalesce({expr}, 0)::DOUBLE AS {name}" for name, expr in SUMS.items())
    sql = f"""WITH {_requests_cte(where)},
        fb AS (
            SELECT span_key, count(*) FILTER (WHERE kind = 'thumbs') AS thumbs,
                   count(*) FILTER (WHERE kind = 'thumbs' AND value = 0) AS down
            FROM feedback WHERE span_key IS NOT NULL GROUP BY span_key
        ), graded AS (
            SELECT g.span_key, g.source, avg(g.value_number) AS value,
                   avg({GRADE_WEIGHTS[weights]}) AS w
            FROM live_grades g LEFT JOIN queue_items qi ON qi.queue_item_id = g.queue_item_id
            WHERE g.criterion = $criterion AND list_contains($sources, g.source)
              AND g.span_key IS NOT NULL AND g.value_number IS NOT NULL
              AND NOT coalesce(g.not_applicable, false) AND {CHOSEN_JUDGES}
            GROUP BY g.span_key, g.source
        )
        SELECT n.idx, {cols}
        FROM req r
        JOIN numbered n ON n.sess = r.sess
        LEFT JOIN signals g ON g.span_key = r.span_key
        LEFT JOIN fb ON fb.span_key = r.span_key
        LEFT JOIN graded h ON h.span_key = r.span_key AND h.source = 'human'
        LEFT JOIN graded j ON j.span_key = r.span_key AND j.source = 'judge'
        GROUP BY n.idx ORDER BY n.idx"""
    out = store.cursor().execute(sql, params).fetchnumpy()
    return {name: np.asarray(out[name], dtype=float) for name in SUMS}


def request_latencies(store: Store, f: SpanFilter, column: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``column`` (``latency_ms`` or ``ttft_ms``) of every request matching ``f`` that has
    one, sorted ascending, and the number of each one's session."""
    if column not in ("latency_ms", "ttft_ms"):
        raise ValueError(f"not a latency column: {column!r}")
    where, params = where_clause(f)
    sql = f"""WITH {_requests_cte(where)}
        SELECT r.{column}::DOUBLE AS value, n.idx
        FROM req r JOIN numbered n ON n.sess = r.sess
        WHERE r.{column} IS NOT NULL ORDER BY value, n.idx"""
    out = store.cursor().execute(sql, params).fetchnumpy()
    return np.asarray(out["value"], dtype=float), np.asarray(out["idx"], dtype=np.int64)


def side_values(store: Store, app: str, column: str) -> pd.DataFrame:
    """The values of ``column`` (model_version or prompt_version) among ``app``'s requests:
    value, requests, first_seen, last_seen, and the model most often requested of it (a
    provider's snapshots share one), oldest first."""
    if column not in ("model_version", "prompt_version"):
        raise ValueError(f"not a version column: {column!r}")
    # Every source, as this list always read: a version is listed once anything used it.
    where, params = span_where(SpanFilter(apps=(app,), kinds=(REQUEST_KIND,),
                                          include_internal=True))
    return store.df(
        f"""SELECT s.{column} AS value, count(*) AS requests, min(s.start_time) AS first_seen,
                   max(s.start_time) AS last_seen, mode(s.model) AS model
            FROM spans s
            WHERE {where} AND s.{column} IS NOT NULL
            GROUP BY ALL ORDER BY first_seen, value""",
        params,
    )


# -- on a span store of either dialect ---------------------------------------------------------
def _clickhouse_where(f: SpanFilter) -> tuple[str, dict]:
    from goldenloop.spanstore.clickhouse_filter import where

    text, params = where(f)
    return text, params | {"kind": REQUEST_KIND}


GRADE_SUMS = ("human", "judge")  # sources whose ``*_wv``, ``*_w``, ``*_n`` sums come from grades


def session_sums_in(spans: SpanStore, f: SpanFilter, criterion: str, graded: pd.DataFrame,
                    judge_versions: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """``session_sums`` on a span store of either dialect. On DuckDB the store's own file
    holds the grades too: ``session_sums`` itself. On ClickHouse the grades come in as
    ``graded`` (``sql_in.graded_spans`` of the workflow store, of this criterion and judge
    versions, weighted by inclusion): ClickHouse sums the rest per session and names each
    request's session, and the grades are summed per session here."""
    if spans.dialect == DUCKDB:
        return session_sums(spans.store, f, criterion, judge_versions=judge_versions)
    where, params = _clickhouse_where(f)
    out = spans.query(DialectSQL(clickhouse=compare_clickhouse.session_sums(where)),
                      params | {"threshold": OFFENSIVE_THRESHOLD})
    n = len(out)
    sums = {name: out[name].to_numpy(dtype=float) if n else np.zeros(0)
            for name in compare_clickhouse.SUMS}
    sessions = spans.query(DialectSQL(clickhouse=compare_clickhouse.request_sessions(where)),
                           params) if n and len(graded) else pd.DataFrame()
    for source in GRADE_SUMS:
        part = graded[graded["source"] == source]
        if len(sessions) and len(part):
            part = part.merge(sessions, on="span_key")
        idx = part["idx"].to_numpy(dtype=np.int64) if "idx" in part else np.zeros(0, np.int64)
        w = part["w"].to_numpy(dtype=float) if "idx" in part else np.zeros(0)
        v = part["value"].to_numpy(dtype=float) if "idx" in part else np.zeros(0)
        sums[f"{source}_wv"] = np.bincount(idx, weights=w * v, minlength=n).astype(float)
        sums[f"{source}_w"] = np.bincount(idx, weights=w, minlength=n).astype(float)
        sums[f"{source}_n"] = np.bincount(idx, minlength=n).astype(float)
    return {name: sums[name] for name in SUMS}


def request_latencies_in(spans: SpanStore, f: SpanFilter, column: str
                         ) -> tuple[np.ndarray, np.ndarray]:
    """``request_latencies`` on a span store of either dialect."""
    if spans.dialect == DUCKDB:
        return request_latencies(spans.store, f, column)
    if column not in ("latency_ms", "ttft_ms"):
        raise ValueError(f"not a latency column: {column!r}")
    where, params = _clickhouse_where(f)
    out = spans.query(DialectSQL(clickhouse=compare_clickhouse.request_latencies(where, column)),
                      params)
    if not len(out):
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    return out["value"].to_numpy(dtype=float), out["idx"].to_numpy(dtype=np.int64)


def side_values_in(spans: SpanStore, app: str, column: str) -> pd.DataFrame:
    """``side_values`` on a span store of either dialect."""
    if spans.dialect == DUCKDB:
        return side_values(spans.store, app, column)
    if column not in ("model_version", "prompt_version"):
        raise ValueError(f"not a version column: {column!r}")
    from goldenloop.metrics.sql_clickhouse import run
    from goldenloop.spanstore.clickhouse_filter import where

    text, params = where(SpanFilter(apps=(app,), kinds=(REQUEST_KIND,), include_internal=True))
    return run(spans, compare_clickhouse.side_values(text, column), params,
               ["value", "requests", "first_seen", "last_seen", "model"])
