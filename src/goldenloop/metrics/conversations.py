"""Conversation analytics: how long sessions run, where users drop off, how many turns a
resolved conversation takes, and whether users grow more offensive or negative deeper into
a conversation.

Definitions (the page states them too):
- A **turn** is a trace holding at least one LLM call (a request) under the filter. Its user
  message is the one the first call read; its answer is the last call's (its status says
  whether the turn was answered: ``ok``; errored: ``error``; unanswered: ``timeout`` or
  ``empty``). Its model version is the last call's.
- A **session** is a run of turns of one conversation key with no idle gap longer than
  ``idle_minutes`` (default 30) between one turn's end and the next turn's start. The key is
  the span's ``session_id``; turns without one are grouped by ``user_id``, and a turn with
  neither is a session of its own. So one ``session_id`` resumed after an hour counts as two
  sessions. Only turns inside the filter's time range count: a session crossing its edge is
  cut there.
- A session's model version is the version that answered its last turn (the one the user
  left after).
- **Drop-off**: the session's last turn went unanswered, errored, or got negative feedback
  (a thumbs down, or a rating of 2 or less); each reason is counted on its own and a session
  with several counts once in ``any``.
- **Resolved**: the last turn got positive feedback (a thumbs up, or a rating of 4 or more)
  and no negative feedback. Turns to resolution is the number of turns of a resolved session.

One SQL statement builds the turns once and returns two small cubes (sessions by version,
turns, last outcome and last feedback; turns by depth with user-message signals); the
figures are sums over them. Nothing returned is a span or a session: at most a few thousand
rows, safe to cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from goldenloop.metrics import sql as msql
from goldenloop.metrics.filters import FilterError, SpanFilter
from goldenloop.metrics.quality import Z_975
from goldenloop.spanstore.base import DUCKDB, DialectSQL, SpanStore
from goldenloop.store import Store

IDLE_MINUTES = 30
MAX_TURNS = 30  # longer sessions fall in the last bin, "30+"
MAX_DEPTH = 20  # turn depths beyond fall in the last bin, "20+"
DROP_REASONS = ("unanswered", "errored", "negative_feedback")
# Which sessions dropped off, per reason: conditions on the ``sessions`` CTE (its last turn).
DROP_CONDITIONS = {
    "unanswered": "status IS DISTINCT FROM 'ok' AND status IS DISTINCT FROM 'error'",
    "errored": "status = 'error'",
    "negative_feedback": "negative",
    "any": "status IS DISTINCT FROM 'ok' OR negative",
}
# Feedback values read as negative or positive; the same thresholds as review sampling.
NEGATIVE = "(f.kind = 'thumbs' AND f.value <= 0) OR (f.kind = 'rating' AND f.value <= 2)"
POSITIVE = "(f.kind = 'thumbs' AND f.value >= 1) OR (f.kind = 'rating' AND f.value >= 4)"


@dataclass(frozen=True)
class ConversationStats:
    """Session and turn-depth aggregates of one filter and idle timeout."""

    filter: SpanFilter
    idle_minutes: int
    sessions: pd.DataFrame  # model_version, turns, outcome, feedback, sessions (a cube)
    depth: pd.DataFrame  # depth, turns, scored, offensive, sentiment_n, sentiment_sum, sentiment_sq

    @property
    def empty(self) -> bool:
        return self.sessions.empty

    @property
    def total_sessions(self) -> int:
        return int(self.sessions["sessions"].sum()) if not self.empty else 0

    @property
    def total_turns(self) -> int:
        return int((self.sessions["turns"] * self.sessions["sessions"]).sum()) if not self.empty else 0

    def turns_per_session(self, by_version: bool = False) -> pd.DataFrame:
        """Sessions per number of turns (the last bin holds ``MAX_TURNS`` and more): columns
        [model_version,] turns, sessions, share (of the group's sessions)."""
        keys = ["model_version", "turns"] if by_version else ["turns"]
        if self.empty:
            return pd.DataFrame(columns=[*keys, "sessions", "share"])
        out = self._capped().groupby(keys, as_index=False)["sessions"].sum()
        total = out.groupby(keys[:-1])["sessions"].transform("sum") if by_version \
            else out["sessions"].sum()
        return out.assign(share=out["sessions"] / total)

    def turn_summary(self) -> pd.DataFrame:
        """Per model version and in all: sessions, mean and median turns (exact, from the
        uncapped counts)."""
        rows = []
        frame = self.sessions
        for version, part in [("all versions", frame), *frame.groupby("model_version", sort=True)]:
            counts = part.groupby("turns")["sessions"].sum().sort_index()
            n = int(counts.sum())
            if not n:
                continue
            cum = counts.cumsum()
            median = float(counts.index[np.searchsorted(cum.to_numpy(), (n + 1) / 2)])
            if n % 2 == 0:  # the mean of the two middle sessions' turns
                lower = float(counts.index[np.searchsorted(cum.to_numpy(), n / 2)])
                median = (lower + float(counts.index[np.searchsorted(cum.to_numpy(), n / 2 + 1)])) / 2
            rows.append({"model_version": version, "sessions": n,
                         "mean_turns": float((counts.index * counts).sum() / n),
                         "median_turns": median})
        return pd.DataFrame(rows, columns=["model_version", "sessions", "mean_turns", "median_turns"])

    def dropoff(self) -> pd.DataFrame:
        """Per model version and in all: sessions, and how many (and what share) ended with
        the last turn unanswered, errored, with negative feedback, and any of these."""
        rows = []
        frame = self.sessions
        for version, part in [("all versions", frame), *frame.groupby("model_version", sort=True)]:
            n = int(part["sessions"].sum())
            if not n:
                continue
            flags = {"unanswered": part["outcome"] == "unanswered",
                     "errored": part["outcome"] == "errored",
                     "negative_feedback": part["feedback"] == "negative"}
            row = {"model_version": version, "sessions": n}
            for name, mask in flags.items():
                row[name] = int(part.loc[mask, "sessions"].sum())
            row["any"] = int(part.loc[flags["unanswered"] | flags["errored"]
                                      | flags["negative_feedback"], "sessions"].sum())
            for name in (*DROP_REASONS, "any"):
                row[f"{name}_share"] = row[name] / n
            rows.append(row)
        cols = ["model_version", "sessions", *DROP_REASONS, "any",
                *(f"{n}_share" for n in (*DROP_REASONS, "any"))]
        return pd.DataFrame(rows, columns=cols)

    def resolution(self) -> pd.DataFrame:
        """Resolved sessions (last turn positively rated) by their number of turns (the last
        bin holds ``MAX_TURNS`` and more): turns, resolved, share (of resolved sessions)."""
        frame = self._capped()
        resolved = frame[frame["feedback"] == "positive"]
        out = resolved.groupby("turns", as_index=False)["sessions"].sum() \
            .rename(columns={"sessions": "resolved"})
        return out.assign(share=out["resolved"] / out["resolved"].sum() if len(out) else [])

    def resolved_summary(self) -> dict[str, float | int | None]:
        """Resolved sessions, their share of all, and mean and median turns to resolution."""
        frame = self.sessions[self.sessions["feedback"] == "positive"]
        n = int(frame["sessions"].sum())
        if not n:
            return {"resolved": 0, "share": None, "mean_turns": None, "median_turns": None}
        turns = np.repeat(frame["turns"].to_numpy(), frame["sessions"].to_numpy())
        return {"resolved": n, "share": n / self.total_sessions,
                "mean_turns": float(turns.mean()), "median_turns": float(np.median(turns))}

    def by_depth(self) -> pd.DataFrame:
        """Per turn depth (1 = the session's first turn; the last bin holds ``MAX_DEPTH`` and
        deeper): turns, the share of scored user messages that are offensive with a 95% Wilson
        interval, their mean sentiment with a 95% confidence interval (normal approximation),
        and the counts."""
        d = self.depth
        cols = ["depth", "turns", "scored", "offensive_share", "offensive_low", "offensive_high",
                "sentiment", "sentiment_low", "sentiment_high", "sentiment_n"]
        if d.empty:
            return pd.DataFrame(columns=cols)
        n = d["sentiment_n"].where(d["sentiment_n"] > 0)
        mean = d["sentiment_sum"] / n
        var = (d["sentiment_sq"] / n - mean ** 2).clip(lower=0) * n / (n - 1).where(n > 1)
        half = Z_975 * np.sqrt(var / n)
        scored = d["scored"].where(d["scored"] > 0)
        share = d["offensive"] / scored
        low, high = wilson(share, scored)
        return pd.DataFrame({
            "depth": d["depth"], "turns": d["turns"], "scored": d["scored"],
            "offensive_share": share, "offensive_low": low, "offensive_high": high,
            "sentiment": mean, "sentiment_low": mean - half, "sentiment_high": mean + half,
            "sentiment_n": d["sentiment_n"],
        })[cols]

    def _capped(self) -> pd.DataFrame:
        return self.sessions.assign(turns=self.sessions["turns"].clip(upper=MAX_TURNS))


def dropped_sessions(store: Store, f: SpanFilter, idle_minutes: int = IDLE_MINUTES,
                     reason: str = "any", model_version: str | None = None,
                     limit: int = 100) -> pd.DataFrame:
    """The most recent sessions that dropped off for ``reason`` (``DROP_CONDITIONS``), of
    ``model_version`` when given: per session its turns, the last turn's status, feedback and
    start, and the last turn's answering span (``trace_id``, ``span_id``, ``session_id``,
    ``user_id``, the start of its user message), so a page can link to the conversation."""
    if reason not in DROP_CONDITIONS:
        raise FilterError(f"unknown drop-off reason {reason!r}: one of {', '.join(DROP_CONDITIONS)}")
    where, params = msql.where_clause(f)
    params |= {"idle": int(idle_minutes), "version": model_version,
               "limit": max(1, min(int(limit), 1000))}
    return store.df(_dropped_sql(where, reason), params)


def _dropped_sql(where: str, reason: str) -> str:
    return (
        f"""WITH {turns_sql(where)},
            picked AS (
                SELECT * FROM sessions
                WHERE ({DROP_CONDITIONS[reason]})
                  AND ($version IS NULL OR coalesce(model_version, '{msql.UNSET_GROUP}') = $version)
                ORDER BY last_t0 DESC, last_tid LIMIT $limit
            )
            SELECT s.trace_id, s.span_id, s.session_id, s.user_id, p.last_t0 AS last_turn_at,
                   p.n_turns AS turns, p.model_version, p.status,
                   CASE WHEN p.negative THEN 'negative' WHEN p.positive THEN 'positive'
                        ELSE 'none' END AS feedback,
                   left(s.last_user_message, 160) AS last_user_message
            FROM picked p JOIN spans s
              ON hash(s.trace_id) = p.last_tid AND s.kind = '{msql.REQUEST_KIND}'
            QUALIFY row_number() OVER (PARTITION BY p.last_tid ORDER BY s.start_time DESC) = 1
            ORDER BY p.last_t0 DESC, p.last_tid""")


def wilson(p: pd.Series, n: pd.Series) -> tuple[pd.Series, pd.Series]:
    """95% Wilson score interval of a proportion ``p`` of ``n``: stays inside [0, 1] and
    is not empty at 0% (a few deep turns with no offensive message still say little)."""
    z2 = Z_975 ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_975 * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return centre - half, centre + half


def conversation_stats(store: Store, f: SpanFilter, idle_minutes: int = IDLE_MINUTES
                       ) -> ConversationStats:
    """Session and turn-depth aggregates of the requests matching ``f``."""
    if idle_minutes <= 0:
        raise FilterError(f"the idle timeout must be a positive number of minutes, not {idle_minutes}")
    return _stats(f, idle_minutes, _cubes(store, f, idle_minutes))


def _stats(f: SpanFilter, idle_minutes: int, frame: pd.DataFrame) -> ConversationStats:
    sessions = frame[frame["part"] == "sessions"][
        ["model_version", "turns", "outcome", "feedback", "sessions"]].reset_index(drop=True)
    sessions = sessions.astype({"turns": "int64", "sessions": "int64"})
    depth = frame[frame["part"] == "depth"][
        ["turns", "depth", "scored", "offensive", "sentiment_n", "sentiment_sum", "sentiment_sq"]]
    depth = depth.astype({"depth": "int64", "turns": "int64", "scored": "int64",
                          "offensive": "int64", "sentiment_n": "int64"})
    return ConversationStats(f, int(idle_minutes), sessions,
                             depth.sort_values("depth").reset_index(drop=True))


def turns_sql(where: str) -> str:
    """A CTE chain whose last two parts are ``numbered`` (one row per turn: its depth in its
    session, user-message signals) and ``sessions`` (one row per session: turns, and the
    last turn's status, model version and feedback).

    Keys are 64-bit hashes of the trace id and of the conversation key: grouping, sorting
    and partitioning integers costs a fraction of doing it on strings (three window passes
    over strings took most of the time at 1M spans); a collision among a million keys has a
    chance of about one in 30 million, and would only merge two turns or conversations."""
    return f"""
        llm AS (
            SELECT s.span_key, hash(s.trace_id) AS tid, s.start_time, s.status, s.model_version,
                   hash(coalesce('s:' || s.session_id, 'u:' || s.user_id, 't:' || s.trace_id)) AS conv,
                   coalesce(s.end_time, s.start_time
                            + to_microseconds(CAST(coalesce(s.latency_ms, 0) * 1000 AS BIGINT)))
                       AS end_time
            FROM spans s WHERE s.kind = '{msql.REQUEST_KIND}' AND {where}
        ),
        turns AS MATERIALIZED (
            SELECT tid, min(conv) AS conv, min(start_time) AS t0, max(end_time) AS t1,
                   arg_max(status, start_time) AS status,
                   arg_max(model_version, start_time) AS model_version,
                   arg_min(span_key, start_time) AS first_key
            FROM llm GROUP BY tid
        ),
        fb AS (
            SELECT hash(f.trace_id) AS tid, bool_or({NEGATIVE}) AS negative,
                   bool_or({POSITIVE}) AS positive
            FROM feedback f WHERE f.trace_id IS NOT NULL GROUP BY hash(f.trace_id)
        ),
        ordered AS (
            SELECT t.*, g.user_offensive, g.user_sentiment,
                   coalesce(fb.negative, false) AS negative,
                   coalesce(fb.positive, false) AND NOT coalesce(fb.negative, false) AS positive,
                   lag(t.t1) OVER (PARTITION BY t.conv ORDER BY t.t0, t.tid) AS prev_end
            FROM turns t
            LEFT JOIN signals g ON g.span_key = t.first_key
            LEFT JOIN fb ON fb.tid = t.tid
        ),
        split AS MATERIALIZED (
            SELECT *, sum(CASE WHEN prev_end IS NULL OR t0 - prev_end > to_minutes($idle)
                               THEN 1 ELSE 0 END) OVER w AS sess_no,
                      row_number() OVER w AS pos
            FROM ordered
            WINDOW w AS (PARTITION BY conv ORDER BY t0, tid ROWS UNBOUNDED PRECEDING)
        ),
        sessions AS MATERIALIZED (
            -- A hash aggregate per session instead of two more window passes.
            SELECT conv, sess_no, count(*) AS n_turns, min(pos) AS first_pos,
                   arg_max(status, pos) AS status, arg_max(model_version, pos) AS model_version,
                   arg_max(negative, pos) AS negative, arg_max(positive, pos) AS positive,
                   arg_max(tid, pos) AS last_tid, max(t0) AS last_t0
            FROM split GROUP BY conv, sess_no
        ),
        numbered AS (
            SELECT t.user_offensive, t.user_sentiment, t.pos - s.first_pos + 1 AS depth
            FROM split t JOIN sessions s ON s.conv = t.conv AND s.sess_no = t.sess_no
        )"""


def _cubes(store: Store, f: SpanFilter, idle_minutes: int) -> pd.DataFrame:
    where, params = msql.where_clause(f)
    params |= {"idle": int(idle_minutes), "max_depth": MAX_DEPTH,
               "threshold": msql.OFFENSIVE_THRESHOLD}
    return store.df(
        f"""WITH {turns_sql(where)}
            SELECT 'sessions' AS part, coalesce(model_version, '{msql.UNSET_GROUP}') AS model_version,
                   n_turns AS turns,
                   CASE WHEN status = 'ok' THEN 'answered' WHEN status = 'error' THEN 'errored'
                        ELSE 'unanswered' END AS outcome,
                   CASE WHEN negative THEN 'negative' WHEN positive THEN 'positive'
                        ELSE 'none' END AS feedback,
                   count(*) AS sessions, NULL::BIGINT AS depth, NULL::BIGINT AS scored,
                   NULL::BIGINT AS offensive, NULL::BIGINT AS sentiment_n,
                   NULL::DOUBLE AS sentiment_sum, NULL::DOUBLE AS sentiment_sq
            FROM sessions GROUP BY ALL
            UNION ALL
            SELECT 'depth', NULL, count(*), NULL, NULL, NULL, least(depth, $max_depth),
                   count(user_offensive), count(*) FILTER (WHERE user_offensive >= $threshold),
                   count(user_sentiment), sum(user_sentiment), sum(user_sentiment * user_sentiment)
            FROM numbered GROUP BY least(depth, $max_depth)""",
        params,
    )


# -- on either span store ----------------------------------------------------------------------
def conversation_stats_in(spans: SpanStore, f: SpanFilter, idle_minutes: int = IDLE_MINUTES
                          ) -> ConversationStats:
    """``conversation_stats`` read from a span store of either dialect."""
    if spans.dialect == DUCKDB:
        return conversation_stats(spans.store, f, idle_minutes)
    if idle_minutes <= 0:
        raise FilterError(f"the idle timeout must be a positive number of minutes, not {idle_minutes}")
    from goldenloop.metrics import conversations_clickhouse as ch
    from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where

    where, params = clickhouse_where(f)
    params |= {"idle": int(idle_minutes), "max_depth": MAX_DEPTH,
               "threshold": msql.OFFENSIVE_THRESHOLD}
    sessions = spans.query(DialectSQL(clickhouse=ch.sessions_cube(where)), params)
    depth = spans.query(DialectSQL(clickhouse=ch.depth_cube(where)), params)
    # chdb hands an empty result back without columns
    frame = pd.concat([x for x in (sessions, depth) if len(x)] or [_EMPTY_CUBES], ignore_index=True)
    return _stats(f, idle_minutes, frame.reindex(columns=_EMPTY_CUBES.columns))


_EMPTY_CUBES = pd.DataFrame(columns=["part", "model_version", "turns", "outcome", "feedback",
                                     "sessions", "depth", "scored", "offensive", "sentiment_n",
                                     "sentiment_sum", "sentiment_sq"])


def dropped_sessions_in(spans: SpanStore, f: SpanFilter, idle_minutes: int = IDLE_MINUTES,
                        reason: str = "any", model_version: str | None = None,
                        limit: int = 100) -> pd.DataFrame:
    """``dropped_sessions`` read from a span store of either dialect."""
    if spans.dialect == DUCKDB:
        return dropped_sessions(spans.store, f, idle_minutes, reason, model_version, limit)
    if reason not in DROP_CONDITIONS:
        raise FilterError(f"unknown drop-off reason {reason!r}: one of {', '.join(DROP_CONDITIONS)}")
    from goldenloop.metrics import conversations_clickhouse as ch
    from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where

    where, params = clickhouse_where(f)
    params |= {"idle": int(idle_minutes), "version": model_version,
               "limit": max(1, min(int(limit), 1000))}
    text = ch.dropped_sql(where, reason, model_version is not None)
    out = spans.query(DialectSQL(clickhouse=text), params)
    return out if len(out) else pd.DataFrame(columns=_DROPPED_COLUMNS)


_DROPPED_COLUMNS = ["trace_id", "span_id", "session_id", "user_id", "last_turn_at", "turns",
                    "model_version", "status", "feedback", "last_user_message"]
