"""Roles: leads see who leads and who may grade, change it (roles.yaml is rewritten by the
library, which checks the role and audits the change), and see the recent role changes.

Names come from people: they reach the page in dataframes, text areas and plain text only.
"""

from __future__ import annotations

import streamlit as st

from goldenloop.access import roles
from goldenloop.errors import GoldenloopError
from goldenloop.store import audit
from goldenloop_app import state
from goldenloop_app.common import identity
from goldenloop_app.untrusted import visible

st.title("Roles")
store = state.get_store()
who = identity.current(store)
current = roles.load(store.path.parent)
if who is None or current.role_of(who) is not roles.Role.LEAD:
    st.info("Roles are managed by leads. roles.yaml beside the database names them.",
            icon=":material/lock:")
    st.stop()

if st.session_state.pop("roles_saved", False):
    st.success("Roles saved.", icon=":material/check:")
st.caption("Leads create queues, edit rubrics and judges, seed gold items, build and export golden "
           "sets and manage alerts; reviewers grade. Saving rewrites roles.yaml (comments in it "
           "are not kept) and records the change in the audit log.")
c1, c2 = st.columns(2)
c1.dataframe({"lead": sorted(current.leads)}, hide_index=True, width="stretch", placeholder="—")
if current.reviewers is None:
    c2.text("Any name may grade (no reviewers list).")
else:
    c2.dataframe({"reviewer": sorted(current.reviewers)}, hide_index=True, width="stretch", placeholder="—")

with st.form("roles"):
    leads = st.text_area("Leads, one per line", value="\n".join(sorted(current.leads)))
    limit = st.checkbox("Only the reviewers listed below may grade",
                        value=current.reviewers is not None)
    reviewers = st.text_area("Reviewers, one per line",
                             value="\n".join(sorted(current.reviewers or ())))
    saved = st.form_submit_button("Save roles", type="primary")
if saved:
    try:
        roles.change(store, who, [n for n in leads.splitlines() if n.strip()],
                     [n for n in reviewers.splitlines() if n.strip()] if limit else None,
                     expected=current)
    except GoldenloopError as exc:
        st.error("The roles were not changed.")
        st.text(visible(exc))
    else:
        st.session_state["roles_saved"] = True  # said after the rerun that redraws the tables
        st.rerun()

st.subheader("Recent role changes")
log = audit.entries(store, action="roles.", limit=200)
if log.empty:
    st.info("No role changes recorded yet.")
else:
    st.dataframe(log[["logged_at", "actor", "action", "interface", "details"]], hide_index=True,
                 width="stretch", column_config={
                     "logged_at": st.column_config.DatetimeColumn("When (UTC)"), "actor": "Who",
                     "action": "What", "interface": "From", "details": "Details"}, placeholder="—")
