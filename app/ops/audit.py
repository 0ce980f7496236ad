"""Audit: who wrote what, when, to which objects, from which interface (leads only)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from goldenloop.access import roles
from goldenloop.store import audit
from goldenloop_app import state
from goldenloop_app.common import identity

st.title("Audit log")
store = state.get_store()
who = identity.current(store)
if who is None or roles.load(store.path.parent).role_of(who) is not roles.Role.LEAD:
    st.info("The audit log is for leads: roles.yaml beside the database (or the Roles page) "
            "names them.")
    st.stop()

st.caption("Every write goldenloop records: grades, imports, queues, golden versions, judge "
           "runs, backups and erasures. Erasures name the end user by a hash, never by the id.")
today = datetime.now(UTC).date()
c1, c2, c3, c4 = st.columns(4)
since = c1.date_input("From (UTC)", value=today - timedelta(days=7), max_value=today)
actor = c2.text_input("Actor", placeholder="any")
action = c3.text_input("Action starts with", placeholder="e.g. golden, grade, forget")
interface = c4.selectbox("Interface", ["any", *audit.INTERFACES])

df = audit.entries(store, since=datetime.combine(since, time()), actor=actor.strip() or None,
                   action=action.strip() or None,
                   interface=None if interface == "any" else interface, limit=5000)
if df.empty:
    st.info("No audit entries match these filters.")
else:
    st.dataframe(df, hide_index=True, width="stretch", column_config={
        "audit_id": "Entry", "logged_at": st.column_config.DatetimeColumn("When (UTC)"),
        "actor": "Who", "action": "What", "target": "Object", "interface": "From",
        "details": "Details"}, placeholder="—")
    if len(df) == 5000:
        st.caption("The newest 5,000 entries are shown: narrow the filters, or export with "
                   "`goldenloop audit --since ... --json`.")
