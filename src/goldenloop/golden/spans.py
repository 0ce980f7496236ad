"""The spans a golden build reads, when they live outside the workflow file (ClickHouse).

A build joins grades, corrections and comparisons (workflow tables) to the graded answers and
their traces and sessions. With the spans elsewhere, the spans its criterion's grades name
(by key, trace id or session id, and the A side of graded comparisons) are fetched from the
span store first, outside the write lock, and put in a temporary table named ``spans`` on the
build's cursor for the build's statements: DuckDB resolves the temporary table before the
file's own (empty) one, so the build's SQL is the same text on both stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import duckdb
import pyarrow as pa

from goldenloop.golden.filters import GoldenFilter
from goldenloop.spanstore.base import DUCKDB, DialectSQL, SpanStore
from goldenloop.spanstore.keyed import local_spans, registered
from goldenloop.store import Store

_TEMP = "temp.main.spans"


def fetch(store: Store, spans: SpanStore | None, f: GoldenFilter) -> pa.Table | None:
    """The spans ``f``'s candidates may read, from ``spans``; None when they are in the
    store's own file (nothing to fetch)."""
    if spans is None or spans.dialect == DUCKDB:
        return None
    named = store.rows(
        """SELECT DISTINCT target_type, target_id, span_key FROM live_grades WHERE criterion = ?
           UNION
           SELECT DISTINCT 'span', c.a_id, TRY_CAST(c.a_id AS BIGINT) FROM comparisons c
           JOIN live_grades g ON g.target_type = 'comparison' AND g.target_id = c.comparison_id
           WHERE g.criterion = ? AND c.a_type = 'span'""", [f.criterion, f.criterion])
    keys = {int(k) for _, _, k in named if k is not None}
    keys |= {int(t) for kind, t, _ in named if kind == "span" and str(t).isdigit()}
    traces = sorted({t for kind, t, _ in named if kind == "trace"})
    sessions = sorted({t for kind, t, _ in named if kind == "session"})
    if traces or sessions:
        got = spans.query(DialectSQL(clickhouse="""
            SELECT span_key FROM spans FINAL
            WHERE trace_id IN %(traces)s OR session_id IN %(sessions)s"""),
            {"traces": traces or [""], "sessions": sessions or [""]})
        keys |= {int(k) for k in got["span_key"]} if len(got) else set()
    return local_spans(spans, sorted(keys))


@contextmanager
def spans_here(cur, fetched: pa.Table | None) -> Iterator[None]:
    """``fetched`` (``fetch``) as the temporary ``spans`` table of ``cur`` for the duration;
    nothing when the spans are in the file."""
    if fetched is None:
        yield
        return
    with registered(cur, "_golden_spans_in", fetched):
        cur.execute("CREATE OR REPLACE TEMP TABLE spans AS SELECT * FROM _golden_spans_in")
    try:
        yield
    except Exception:
        # a failed statement aborts the transaction, whose rollback drops the table
        with suppress(duckdb.Error):
            cur.execute(f"DROP TABLE IF EXISTS {_TEMP}")
        raise
    cur.execute(f"DROP TABLE IF EXISTS {_TEMP}")

