"""Jobs: every long piece of work the server runs, with progress, errors and cancel."""

from __future__ import annotations

import streamlit as st

from goldenloop_app import state
from goldenloop_app.common import widgets

st.title("Jobs")
st.caption("Imports, signal scoring, demo generation and snapshots run as jobs in the server process; their "
           "progress is kept in the store, so it survives a page reload.")

store = state.get_store()
if not state.serving():
    st.warning("This app is not running inside `goldenloop serve`, so no worker runs queued "
               "jobs. Start the app with `goldenloop serve`.")

widgets.draw_active_jobs(store, kind=None, allow_cancel=True)

st.subheader("Recent jobs")
widgets.table_or_empty(widgets.recent_jobs(store), widgets.JOB_COLUMNS, "No jobs yet.")
