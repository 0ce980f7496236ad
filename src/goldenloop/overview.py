"""What the store holds, at a glance: the aggregates behind the Home page and ``goldenloop
status``.

It sits above the features: the core tables (spans, grades, imports, jobs) are read here, and
a feature's own tables only through that feature's public functions (``review.records``,
``golden.counts``). Each part is one aggregate query (a single scan of its table), so the
whole summary stays well under a second on a million spans; nothing here loops over rows in
Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from goldenloop.store.span_columns import production_sql
from goldenloop.store.store import Store

if TYPE_CHECKING:  # pandas loads in about half a second: only for frames
    import pandas as pd

GRADE_SOURCES = ("human", "judge", "canary", "imported")
TABLE_LIMIT = 100  # rows of the apps and model-version tables; the totals count them all
RECENT_JOBS = 10


@dataclass(frozen=True)
class SpanTotals:
    spans: int
    traces: int
    sessions: int
    apps: int
    model_versions: int
    first_start: datetime | None
    last_start: datetime | None
    last_ingested: datetime | None


@dataclass(frozen=True)
class ImportTotals:
    imports: int  # entries in the import log (files and in-memory tables)
    committed: int
    failed: int
    running: int
    rows_read: int
    imported: int
    duplicates: int
    quarantined: int
    last_finished: datetime | None


@dataclass(frozen=True)
class StoreSummary:
    totals: SpanTotals
    apps: pd.DataFrame  # app, spans, first_seen, last_seen
    model_versions: pd.DataFrame  # model_version, models, spans, first_seen, last_seen
    grades: pd.DataFrame  # source, grades, criteria, last_graded (one row per known source)
    imports: ImportTotals
    jobs: pd.DataFrame  # the most recent jobs, newest first

    @property
    def is_empty(self) -> bool:
        return self.totals.spans == 0

    @property
    def grades_total(self) -> int:
        return int(self.grades["grades"].sum()) if len(self.grades) else 0


def store_summary(store: Store, spans=None) -> StoreSummary:
    """The summary; spans, apps and versions from the span store ``spans`` (the database file
    itself when None or DuckDB), the rest from the database file."""
    if spans is not None and spans.dialect == "clickhouse":
        from goldenloop import overview_clickhouse as ch

        totals = SpanTotals(*ch.span_totals_row(spans))
        by_app, by_version = ch.apps(spans, TABLE_LIMIT), ch.model_versions(spans, TABLE_LIMIT)
    else:
        totals, by_app, by_version = span_totals(store), apps(store), model_versions(store)
    return StoreSummary(
        totals=totals,
        apps=by_app,
        model_versions=by_version,
        grades=grades_by_source(store),
        imports=import_totals(store),
        jobs=recent_jobs(store),
    )


def span_totals(store: Store) -> SpanTotals:
    """Production traffic: goldenloop's own spans (judge calls, ...) are left out."""
    row = store.rows(
        f"""SELECT count(*), count(DISTINCT trace_id), count(DISTINCT session_id),
                  count(DISTINCT app), count(DISTINCT model_version),
                  min(start_time), max(start_time), max(ingested_at)
           FROM spans WHERE {production_sql()}"""
    )[0]
    return SpanTotals(*(int(v) for v in row[:5]), *row[5:])


def apps(store: Store, limit: int = TABLE_LIMIT) -> pd.DataFrame:
    """Production spans per app (NULL app = spans that did not say), busiest first."""
    return store.df(
        f"""SELECT app, count(*) AS spans, min(start_time) AS first_seen,
                  max(start_time) AS last_seen
           FROM spans WHERE {production_sql()} GROUP BY app ORDER BY spans DESC, app NULLS LAST LIMIT ?""",
        [limit],
    )


def model_versions(store: Store, limit: int = TABLE_LIMIT) -> pd.DataFrame:
    """Spans that name a model, per answering model version, with the model names requested;
    newest first. Agent, retrieval and tool steps usually name no model and are left out."""
    return store.df(
        f"""SELECT model_version, string_agg(DISTINCT model, ', ' ORDER BY model) AS models,
                  count(*) AS spans, min(start_time) AS first_seen, max(start_time) AS last_seen
           FROM spans WHERE (model IS NOT NULL OR model_version IS NOT NULL) AND {production_sql()}
           GROUP BY model_version
           ORDER BY last_seen DESC NULLS LAST, model_version NULLS LAST LIMIT ?""",
        [limit],
    )


def grades_by_source(store: Store) -> pd.DataFrame:
    """Live grades (edited ones count once, undone ones not at all) per source; every known
    source is listed."""
    known = ", ".join(f"('{s}', {i})" for i, s in enumerate(GRADE_SOURCES))
    return store.df(
        f"""WITH counted AS (
                SELECT source, count(*) AS grades, count(DISTINCT criterion) AS criteria,
                       max(created_at) AS last_graded
                FROM live_grades GROUP BY source
            )
            SELECT coalesce(k.source, c.source) AS source, coalesce(c.grades, 0) AS grades,
                   coalesce(c.criteria, 0) AS criteria, c.last_graded
            FROM (VALUES {known}) k(source, ord) FULL JOIN counted c ON c.source = k.source
            ORDER BY coalesce(k.ord, {len(GRADE_SOURCES)}), source"""
    )


def import_totals(store: Store) -> ImportTotals:
    row = store.rows(
        """SELECT count(*),
                  count(*) FILTER (WHERE status = 'committed'),
                  count(*) FILTER (WHERE status = 'failed'),
                  count(*) FILTER (WHERE status = 'running'),
                  coalesce(sum(rows_read), 0), coalesce(sum(imported), 0),
                  coalesce(sum(duplicates), 0), coalesce(sum(quarantined), 0),
                  max(finished_at)
           FROM import_log WHERE format IS DISTINCT FROM 'job'"""
    )[0]
    return ImportTotals(*(int(v) for v in row[:8]), row[8])


def recent_jobs(store: Store, limit: int = RECENT_JOBS) -> pd.DataFrame:
    return store.df(
        """SELECT job_id, kind, status, progress, message, error, created_at, finished_at
           FROM jobs ORDER BY created_at DESC NULLS LAST, job_id DESC LIMIT ?""",
        [limit],
    )


def store_counts(store: Store) -> dict[str, int]:
    """What ``goldenloop status`` lists: production spans, goldenloop's own spans, live grades
    (human, judge, imported, ...), items, review queues, judge versions, golden datasets and
    their versions. One small query per table."""
    from goldenloop import golden  # features load with the CLI and the app, not with this module
    from goldenloop.review import records as review_records

    grades = dict(store.rows("SELECT source, count(*) FROM live_grades GROUP BY source"))
    golden_datasets, golden_versions = golden.counts(store)
    counts = {
        "spans": store.scalar(f"SELECT count(*) FROM spans WHERE {production_sql()}"),
        "goldenloop's own spans": store.scalar(
            f"SELECT count(*) FROM spans WHERE NOT ({production_sql()})"),
        "grades": sum(grades.values()),
        **{f"grades, {k}": v for k, v in sorted(grades.items(), key=lambda kv: str(kv[0]))},
        "items": store.scalar("SELECT count(*) FROM items"),
        "review queues": review_records.queue_count(store),
        "judge versions": store.scalar(
            "SELECT count(DISTINCT coalesce(judge_name, '') || '|' || coalesce(judge_version, '')) "
            "FROM live_grades WHERE judge_name IS NOT NULL OR author_kind = 'judge'"),
        "golden datasets": golden_datasets,
        "golden versions": golden_versions,
    }
    return {k: int(v or 0) for k, v in counts.items()}
