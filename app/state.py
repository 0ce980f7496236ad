"""The app's one caching module: the store connection, short-lived caches of aggregates, and
the pages registered in the navigation.

Pages get the store and cached aggregates from here and cache nothing themselves. Only
aggregates are cached: a cache hit unpickles its value, cheap for a few hundred rows and
seconds for raw spans with texts.
"""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from goldenloop import server
from goldenloop.config import resolve_paths
from goldenloop.store import Store
from goldenloop.store import summary as summary_sql

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
    return Store(path)


def store_summary(store: Store) -> summary_sql.StoreSummary:
    """The Home page's aggregates, cached briefly per database file.

    An empty store's summary is not kept: the page tells the user to import and reload,
    and the reload must then show the new spans.
    """
    summary = _store_summary(store, str(store.path))
    if summary.is_empty:
        _store_summary.clear(store, str(store.path))
    return summary


@st.cache_data(ttl=AGGREGATE_TTL_S, show_spinner=False)
def _store_summary(_store: Store, db: str) -> summary_sql.StoreSummary:
    # ``_store`` is not hashed (leading underscore); ``db`` keys the cache.
    return summary_sql.store_summary(_store)


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
