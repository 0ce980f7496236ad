"""The app's one caching module: the store connection, the span store, short-lived caches of
aggregates, and the pages registered in the navigation.

Pages get the store and cached aggregates from here and cache nothing themselves. Only
aggregates are cached: a cache hit unpickles its value, cheap for a few hundred rows and
seconds for raw spans with texts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from goldenloop import anomalies, metrics, server, spanstore
from goldenloop import overview as summary_sql
from goldenloop.config import resolve_paths
from goldenloop.schema import open_store
from goldenloop.spanstore import SpanStore
from goldenloop.store import Store
from goldenloop_app.monitor import charts as monitor_charts

T = TypeVar("T")
AGGREGATE_TTL_S = 30  # short: a reload shows new imports within half a minute
_PAGES_KEY = "_goldenloop_pages"


def get_store() -> Store:
    """The store of this process.

    Inside `goldenloop serve` the app uses the owner's connection: DuckDB refuses a second
    connection to the same file with another configuration in one process. Run on its own
    (`streamlit run`), the app opens the database itself, once per process.
    """
    owned = server.owned_store()
    if owned is not None:
        return owned
    return _open_store(str(resolve_paths().db))


@st.cache_resource(show_spinner=False, on_release=lambda store: store.close())
def _open_store(path: str) -> Store:
    return open_store(path)


def span_store() -> SpanStore:
    """Where this process's spans, signals and feedback live, for the ``*_in(spans, ...)``
    readers.

    Inside `goldenloop serve` it is the one the server opened (``--spans``, else
    ``GOLDENLOOP_SPANS``, else the database file itself). Run on its own, the app opens the
    span store that ``GOLDENLOOP_SPANS`` names (DuckDB, the default, wraps ``get_store()``),
    once per process: embedded ClickHouse allows one engine per folder and process.
    """
    owned = server.owned_span_store()
    if owned is not None:
        return owned
    cfg = spanstore.parse(None)  # a bad URL raises SpanStoreError: the page shows it
    store = get_store()
    return _open_span_store(cfg.describe(), str(store.path), store)


@st.cache_resource(show_spinner=False, on_release=lambda spans: spans.close())
def _open_span_store(where: str, db: str, _store: Store) -> SpanStore:
    # ``where`` (the URL without secrets) and ``db`` key the resource; the URL is read again
    # here, as the description leaves out what only the environment holds
    return spanstore.open_span_store(None, _store)


def span_aggregate(spans: SpanStore, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(spans, *args, **kwargs)``, cached briefly per span store: ``aggregate`` for the
    ``*_in(spans, ...)`` readers, which run on DuckDB or ClickHouse alike. Arguments must be
    hashable by Streamlit (numbers, strings, tuples, frozen dataclasses)."""
    key = f"{fn.__module__}.{fn.__qualname__}"
    return _span_aggregate(spans, spans.describe(), key, fn, args, tuple(sorted(kwargs.items())))


@st.cache_data(ttl=AGGREGATE_TTL_S, show_spinner=False)
def _span_aggregate(_spans: SpanStore, where: str, key: str, _fn: Callable[..., Any], args: tuple,
                    kwargs: tuple) -> Any:
    # ``where`` keys the span store (its description), ``key`` the function
    return _fn(_spans, *args, **dict(kwargs))


def store_summary(store: Store) -> summary_sql.StoreSummary:
    """The Home page's aggregates, cached briefly per database file and span store.

    An empty store's summary is not kept: the page tells the user to import and reload,
    and the reload must then show the new spans.
    """
    spans = span_store()
    summary = _store_summary(store, str(store.path), spans, spans.describe())
    if summary.is_empty:
        _store_summary.clear(store, str(store.path), spans, spans.describe())
    return summary


@st.cache_data(ttl=AGGREGATE_TTL_S, show_spinner=False)
def _store_summary(_store: Store, db: str, _spans: SpanStore, where: str
                   ) -> summary_sql.StoreSummary:
    # ``_store`` and ``_spans`` are not hashed (leading underscore); ``db`` and ``where`` key
    # the cache. Spans, apps and versions come from the span store.
    return summary_sql.store_summary(_store, _spans)


def remember_pages(pages: Iterable[st.Page]) -> None:
    """Record the navigation's pages (called by the entry script on every run)."""
    st.session_state[_PAGES_KEY] = list(pages)


def navigation_pages() -> list[st.Page]:
    """The pages in the navigation, in menu order, so a page can link to the others."""
    return list(st.session_state.get(_PAGES_KEY, []))


def serving() -> bool:
    """True inside `goldenloop serve`, where workers run queued jobs."""
    return server.owned_store() is not None


def data_paths():
    return server.owned_paths() or resolve_paths().ensure()


def aggregate(store: Store, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(store, *args, **kwargs)``, cached briefly per database file.

    For any library function whose result is an aggregate (a few thousand rows at most): pages
    call it through here instead of adding a cached wrapper of their own. Arguments must be
    hashable by Streamlit (numbers, strings, tuples, frozen dataclasses).
    """
    key = f"{fn.__module__}.{fn.__qualname__}"
    return _aggregate(store, str(store.path), key, fn, args, tuple(sorted(kwargs.items())))


@st.cache_data(ttl=AGGREGATE_TTL_S, show_spinner=False)
def _aggregate(_store: Store, db: str, key: str, _fn: Callable[..., Any], args: tuple,
               kwargs: tuple) -> Any:
    # ``key`` names the function (``_fn`` itself is not hashed); ``db`` keys the database.
    return _fn(_store, *args, **dict(kwargs))


# -- Monitor ---------------------------------------------------------------------------------
# Buckets per line: a half-width chart is about 450 pixels wide, and the browser's time to
# draw the page grows with the points: 150 keeps the warm Monitor page under 1.5 s at 1M spans
# (30 days: 6-hour buckets; 7 days: 2 hours; 24 hours: 15 minutes). 300 took 2.0 s
# (benchmarks/bench_monitor_page.py).
MONITOR_BUCKETS = 150
# Each value is an aggregate of a few thousand rows at most (bucket widths cap the points), so
# a cache hit costs milliseconds. The filter object is frozen and made of tuples: a cache key.


def monitor_dimensions(store: Store) -> metrics.Dimensions:
    """The values each Monitor filter offers, and the first and last request, from the span
    store (``span_store``). Not kept while it has no requests, so the page shows new ones on
    the next reload."""
    spans = span_store()
    dims = _monitor_dimensions(spans, spans.describe())
    if dims.empty:
        _monitor_dimensions.clear(spans, spans.describe())
    return dims


@st.cache_data(ttl=AGGREGATE_TTL_S, show_spinner=False)
def _monitor_dimensions(_spans: SpanStore, where: str) -> metrics.Dimensions:
    return metrics.dimensions_in(_spans)


@st.cache_data(ttl=AGGREGATE_TTL_S, show_spinner="Aggregating requests…")
def _monitor_overview(_store: Store, db: str, _spans: SpanStore, where: str,
                      f: metrics.SpanFilter, split: str | None) -> metrics.Overview:
    return metrics.overview_in(_spans, _store, f, split, max_buckets=MONITOR_BUCKETS)


def monitor_overview(store: Store, f: metrics.SpanFilter, split: str | None) -> metrics.Overview:
    """Every series of the Monitor page for one filter and split (see ``metrics.overview_in``):
    spans from the span store, grades and judges from the workflow ``store``."""
    spans = span_store()
    return _monitor_overview(store, str(store.path), spans, spans.describe(), f, split)


@st.cache_data(ttl=AGGREGATE_TTL_S, show_spinner=False)
def _monitor_chart(_store: Store, db: str, _spans: SpanStore, where: str, f: metrics.SpanFilter,
                   split: str | None, name: str, choice: str | None) -> dict:
    # Building a chart and turning it into Vega-Lite costs tens of milliseconds, more than
    # the aggregate itself once cached: keep the finished spec (its data is the aggregate).
    view = _monitor_overview(_store, db, _spans, where, f, split)
    return monitor_charts.build(view, name, choice, _monitor_detected(_store, db, f)).vega_spec()


def monitor_detected(store: Store, f: metrics.SpanFilter) -> pd.DataFrame:
    """The detected anomalies the Monitor draws for filter ``f``: windows that meet its range,
    of its apps, for the whole app or one of its chosen model versions."""
    return _monitor_detected(store, str(store.path), f)


@st.cache_data(ttl=AGGREGATE_TTL_S, show_spinner=False)
def _monitor_detected(_store: Store, db: str, f: metrics.SpanFilter) -> pd.DataFrame:
    df = anomalies.list_anomalies(_store, apps=f.apps, since=f.start, limit=2000)
    if f.end is not None:
        df = df[df["window_start"] < f.end]
    if f.model_versions:
        df = df[df["dimension"].isna() | ((df["dimension"] == "model_version")
                                          & df["value"].isin(f.model_versions))]
    return df.reset_index(drop=True)


def monitor_chart(store: Store, f: metrics.SpanFilter, split: str | None, name: str,
                  choice: str | None = None) -> dict:
    """The Vega-Lite spec, data included, of one Monitor chart (``monitor.charts.CHARTS``)."""
    spans = span_store()
    return _monitor_chart(store, str(store.path), spans, spans.describe(), f, split, name, choice)


# -- Anomalies -------------------------------------------------------------------------------
# An anomaly's chart window and example spans change when detection updates the anomaly (its
# ``last_detected_at``, part of the key) or, slowly, as hours after it fill in: kept longer
# than other aggregates (computing a window reads weeks of baseline: seconds at 1M spans).
ANOMALY_TTL_S = 900


def anomaly_window(store: Store, a) -> pd.DataFrame:
    """``anomalies.window_series`` of anomaly ``a``, cached per detection of it."""
    spans = span_store()
    return _anomaly_part(store, spans, spans.describe(), "window", a.anomaly_id,
                         a.last_detected_at)


def anomaly_examples(store: Store, a) -> pd.DataFrame:
    """``anomalies.example_spans`` of anomaly ``a``, cached per detection of it."""
    spans = span_store()
    return _anomaly_part(store, spans, spans.describe(), "examples", a.anomaly_id,
                         a.last_detected_at)


@st.cache_data(ttl=ANOMALY_TTL_S, show_spinner="Reading the anomaly's window…")
def _anomaly_part(_store: Store, _spans: SpanStore, where: str, part: str, anomaly_id: int,
                  detected_at) -> pd.DataFrame:
    # ``where`` keys the span store (its description); the spans are read where they live
    fn = anomalies.window_series if part == "window" else anomalies.example_spans
    return fn(_store, anomaly_id, spans=_spans)
