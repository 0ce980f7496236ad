"""Live ground truth: production requests whose input matches a test set item are scored
against that item's expected output, so correctness can be charted by model version on real
traffic, not only on runs.

Matching is normalised exact match of the request's last user message with the item's input
(lower case, punctuation and the articles a/an/the removed, whitespace collapsed: the same
SQL expression on both sides, so both are normalised alike). Only production spans count
(goldenloop's own traffic is left out), only answered ones (``status = 'ok'``), and never the
span a golden item was made from (its answer is the expected output itself). Scores are
computed when asked, over the spans present then, so new traffic is included as it arrives.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pyarrow as pa

from goldenloop.experiments import scoring
from goldenloop.spanstore.base import DUCKDB, DialectSQL, SpanStore
from goldenloop.store import Store
from goldenloop.store.span_filter import SpanFilter
from goldenloop.store.span_filter import where as span_where

LIVE_SCORERS = ("exact", "normalized", "contains", "token_f1", "rouge_l")
MAX_SPANS = 20_000


def live_scorers() -> tuple[str, ...]:
    """The lexical scorers, and semantic similarity when the embeddings extra is installed."""
    from goldenloop.experiments import embeddings

    return LIVE_SCORERS + ((embeddings.NAME,) if embeddings.available() else ())


def _norm(expr: str) -> str:
    text = f"lower(coalesce({expr}, ''))"
    text = rf"regexp_replace({text}, '[^\w\s]', '', 'g')"
    text = rf"regexp_replace({text}, '\b(a|an|the)\b', ' ', 'g')"
    return rf"trim(regexp_replace({text}, '\s+', ' ', 'g'))"


def _norm_clickhouse(expr: str) -> str:
    """``_norm`` in ClickHouse (RE2 as in DuckDB; its string literals take a backslash as an
    escape, hence the doubled ones). Both read word characters and word boundaries as
    ASCII only, so a non-ASCII letter is removed alike on both."""
    text = f"lowerUTF8(ifNull({expr}, ''))"
    text = rf"replaceRegexpAll({text}, '[^\\w\\s]', '')"
    text = rf"replaceRegexpAll({text}, '\\b(a|an|the)\\b', ' ')"
    return rf"trimBoth(replaceRegexpAll({text}, '\\s+', ' '))"


_COLUMNS = ["span_key", "trace_id", "span_id", "start_time", "app", "model_version", "output",
            "item_key", "expected"]


def _matches_clickhouse(spans: SpanStore, items: list[dict], since: datetime | None,
                        limit: int) -> pd.DataFrame:
    """``matches`` with the spans in ClickHouse: the items go along as arrays."""
    from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where

    items = [i for i in items if i.get("expected") is not None]
    if not items:
        return pd.DataFrame(columns=_COLUMNS)
    where, params = clickhouse_where(SpanFilter(start=since, statuses=("ok",)))
    params |= {"keys": [str(i["item_key"]) for i in items],
               "expected": [str(i["expected"]) for i in items],
               "inputs": [i["input"] or "" for i in items],
               # -1 for no span: span keys are positive on both stores
               "item_spans": [-1 if i.get("span_key") is None else int(i["span_key"])
                              for i in items]}
    got = spans.query(DialectSQL(clickhouse=f"""
        WITH items AS (SELECT it.1 AS item_key, it.2 AS expected, it.3 AS item_span,
                              {_norm_clickhouse('it.4')} AS k
                       FROM (SELECT arrayJoin(arrayZip(%(keys)s, %(expected)s, %(item_spans)s,
                                                       %(inputs)s)) AS it))
        SELECT s.span_key AS span_key, s.trace_id AS trace_id, s.span_id AS span_id,
               s.start_time AS start_time, s.app AS app,
               coalesce(s.model_version, s.model, '(unknown)') AS model_version,
               s.output AS output, i.item_key AS item_key, i.expected AS expected
        FROM (SELECT *, {_norm_clickhouse('s.last_user_message')} AS k FROM spans AS s FINAL
              WHERE {where} AND s.output IS NOT NULL) AS s
        JOIN items AS i ON s.k = i.k
        WHERE s.span_key <> i.item_span AND i.k <> ''
        ORDER BY s.start_time DESC LIMIT {int(limit)}"""), params)
    if not len(got):
        return pd.DataFrame(columns=_COLUMNS)
    got["start_time"] = pd.to_datetime(got["start_time"]).dt.tz_localize(None)
    return got


def matches(store: Store, items: list[dict], since: datetime | None = None,
            limit: int = MAX_SPANS, spans: SpanStore | None = None) -> pd.DataFrame:
    """Production spans whose input matches one of ``items`` (``datasets.read_items``): span,
    time, model version, output, item key and expected output (newest first, at most
    ``limit``). ``spans``: where the spans live (None: the store's own file)."""
    if spans is not None and spans.dialect != DUCKDB:
        return _matches_clickhouse(spans, items, since, limit)
    table = pa.Table.from_pylist(
        [{"item_key": i["item_key"], "input": i["input"], "expected": i["expected"],
          "span_key": i.get("span_key")} for i in items if i.get("expected") is not None],
        schema=pa.schema([("item_key", pa.string()), ("input", pa.string()),
                          ("expected", pa.string()), ("span_key", pa.int64())]))
    # Answered production spans (since ``since``): the one span filter.
    where, params = span_where(SpanFilter(start=since, statuses=("ok",)))
    cur = store.cursor()
    cur.register("_live_items", table)
    try:
        return cur.execute(f"""
            WITH items AS (SELECT item_key, expected, span_key AS item_span, {_norm('input')} AS k
                           FROM _live_items)
            SELECT s.span_key, s.trace_id, s.span_id, s.start_time, s.app,
                   coalesce(s.model_version, s.model, '(unknown)') AS model_version,
                   s.output, i.item_key, i.expected
            FROM spans s JOIN items i ON {_norm('s.last_user_message')} = i.k
            WHERE {where} AND s.output IS NOT NULL
              AND s.span_key IS DISTINCT FROM i.item_span AND i.k <> ''
            ORDER BY s.start_time DESC LIMIT {int(limit)}""", params).df()
    finally:
        cur.unregister("_live_items")


def scores(store: Store, items: list[dict], scorer_names=None,
           since: datetime | None = None, spans: SpanStore | None = None) -> pd.DataFrame:
    """One row per matched span and scorer (``live_scorers()`` unless named): value and pass."""
    found = matches(store, items, since, spans=spans)
    chosen = [scoring.get(n) for n in (scorer_names or live_scorers())]
    rows = []
    for r in found.itertuples():
        for s in chosen:
            sc = s.score(r.output, r.expected, {})
            rows.append({"span_key": r.span_key, "start_time": r.start_time, "app": r.app,
                         "model_version": r.model_version, "item_key": r.item_key,
                         "scorer": s.name, "value": sc.value, "passed": sc.passed})
    return pd.DataFrame(rows, columns=["span_key", "start_time", "app", "model_version",
                                       "item_key", "scorer", "value", "passed"])


def by_model_version(store: Store, items: list[dict], scorer_names=None,
                     since: datetime | None = None, freq: str = "D",
                     spans: SpanStore | None = None) -> pd.DataFrame:
    """Mean score and pass rate per day (``freq``), model version and scorer."""
    df = scores(store, items, scorer_names, since, spans)
    if df.empty:
        return pd.DataFrame(columns=["period", "model_version", "scorer", "spans", "mean",
                                     "pass_rate"])
    df = df.assign(period=df["start_time"].dt.floor(freq), passed=df["passed"].astype(float))
    return (df.groupby(["period", "model_version", "scorer"], as_index=False)
            .agg(spans=("span_key", "nunique"), mean=("value", "mean"),
                 pass_rate=("passed", "mean")))


def for_ref(store: Store, ref: str, since: datetime | None = None,
            spans: SpanStore | None = None) -> pd.DataFrame:
    """``by_model_version`` of test set ``NAME[@VERSION]`` (read only: a snapshot will do)."""
    from goldenloop.experiments.datasets import read_items

    return by_model_version(store, read_items(store, ref)[1], since=since, spans=spans)
