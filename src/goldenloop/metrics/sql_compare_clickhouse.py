"""The ClickHouse text of version comparison, beside its DuckDB text (``metrics.sql_compare``):
per-session sums, per-request latencies with their session's number, and the versions of an
app. Sessions are numbered in the order of their key, as in DuckDB (both compare strings by
their bytes), so session ``i`` is the same session on both.

Grades live in the workflow store: ``session_sums`` leaves them out, and ``request_sessions``
gives every request's span key and session number, so the caller sums the grades per session
(a list of graded keys in the query text would meet ClickHouse's ``max_query_size``).
"""

from __future__ import annotations

SESSION_KEY = "coalesce(s.session_id, concat('t:', s.trace_id))"  # trace ids are never NULL


def _ok(cond: str) -> str:
    return f"ifNull({cond}, 0)"  # a NULL condition counts as false, as FILTER does


_OK = "r.status = 'ok'"
# ``sql_compare.SUMS`` in ClickHouse's words, name for name, but the grades' (summed apart)
SUMS = {
    "requests": "count()",
    "errors": "countIf(ifNull(r.status = 'error', 0))",
    "timeouts": "countIf(ifNull(r.status = 'timeout', 0))",
    "empty": "countIf(ifNull(r.status = 'empty', 0))",
    "input_tokens": f"sumIf(r.input_tokens, {_ok(_OK)})",
    "input_tokens_n": f"countIf(r.input_tokens IS NOT NULL AND {_ok(_OK)})",
    "output_tokens": f"sumIf(r.output_tokens, {_ok(_OK)})",
    "output_tokens_n": f"countIf(r.output_tokens IS NOT NULL AND {_ok(_OK)})",
    "output_chars": f"sumIf(g.output_chars, {_ok(_OK)})",
    "output_chars_n": f"countIf(g.output_chars IS NOT NULL AND {_ok(_OK)})",
    "cost_usd": "sum(r.cost_usd)",
    "priced": "count(r.cost_usd)",
    "refusals": f"countIf({_ok('g.refusal')})",
    "refusal_n": "count(g.refusal)",
    "user_offensive": f"countIf({_ok('g.user_offensive >= %(threshold)s')})",
    "user_offensive_n": "count(g.user_offensive)",
    "output_offensive": f"countIf({_ok('g.output_offensive >= %(threshold)s')})",
    "output_offensive_n": "count(g.output_offensive)",
    "user_sentiment": "sum(g.user_sentiment)",
    "user_sentiment_n": "count(g.user_sentiment)",
    "output_sentiment": "sum(g.output_sentiment)",
    "output_sentiment_n": "count(g.output_sentiment)",
    "with_feedback": "count(fb.span_key)",
    "thumbs": "sum(fb.thumbs)",
    "thumbs_down": "sum(fb.down)",
}


def requests_cte(where: str) -> str:
    return f"""req AS (
        SELECT s.span_key AS span_key, {SESSION_KEY} AS sess, s.status AS status,
               s.latency_ms AS latency_ms, s.ttft_ms AS ttft_ms, s.input_tokens AS input_tokens,
               s.output_tokens AS output_tokens, s.cost_usd AS cost_usd
        FROM spans AS s FINAL WHERE s.kind = %(kind)s AND {where}
    ), numbered AS (
        SELECT sess, toInt32(row_number() OVER (ORDER BY sess) - 1) AS idx
        FROM (SELECT DISTINCT sess FROM req)
    )"""


def session_sums(where: str) -> str:
    cols = ",\n".join(f"toFloat64(ifNull({expr}, 0)) AS {name}" for name, expr in SUMS.items())
    return f"""WITH {requests_cte(where)}
        SELECT n.idx AS idx, {cols}
        FROM req AS r
        JOIN numbered AS n ON n.sess = r.sess
        LEFT JOIN (SELECT * FROM signals FINAL WHERE span_key IN (SELECT span_key FROM req)) AS g
             ON g.span_key = r.span_key
        LEFT JOIN (SELECT span_key, countIf(kind = 'thumbs') AS thumbs,
                          countIf(kind = 'thumbs' AND value = 0) AS down
                   FROM feedback FINAL WHERE span_key IS NOT NULL GROUP BY span_key) AS fb
             ON fb.span_key = r.span_key
        GROUP BY n.idx ORDER BY n.idx
        SETTINGS join_use_nulls = 1"""


def request_sessions(where: str) -> str:
    """Every request's span key and session number."""
    return f"""WITH {requests_cte(where)}
        SELECT r.span_key AS span_key, n.idx AS idx
        FROM req AS r JOIN numbered AS n ON n.sess = r.sess"""


def request_latencies(where: str, column: str) -> str:
    return f"""WITH {requests_cte(where)}
        SELECT toFloat64(r.{column}) AS value, n.idx AS idx
        FROM req AS r JOIN numbered AS n ON n.sess = r.sess
        WHERE r.{column} IS NOT NULL ORDER BY value, idx"""


def side_values(where: str, column: str) -> str:
    """Each value of ``column`` with its requests, first and last request and its most
    requested model (DuckDB's ``mode``: the model with the most requests)."""
    return f"""
        SELECT value, toInt64(sum(n)) AS requests, min(first) AS first_seen,
               max(last) AS last_seen, argMax(model, n) AS model
        FROM (SELECT s.{column} AS value, s.model AS model, count() AS n,
                     min(s.start_time) AS first, max(s.start_time) AS last
              FROM spans AS s FINAL WHERE {where} AND s.{column} IS NOT NULL
              GROUP BY value, model)
        GROUP BY value ORDER BY first_seen, value"""
