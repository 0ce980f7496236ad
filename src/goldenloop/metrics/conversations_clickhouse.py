"""The ClickHouse text of the Conversations reader (``metrics.conversations``), beside its
DuckDB text: the same turns, sessions and cubes, for a span store in ClickHouse.

Spans, signals and feedback all live in the span store, so the whole reader runs there; only
the keys differ from DuckDB's (``cityHash64`` instead of ``hash``: they group and break
ties, they are never shown). Reads go through ``FINAL`` (a span sent twice counts once).
``argMax(tuple(x), t).1`` keeps a NULL ``x`` as DuckDB's ``arg_max`` does (ClickHouse's
aggregates skip NULL arguments), and ``join_use_nulls`` makes an unmatched LEFT JOIN give
NULL, not a type's default, as in DuckDB.
"""

from __future__ import annotations

from goldenloop.metrics import sql as msql

SETTINGS = "SETTINGS join_use_nulls = 1"
NEGATIVE = "(f.kind = 'thumbs' AND f.value <= 0) OR (f.kind = 'rating' AND f.value <= 2)"
POSITIVE = "(f.kind = 'thumbs' AND f.value >= 1) OR (f.kind = 'rating' AND f.value >= 4)"
DROP_CONDITIONS = {  # conditions on ``sessions`` (its last turn), as ``DROP_CONDITIONS``
    "unanswered": "ifNull(status, '') NOT IN ('ok', 'error')",
    "errored": "ifNull(status, '') = 'error'",
    "negative_feedback": "negative",
    "any": "ifNull(status, '') <> 'ok' OR negative",
}


def turns_sql(where: str) -> str:
    """``conversations.turns_sql`` in ClickHouse: CTEs ending in ``numbered`` and ``sessions``."""
    return f"""
        llm AS (
            SELECT s.span_key AS span_key, cityHash64(s.trace_id) AS tid,
                   s.start_time AS start_time, s.status AS status,
                   s.model_version AS model_version,
                   cityHash64(coalesce('s:' || s.session_id, 'u:' || s.user_id,
                                       't:' || s.trace_id)) AS conv,
                   coalesce(s.end_time, s.start_time + toIntervalMicrosecond(
                       toInt64(round(coalesce(s.latency_ms, 0) * 1000)))) AS end_time
            FROM spans AS s FINAL WHERE s.kind = '{msql.REQUEST_KIND}' AND {where}
        ),
        turns AS (
            SELECT tid, min(conv) AS conv, min(start_time) AS t0, max(end_time) AS t1,
                   argMax(tuple(status), start_time).1 AS status,
                   argMax(tuple(model_version), start_time).1 AS model_version,
                   argMin(span_key, start_time) AS first_key
            FROM llm GROUP BY tid
        ),
        fb AS (
            SELECT cityHash64(f.trace_id) AS tid, max({NEGATIVE}) AS negative,
                   max({POSITIVE}) AS positive
            FROM feedback AS f FINAL WHERE f.trace_id IS NOT NULL GROUP BY tid
        ),
        ordered AS (
            SELECT t.tid AS tid, t.conv AS conv, t.t0 AS t0, t.t1 AS t1, t.status AS status,
                   t.model_version AS model_version, g.user_offensive AS user_offensive,
                   g.user_sentiment AS user_sentiment,
                   ifNull(fb.negative, 0) = 1 AS negative,
                   ifNull(fb.positive, 0) = 1 AND ifNull(fb.negative, 0) = 0 AS positive,
                   lagInFrame(toNullable(t.t1)) OVER (PARTITION BY t.conv ORDER BY t.t0, t.tid
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS prev_end
            FROM turns AS t
            LEFT JOIN (SELECT * FROM signals FINAL) AS g ON g.span_key = t.first_key
            LEFT JOIN fb ON fb.tid = t.tid
        ),
        split AS (
            SELECT *, sum(if(prev_end IS NULL
                             OR dateDiff('microsecond', prev_end, t0) > %(idle)s * 60000000,
                             1, 0)) OVER w AS sess_no,
                      row_number() OVER w AS pos
            FROM ordered
            WINDOW w AS (PARTITION BY conv ORDER BY t0, tid
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ),
        sessions AS (
            SELECT conv, sess_no, toInt64(count()) AS n_turns, min(pos) AS first_pos,
                   argMax(tuple(status), pos).1 AS status,
                   argMax(tuple(model_version), pos).1 AS model_version,
                   argMax(negative, pos) AS negative, argMax(positive, pos) AS positive,
                   argMax(tid, pos) AS last_tid, max(t0) AS last_t0
            FROM split GROUP BY conv, sess_no
        ),
        numbered AS (
            SELECT t.user_offensive AS user_offensive, t.user_sentiment AS user_sentiment,
                   toInt64(t.pos) - toInt64(s.first_pos) + 1 AS depth
            FROM split AS t JOIN sessions AS s ON s.conv = t.conv AND s.sess_no = t.sess_no
        )"""


def sessions_cube(where: str) -> str:
    """Sessions by model version, turns, last outcome and last feedback."""
    return f"""WITH {turns_sql(where)}
        SELECT 'sessions' AS part, ifNull(model_version, '{msql.UNSET_GROUP}') AS model_version,
               n_turns AS turns,
               multiIf(ifNull(status, '') = 'ok', 'answered', ifNull(status, '') = 'error',
                       'errored', 'unanswered') AS outcome,
               multiIf(negative, 'negative', positive, 'positive', 'none') AS feedback,
               toInt64(count()) AS sessions
        FROM sessions GROUP BY model_version, turns, outcome, feedback {SETTINGS}"""


def depth_cube(where: str) -> str:
    """Turns by depth (capped) with the user-message signal counts and sums."""
    return f"""WITH {turns_sql(where)}
        SELECT 'depth' AS part, toInt64(count()) AS turns,
               least(depth, %(max_depth)s) AS depth,
               toInt64(count(user_offensive)) AS scored,
               toInt64(countIf(user_offensive >= %(threshold)s)) AS offensive,
               toInt64(count(user_sentiment)) AS sentiment_n,
               sum(user_sentiment) AS sentiment_sum,
               sum(user_sentiment * user_sentiment) AS sentiment_sq
        FROM numbered GROUP BY depth {SETTINGS}"""


def dropped_sql(where: str, reason: str, with_version: bool) -> str:
    """``conversations.dropped_sessions`` in ClickHouse."""
    version = (f" AND ifNull(model_version, '{msql.UNSET_GROUP}') = %(version)s"
               if with_version else "")
    return f"""WITH {turns_sql(where)},
        picked AS (
            SELECT * FROM sessions WHERE ({DROP_CONDITIONS[reason]}){version}
            ORDER BY last_t0 DESC, last_tid LIMIT %(limit)s
        ),
        last_span AS (
            SELECT cityHash64(trace_id) AS tid, trace_id, span_id, session_id, user_id,
                   last_user_message, start_time
            FROM spans FINAL
            WHERE kind = '{msql.REQUEST_KIND}' AND cityHash64(trace_id) IN (SELECT last_tid FROM picked)
            ORDER BY start_time DESC LIMIT 1 BY tid
        )
        SELECT s.trace_id AS trace_id, s.span_id AS span_id, s.session_id AS session_id,
               s.user_id AS user_id, p.last_t0 AS last_turn_at, p.n_turns AS turns,
               p.model_version AS model_version, p.status AS status,
               multiIf(p.negative, 'negative', p.positive, 'positive', 'none') AS feedback,
               leftUTF8(s.last_user_message, 160) AS last_user_message
        FROM picked AS p JOIN last_span AS s ON s.tid = p.last_tid
        ORDER BY p.last_t0 DESC, p.last_tid {SETTINGS}"""
