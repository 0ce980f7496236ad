"""The spans that show an anomaly (the slowest, the failed with their messages, the most
offensive, the longest, as fits the metric), outlier spans in normal times, the chart window
of an anomaly with its baseline band, and a by-hand review queue of an anomaly's examples.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from goldenloop.anomalies import coarse, engine, measures
from goldenloop.anomalies import series_sql as sql
from goldenloop.anomalies import stats as st
from goldenloop.anomalies.catalogue import BY_NAME
from goldenloop.anomalies.records import Anomaly, Finding, get_anomaly
from goldenloop.metrics import OFFENSIVE_THRESHOLD, REQUEST_KIND
from goldenloop.spanstore.base import DUCKDB, SpanStore
from goldenloop.store import Store
from goldenloop.store.span_columns import JUDGE_APP
from goldenloop.store.span_filter import SpanFilter
from goldenloop.store.span_filter import where as span_where

EXAMPLES = 20
# metric: (extra join, condition, order, why) — which spans show a change of that metric.
_UP: dict[str, tuple[str, str, str, str]] = {
    "latency": ("", "TRUE", "s.latency_ms DESC", "among the slowest"),
    "ttft_p95": ("", "s.ttft_ms IS NOT NULL", "s.ttft_ms DESC", "slowest first token"),
    "error_rate": ("", "s.status = 'error'", "s.start_time", "failed with an error"),
    "timeout_rate": ("", "s.status = 'timeout'", "s.start_time", "timed out"),
    "empty_rate": ("", "s.status = 'empty'", "s.start_time", "empty answer"),
    "input_tokens": ("", "s.status = 'ok'", "s.input_tokens DESC", "longest input"),
    "output_tokens": ("", "s.status = 'ok'", "s.output_tokens DESC", "longest answer"),
    "cost_usd": ("", "s.cost_usd IS NOT NULL", "s.cost_usd DESC", "most expensive"),
    "user_offensive_rate": ("JOIN signals g ON g.span_key = s.span_key",
                            f"g.user_offensive >= {OFFENSIVE_THRESHOLD}",
                            "g.user_offensive DESC", "offensive user message"),
    "output_offensive_rate": ("JOIN signals g ON g.span_key = s.span_key",
                              f"g.output_offensive >= {OFFENSIVE_THRESHOLD}",
                              "g.output_offensive DESC", "offensive answer"),
    "refusal_rate": ("JOIN signals g ON g.span_key = s.span_key", "g.refusal",
                     "s.start_time", "refusal"),
    "user_sentiment": ("JOIN signals g ON g.span_key = s.span_key",
                       "g.user_sentiment IS NOT NULL", "g.user_sentiment", "most negative user"),
    "output_sentiment": ("JOIN signals g ON g.span_key = s.span_key",
                         "g.output_sentiment IS NOT NULL", "g.output_sentiment",
                         "most negative answer"),
    "negative_feedback_rate": (
        "JOIN feedback f ON f.span_key = s.span_key AND f.kind = 'thumbs' AND f.value <= 0",
        "TRUE", "s.start_time", "thumbs down"),
    "correctness": ("JOIN (SELECT span_key, avg(value_number) AS v FROM live_grades "
                    "WHERE criterion = 'correctness' AND value_number IS NOT NULL "
                    "GROUP BY span_key) gr ON gr.span_key = s.span_key",
                    "TRUE", "gr.v", "lowest graded"),
    "dropoff_rate": ("", "s.status <> 'ok'", "s.start_time", "failed turn"),
    "turns_per_session": ("", "TRUE", "hash(s.span_key)", "a turn in the window"),
    "requests": ("", "TRUE", "hash(s.span_key)", "a request in the window"),
    "tool_error_rate": ("", "s.status <> 'ok'", "s.start_time", "failed tool call"),
    "tool_latency_p95": ("", "TRUE", "s.latency_ms DESC", "slowest tool call"),
    # Canary anomalies carry their examples (anomalies.canary): none are searched for here.
    "canary_score": ("", "FALSE", "s.start_time", "a canary item that regressed"),
}
_DOWN = {"output_tokens": ("", "s.status = 'ok'", "s.output_tokens", "shortest answer"),
         "input_tokens": ("", "s.status = 'ok'", "s.input_tokens", "shortest input")}
COLUMNS = ["span_key", "trace_id", "span_id", "start_time", "app", "model_version",
           "prompt_version", "name", "status", "latency_ms", "output_tokens", "error_type",
           "error_message", "last_user_message", "output"]


def _rule(metric: str, direction: str) -> tuple[str, str, str, str]:
    if direction == "down" and metric in _DOWN:
        return _DOWN[metric]
    return _UP["latency" if metric.startswith("latency_") else metric]


def _series_where(app: str, dimension: str | None, value: str | None, metric: str,
                  start: datetime, end: datetime) -> tuple[str, dict[str, Any]]:
    """The spans of the anomaly's series in its window, on alias ``s``: the one span filter
    (production spans of the app and kind, the version when the series is one) and what the
    filter has no field for (a component's span name, an error kind)."""
    kinds = sql.TOOL_KINDS if metric.startswith("tool_") else (REQUEST_KIND,)
    version = {dimension: (value,)} if dimension in ("model_version", "prompt_version") else {}
    f = SpanFilter(start=start, end=end, apps=(app,), kinds=kinds,
                   **{f"{k}s": v for k, v in version.items()})
    where, params = span_where(f)
    parts = [where, f"s.app <> '{JUDGE_APP}'"]
    if dimension == "component":
        parts.append("s.name = $component")
        params["component"] = value
    elif dimension == "error_type":
        parts.append("coalesce(s.error_type, s.status) = $error_kind")
        params["error_kind"] = value
    return " AND ".join(parts), params


def find_examples(store: Store, metric: str, app: str, dimension: str | None,
                  value: str | None, kind: str, direction: str, start: datetime,
                  end: datetime, limit: int = EXAMPLES, spans: SpanStore | None = None
                  ) -> list[int]:
    """Keys of the spans that best show the change, most telling first. ``spans``: where
    the spans live (None: the store's own file)."""
    if spans is not None and spans.dialect != DUCKDB:
        from goldenloop.anomalies import examples_clickhouse

        return examples_clickhouse.find_examples(store, spans, _rule(metric, direction), app,
                                                 dimension, value, metric, kind, start, end,
                                                 limit)
    join, cond, order, _ = _rule(metric, direction)
    where, params = _series_where(app, dimension, value, metric, start, end)
    if dimension == "component" and kind == "new_failure":
        cond = "s.status <> 'ok'"
    rows = store.rows(
        f"""SELECT s.span_key FROM spans s {join}
            WHERE {where} AND {cond}
            ORDER BY {order} LIMIT {int(limit)}""",
        params)
    return list(dict.fromkeys(int(r[0]) for r in rows))


def attach_examples(store: Store, found: list[Finding], spans: SpanStore | None = None) -> None:
    for f in found:
        if not f.example_span_keys:
            f.example_span_keys = find_examples(store, f.metric, f.app, f.dimension, f.value,
                                                f.kind, f.direction, f.window_start,
                                                f.window_end, spans=spans)


def example_spans(store: Store, anomaly: Anomaly | int, limit: int = EXAMPLES,
                  spans: SpanStore | None = None) -> pd.DataFrame:
    """The anomaly's example spans (``COLUMNS`` and ``why``: what makes it an example)."""
    a = anomaly if isinstance(anomaly, Anomaly) else get_anomaly(store, anomaly)
    keys = a.example_span_keys[:limit] or find_examples(
        store, a.metric, a.app, a.dimension, a.value, a.kind, a.direction, a.window_start,
        a.window_end, limit, spans)
    if spans is not None and spans.dialect != DUCKDB:
        from goldenloop.spanstore.keyed import local_spans

        df = local_spans(spans, keys, COLUMNS).to_pandas()
    else:
        df = store.df(f"SELECT {', '.join('s.' + c for c in COLUMNS)} FROM spans s "
                      "WHERE list_contains(?, s.span_key)", [keys])
    order = {k: i for i, k in enumerate(keys)}
    df = df.sort_values("span_key", key=lambda s: s.map(order)).reset_index(drop=True)
    why = "new failure kind" if a.kind == "new_failure" else _rule(a.metric, a.direction)[3]
    df["why"] = why
    return df


def outlier_spans(store: Store, f: SpanFilter, limit: int = 50,
                  spans: SpanStore | None = None) -> pd.DataFrame:
    """LLM spans with extreme latency or output tokens for their app and model version in
    the filter's range, outside the app's detected spikes and dips (robust z of the log
    value, at least 4): material for sampling and labelling, not anomaly records.
    ``spans``: where the spans live (None: the store's own file)."""
    if spans is not None and spans.dialect != DUCKDB:
        from goldenloop.anomalies import examples_clickhouse

        return examples_clickhouse.outlier_spans(store, spans, f, COLUMNS, limit)
    where, params = span_where(replace(f, kinds=(REQUEST_KIND,)))
    return store.df(
        f"""WITH f AS (
                SELECT s.* FROM spans s
                WHERE {sql.production()} AND {where}
                  AND NOT EXISTS (  -- normal times: outside the app's spikes and dips
                      SELECT 1 FROM anomalies a
                      WHERE a.app = s.app AND a.kind IN ('spike', 'dip')
                        AND s.start_time >= a.window_start AND s.start_time < a.window_end)
            ), lv AS (
                SELECT span_key, app, model_version, 'latency_ms' AS measure,
                       ln(greatest(latency_ms, 1)) AS x FROM f WHERE latency_ms IS NOT NULL
                UNION ALL
                SELECT span_key, app, model_version, 'output_tokens', ln(greatest(output_tokens, 1))
                FROM f WHERE output_tokens IS NOT NULL AND status = 'ok'
            ), z AS (
                SELECT span_key, measure,
                       (x - median(x) OVER w) / nullif(1.4826 * mad(x) OVER w, 0) AS z
                FROM lv WINDOW w AS (PARTITION BY app, model_version, measure)
            ), best AS (
                SELECT span_key, arg_max(measure, abs(z)) AS measure, max(abs(z)) AS z
                FROM z WHERE abs(z) >= 4 GROUP BY span_key
            )
            SELECT {', '.join('f.' + c for c in COLUMNS)}, b.measure, round(b.z, 1) AS robust_z,
                   'extreme ' || replace(b.measure, '_', ' ') || ' for its version' AS why
            FROM best b JOIN f ON f.span_key = b.span_key
            ORDER BY b.z DESC LIMIT {int(limit)}""",
        params)


WINDOW_COLUMNS = ["time", "observed", "baseline", "low", "high", "n"]
# Days read after the shown window: a level change near it is judged as detection judged it,
# with up to a week of the new level (``stats.REF_DAYS``).
AFTER = timedelta(days=st.REF_DAYS)


def window_series(store: Store, anomaly: Anomaly | int, *, pad: timedelta | None = None,
                  spans: SpanStore | None = None) -> pd.DataFrame:
    """The anomaly's series around its window: time, observed, baseline, low, high, n (the
    baseline band as detection drew it), with ``pad`` of context on each side (default: the
    window's length, at least a day). For a shift the band follows the level in force (after
    the shift, the new one); the record's baseline and observed are the levels before and
    after. Empty when the series has no values to draw (a new version's volume is not a
    series of its own). ``spans``: where the spans live (None: the store's own file)."""
    a = anomaly if isinstance(anomaly, Anomaly) else get_anomaly(store, anomaly)
    m = BY_NAME.get(a.metric)
    if m is not None and m.source == "canaries":  # one point per run, not per hour
        from goldenloop.anomalies import canary

        return canary.window_series(store, a, pad)
    if m is None:
        return pd.DataFrame(columns=WINDOW_COLUMNS)
    pad = pad or max(a.window_end - a.window_start, timedelta(days=1))
    daily = m.source == "grades" or a.details.get("bucket") == "day"
    width = sql.DAY_US if daily else sql.HOUR_US
    lo_t, hi_t = a.window_start - pad, a.window_end + pad
    start = lo_t - timedelta(days=st.LOOKBACK_DAYS + 1)
    first, last = sql.to_bucket(start, width), sql.to_bucket(hi_t + AFTER, width) + 1
    frame = _frame(store, m.source, start, sql.bucket_start(last, width), a.app, spans)
    if daily and m.source != "grades":  # a quiet series tested by the day: drawn by the day
        frame = coarse.daily(frame)
    split = a.dimension in ("model_version", "prompt_version", "component")
    key = (a.app, a.dimension if split else None, a.value if split else None)
    frame = frame[(frame["dimension"].fillna("") == (key[1] or ""))
                  & (frame["value"].fillna("") == (key[2] or ""))]
    mats = measures.build(frame, [m], first, last - first, width)
    if not mats or key not in mats[0].keys:
        return pd.DataFrame(columns=WINDOW_COLUMNS)
    mx = mats[0]
    idx = (st.daily_reference_index(last - first) if daily
           else st.reference_index(first % (7 * 24), last - first))
    t = engine.test_metric(mx, 0, last - first, idx, 1.0 if daily else 1 / 24)
    row = mx.keys.index(key)
    base, band = t.base[row], t.band[row]
    out = pd.DataFrame({
        "time": [sql.bucket_start(first + i, width) for i in range(last - first)],
        "observed": mx.raw[row], "baseline": measures.to_natural(m, base),
        "low": measures.to_natural(m, base - band), "high": measures.to_natural(m, base + band),
        "n": mx.n[row]})
    return out[(out["time"] >= lo_t) & (out["time"] < hi_t)].reset_index(drop=True)


def _frame(store: Store, source: str, start: datetime, end: datetime, app: str,
           spans: SpanStore | None = None) -> pd.DataFrame:
    if source == "sessions":
        return sql.session_buckets(store, start, end, settled=end, app=app, spans=spans)
    fn = {"tools": sql.tool_buckets, "grades": sql.grade_buckets}.get(source,
                                                                     sql.request_buckets)
    return fn(store, start, end, app=app, spans=spans)


def examples_to_queue(store: Store, anomaly_id: int, *, by: str, name: str | None = None) -> int:
    """A by-hand review queue of the anomaly's example spans. It is marked as not a
    probability sample: its grades describe these spans, not all traffic."""
    from goldenloop.sampling import QueueOptions, create_hand_queue

    a = get_anomaly(store, anomaly_id)
    keys = a.example_span_keys or find_examples(
        store, a.metric, a.app, a.dimension, a.value, a.kind, a.direction, a.window_start,
        a.window_end)
    if not keys:
        from goldenloop.errors import AnomalyError
        raise AnomalyError(f"anomaly {anomaly_id} has no example spans to review")
    opts = QueueOptions(
        name=name or f"Anomaly {a.anomaly_id}: {a.metric} {a.kind}, {a.app}",
        created_by=by,
        description=f"Examples of anomaly {a.anomaly_id} (chosen by hand, not a probability "
                    f"sample): {a.description}")
    return create_hand_queue(store, opts, span_keys=keys).queue_id
