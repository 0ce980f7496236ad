"""Alerts: every rule with its state, notifications that could not be delivered, and one
rule's definition, history of state changes and notifications. Leads create rules here, and
edit or delete the rules made here (rules from alerts.yaml are edited in the file).

Nothing here is cached: states change with every evaluation.
"""

from __future__ import annotations

import streamlit as st

from goldenloop import alerts
from goldenloop.access import roles
from goldenloop.errors import GoldenloopError
from goldenloop_app import state
from goldenloop_app.alerts import forms
from goldenloop_app.common import identity
from goldenloop_app.untrusted import visible

st.title("Alerts")
store = state.get_store()
who = identity.current(store)
lead = identity.can(store, who, roles.Action.MANAGE_ALERTS)
try:
    alerts.ensure_tables(store)
    rules = {s.rule.name: s for s in alerts.stored_rules(store)}
except GoldenloopError as exc:  # a stored rule another goldenloop version wrote
    st.error("The alert rules cannot be read.", icon=":material/error:")
    st.text(visible(exc))
    st.stop()

if lead:
    with st.expander("Create a rule", expanded=not rules, icon=":material/add_alert:"):
        forms.rule_form(store, who)
elif who is None:
    st.info("Type your name in the sidebar: leads create and edit alert rules here.",
            icon=":material/person:")
else:
    st.info("Only leads create and edit alert rules (roles.yaml beside the database).",
            icon=":material/lock:")

problem = alerts.file_problem(alerts.alerts_file_path(state.data_paths().data_dir))
if problem:
    st.error("The rules file has an error: the server keeps the rules it loaded before.",
             icon=":material/error:")
    st.text(visible(problem))

if not rules:
    st.info("No alert rules yet. A lead creates one above, or writes alerts.yaml beside the "
            "database (see docs/alerts.md): the server loads it when it changes.",
            icon=":material/inbox:")
    st.stop()

failed = alerts.failed_deliveries(store)
if failed:
    st.warning(f"{failed:,} notification(s) could not be delivered: their errors are listed "
               "under Notifications.", icon=":material/warning:")
forms.table(alerts.overview(store), forms.RULE_COLUMNS)

name = st.selectbox("Rule", list(rules), key="rule", bind="query-params", format_func=visible)
if name is None or name not in rules:
    st.stop()
chosen = rules[name]
if lead and chosen.origin == "app":
    with st.expander("Edit this rule", icon=":material/edit:"):
        forms.rule_form(store, who, chosen.rule)
        if st.button("Delete this rule", key="gl_alert_delete"):
            alerts.remove_rule(store, name, who)
            st.rerun()
elif lead:
    st.text("This rule comes from alerts.yaml: edit it there (kept in git); the server loads "
            "the file again when it changes.")
forms.draw_rule(store, chosen)
