"""Deletion by end user in a ClickHouse span store: what ``ops.forget`` erases from the
database file, erased from ClickHouse too.

``collect`` finds the spans of the user, session or trace, and every span of their traces
and sessions (child spans carry no user id); ``delete`` removes those spans, their signals
and the feedback naming any of them with ``ALTER TABLE … DELETE`` run synchronously
(``mutations_sync = 2``): a mutation rewrites the parts that held the rows, so the bytes go,
not only the rows from query results (a lightweight ``DELETE`` only masks them until a merge).
"""

from __future__ import annotations

from dataclasses import dataclass, field

SELECTORS = ("user_id", "session_id", "trace_id")


@dataclass
class Found:
    keys: list[int] = field(default_factory=list)
    traces: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)


def collect(spans, selector: str, value: str) -> Found:
    """The span keys, traces and sessions of ``selector = value`` in ClickHouse."""
    if selector not in SELECTORS:  # spliced into SQL: one of three names only
        raise ValueError(f"unknown selector {selector!r}")
    seed = spans.arrow(f"SELECT DISTINCT trace_id, session_id FROM spans WHERE {selector} = %(v)s",
                       {"v": value}).to_pylist()
    traces = sorted({r["trace_id"] for r in seed if r["trace_id"] is not None})
    sessions = sorted({r["session_id"] for r in seed if r["session_id"] is not None})
    keys = spans.arrow(
        f"SELECT DISTINCT span_key FROM spans WHERE {selector} = %(v)s "
        "OR trace_id IN %(t)s OR session_id IN %(s)s",
        {"v": value, "t": traces or [""], "s": sessions or [""]}).column(0).to_pylist()
    return Found(sorted(keys), traces, sessions)


def delete(spans, found: Found, traces: set[str], sessions: set[str], users: set[str]
           ) -> dict[str, int]:
    """Delete the found spans, their signals and the feedback naming any of them or of the
    given ids; rows removed per table (counted before, without FINAL: every copy goes)."""
    params = {"k": found.keys or [-1], "t": sorted(traces) or [""],
              "s": sorted(sessions) or [""], "u": sorted(users) or [""]}
    conditions = {
        "spans": "span_key IN %(k)s",
        "signals": "span_key IN %(k)s",
        "feedback": "span_key IN %(k)s OR trace_id IN %(t)s OR session_id IN %(s)s "
                    "OR user_id IN %(u)s",
    }
    removed = {}
    for table, cond in conditions.items():
        n = spans.arrow(f"SELECT count() FROM {table} WHERE {cond}", params).column(0)[0].as_py()
        if n:
            spans.command(f"ALTER TABLE {_target(spans, table)} DELETE WHERE {cond}", params,
                          settings={"mutations_sync": 2})
        removed[f"{table} (ClickHouse)"] = int(n)
    return removed


def _target(spans, table: str) -> str:
    """On a cluster the rows live in each shard's local table (a Distributed table takes no
    mutation)."""
    cluster = spans.cfg.cluster
    return f"{table}_local ON CLUSTER '{cluster}'" if cluster else table
