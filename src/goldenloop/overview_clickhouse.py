"""The span parts of the Home summary (``overview``) in ClickHouse's dialect: totals, apps and
model versions of production traffic, read through ``FINAL`` (a span sent twice counts once).
Frames come back shaped as DuckDB gives them: NULL for no value, times naive UTC."""

from __future__ import annotations

import pandas as pd

from goldenloop.store.span_columns import production_sql

# coalesce(source, '') IN (...) reads the same in both dialects
_PROD = production_sql()


def span_totals_row(spans) -> tuple:
    t = spans.arrow(
        f"""SELECT count(), uniqExact(trace_id), uniqExact(session_id), uniqExact(app),
                   uniqExact(model_version), minOrNull(start_time), maxOrNull(start_time),
                   maxOrNull(ingested_at)
            FROM spans FINAL WHERE {_PROD}""").to_pylist()[0]
    values = list(t.values())
    return (*(int(v) for v in values[:5]), *(_naive(v) for v in values[5:]))


def apps(spans, limit: int) -> pd.DataFrame:
    return _frame(spans.arrow(
        f"""SELECT app, count() AS spans, min(start_time) AS first_seen,
                   max(start_time) AS last_seen
            FROM spans FINAL WHERE {_PROD} GROUP BY app
            ORDER BY spans DESC, app ASC NULLS LAST LIMIT %(limit)s""", {"limit": int(limit)}))


def model_versions(spans, limit: int) -> pd.DataFrame:
    return _frame(spans.arrow(
        f"""SELECT model_version,
                   nullIf(arrayStringConcat(arraySort(groupUniqArray(model)), ', '), '') AS models,
                   count() AS spans, min(start_time) AS first_seen, max(start_time) AS last_seen
            FROM spans FINAL
            WHERE (model IS NOT NULL OR model_version IS NOT NULL) AND {_PROD}
            GROUP BY model_version
            ORDER BY last_seen DESC NULLS LAST, model_version ASC NULLS LAST
            LIMIT %(limit)s""", {"limit": int(limit)}))


def _naive(v):
    return v.replace(tzinfo=None) if v is not None and getattr(v, "tzinfo", None) else v


def _frame(table) -> pd.DataFrame:
    df = table.to_pandas()
    for c in ("first_seen", "last_seen"):
        if isinstance(df[c].dtype, pd.DatetimeTZDtype):
            df[c] = df[c].dt.tz_convert("UTC").dt.tz_localize(None)
    df["spans"] = df["spans"].astype("int64")
    return df
