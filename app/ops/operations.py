"""Operations: the store's files, the inbox, the job queue, the disk and the version (leads)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from goldenloop.access import roles
from goldenloop.errors import GoldenloopError
from goldenloop.ops import status as ops_status
from goldenloop_app import state
from goldenloop_app.common import identity

st.title("Operations")
store = state.get_store()
who = identity.current(store)
if who is None or roles.load(store.path.parent).role_of(who) is not roles.Role.LEAD:
    st.info("This page is for leads: roles.yaml beside the database (or the Roles page) names "
            "them.")
    st.stop()


def _mb(n: int | None) -> str:
    return "unknown" if n is None else f"{n / 1e6:,.1f} MB"


paths = state.data_paths()
s = ops_status.operations_status(store, paths)
if s.health == "ok":
    st.success("Healthy: the store accepts writes and the inbox keeps up.")
else:
    st.error("Paused: the store refuses writes." if s.health == "paused" else
             "Degraded: the inbox backs up.")
    st.text("\n".join(s.reasons))

c = st.columns(4)
c[0].metric("Database", _mb(s.db_bytes))
c[1].metric("Write-ahead log", _mb(s.wal_bytes))
c[2].metric("Snapshot age", "none" if s.snapshot_age_s is None else f"{s.snapshot_age_s:,.0f} s")
c[3].metric("Free disk", _mb(s.disk_free_bytes))
c = st.columns(4)
c[0].metric("Inbox waiting", f"{s.inbox.pending:,}")
c[1].metric("Oldest waiting", "none" if s.inbox.oldest_seconds is None
            else f"{s.inbox.oldest_seconds:,.0f} s")
c[2].metric("Jobs queued / running", f"{s.jobs_queued} / {s.jobs_running}")
c[3].metric("goldenloop", s.version)
if not state.serving():
    st.warning("Not running inside `goldenloop serve`: no owner takes inbox files or jobs.")

st.subheader("Failed inbox files")
if not s.inbox.failed:
    st.info("No failed inbox files.")
else:
    reasons = ops_status.failed_reasons(paths, s.inbox.failed)
    st.dataframe(pd.DataFrame({"file": s.inbox.failed, "reason": reasons}), hide_index=True,
                 width="stretch", placeholder="—")
    chosen = st.selectbox("File to retry", s.inbox.failed, key="ops_retry_file")
    if st.button("Retry this file", key="ops_retry"):
        try:
            ops_status.retry_failed(paths, chosen)
        except GoldenloopError as exc:
            st.error("The file could not be put back.")
            st.text(str(exc))
        else:
            st.rerun()
