"""Redeploy and observe: the experiment and canary runs that preceded a release, to show
beside the production before/after comparison of that release (``metrics.compare``).

A release is a model version or a prompt version of an app's production traffic. It was
released at its first production LLM request. A run tested it when a model version that
answered its items is the released model version, or when its target is named after the
released prompt version, is that target version (the content hash), or declares it as
``prompt_version``. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from goldenloop.errors import ExperimentError
from goldenloop.spanstore.base import DUCKDB, DialectSQL, SpanStore
from goldenloop.store import Store
from goldenloop.store.span_filter import SpanFilter
from goldenloop.store.span_filter import where as span_where

BY = ("model_version", "prompt_version")
COLUMNS = ["run_id", "source", "suite", "target_name", "target_version", "dataset", "status",
           "items", "failed", "model_versions", "started_at"]


@dataclass(frozen=True)
class Preceding:
    released_at: datetime | None   # first production request of the version (None: none yet)
    runs: pd.DataFrame             # COLUMNS + one "mean SCORER" column per scorer, newest first
    later: int                     # matching runs started after the release (not listed)


def _released(store: Store, production: SpanFilter, spans: SpanStore | None) -> datetime | None:
    """The first production request of the filter: in the span store (ClickHouse's text
    beside DuckDB's), as a naive UTC time."""
    if spans is None or spans.dialect == DUCKDB:
        where, params = span_where(production)
        return store.scalar(f"SELECT min(s.start_time) FROM spans s WHERE {where}", params)
    from goldenloop.spanstore.clickhouse_filter import where as clickhouse_where

    where, params = clickhouse_where(production)
    got = spans.query(DialectSQL(clickhouse="SELECT minOrNull(s.start_time) AS first "
                                            f"FROM spans AS s FINAL WHERE {where}"), params)
    first = got["first"].iloc[0] if len(got) else None
    if first is None or pd.isna(first):
        return None
    t = pd.Timestamp(first)
    return (t.tz_convert(None) if t.tzinfo else t).to_pydatetime()


def preceding_runs(store: Store, by: str, version: str, app: str | None = None,
                   limit: int = 20, spans: SpanStore | None = None) -> Preceding:
    """The runs that tested ``version`` (``by``: model_version or prompt_version) and started
    before its first production request (of ``app`` when given). ``spans``: where the spans
    live (None: the store's own file)."""
    if by not in BY:
        raise ExperimentError(f"a release is a model_version or a prompt_version, not {by!r}")
    production = SpanFilter(kinds=("llm",), apps=(app,) if app else (), **{f"{by}s": (version,)})
    released = _released(store, production, spans)
    if not store.scalar("SELECT count(*) FROM information_schema.tables "
                        "WHERE table_name = 'experiment_runs'"):
        return Preceding(released, pd.DataFrame(columns=COLUMNS), 0)
    if by == "model_version":
        match = """EXISTS (SELECT 1 FROM experiment_results x
                           WHERE x.run_id = r.run_id AND x.model_version = $v)"""
    else:
        match = """($v IN (r.target_name, r.target_version) OR EXISTS (
                       SELECT 1 FROM experiment_targets t WHERE t.name = r.target_name
                       AND t.version = r.target_version
                       AND json_extract_string(t.definition, '$.prompt_version') = $v))"""
    runs = store.df(f"""
        SELECT r.run_id, r.source, r.suite, r.target_name, r.target_version,
               d.name || '@' || d.version AS dataset, r.status, r.items, r.failed,
               array_to_string(r.model_versions, ', ') AS model_versions, r.started_at,
               $released IS NULL OR r.started_at < $released AS preceded
        FROM experiment_runs r LEFT JOIN experiment_datasets d USING (dataset_id)
        WHERE {match} ORDER BY r.started_at DESC""", {"v": version, "released": released})
    later = int((~runs["preceded"].astype(bool)).sum())
    runs = runs[runs["preceded"].astype(bool)].drop(columns="preceded").head(limit)
    return Preceding(released, _with_means(store, runs), later)


def _with_means(store: Store, runs: pd.DataFrame) -> pd.DataFrame:
    """One ``mean SCORER`` column per scorer of the listed runs."""
    if runs.empty:
        return runs.reset_index(drop=True)
    means = store.df("""SELECT run_id, scorer, avg(value) AS mean FROM experiment_scores
                        WHERE list_contains($ids, run_id) GROUP BY ALL""",
                     {"ids": [int(r) for r in runs["run_id"]]})
    wide = means.pivot(index="run_id", columns="scorer", values="mean").add_prefix("mean ")
    return runs.merge(wide, left_on="run_id", right_index=True, how="left").reset_index(drop=True)
