"""The ClickHouse text of version comparison, beside its DuckDB text (``metrics.sql_compare``):
per-session sums, per-request latencies with their session's number, and the versions of an
app. Sessions are numbered in the order of their key, as in DuckDB (both compare strings by
their bytes), so session ``i`` is the same session on both.

Grades live in the workflow store: ``session_sums`` takes them as four parallel arrays
(span key, source, value, weight) bound as parameters, and joins them in ClickHouse.
"""

from __future__ import annotations

SESSION_KEY = "coalesce(s.session_id, concat('t:', s.trace_id))"  # trace ids are never NULL


def _ok(cond: str) -> str:
    return f"ifNull({cond}, 0)"  # a NULL condition counts as false, as FILTER does


_OK = "r.status = 'ok'"
# ``sql_compare.SUMS`` in ClickHouse's words, name for name
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
    "human_wv": "sum(h.w * h.value)",
    "human_w": "sum(h.w)",
    "human_n": "count(h.value)",
    "judge_wv": "sum(j.w * j.value)",
    "judge_w": "sum(j.w)",
    "judge_n": "count(j.value)",
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
    return f"""WITH {requests_cte(where)},
        graded AS (
            SELECT t.1 AS span_key, t.2 AS source, t.3 AS value, t.4 AS w
            FROM (SELECT arrayJoin(arrayZip(CAST(%(gk)s AS Array(Int64)),
                                            CAST(%(gs)s AS Array(String)),
                                            CAST(%(gv)s AS Array(Float64)),
                                            CAST(%(gw)s AS Array(Float64)))) AS t)
        )
        SELECT n.idx AS idx, {cols}
        FROM req AS r
        JOIN numbered AS n ON n.sess = r.sess
        LEFT JOIN (SELECT * FROM signals FINAL WHERE span_key IN (SELECT span_key FROM req)) AS g
             ON g.span_key = r.span_key
        LEFT JOIN (SELECT span_key, countIf(kind = 'thumbs') AS thumbs,
                          countIf(kind = 'thumbs' AND value = 0) AS down
                   FROM feedback FINAL WHERE span_key IS NOT NULL GROUP BY span_key) AS fb
             ON fb.span_key = r.span_key
        LEFT JOIN (SELECT * FROM graded WHERE source = 'human') AS h ON h.span_key = r.span_key
        LEFT JOIN (SELECT * FROM graded WHERE source = 'judge') AS j ON j.span_key = r.span_key
        GROUP BY n.idx ORDER BY n.idx
        SETTINGS join_use_nulls = 1"""


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
