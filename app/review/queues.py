"""Queues: leads draw review queues from a frame by a sampling design; everyone sees progress
per queue and per reviewer; leads see gold accuracy; probability queues show the estimate of
each criterion over all traffic, with its interval.

Queue and reviewer names come from users: they reach the page only in dataframes, widget
options and plain text. Nothing here is cached: grades change with every submission.
"""

from __future__ import annotations

import streamlit as st

from goldenloop.access import roles
from goldenloop_app import state
from goldenloop_app.common import identity
from goldenloop_app.review import argilla_panel
from goldenloop_app.review import queue_panels as rq
from goldenloop_app.untrusted import visible, visible_frame

st.title("Review queues")
store = state.get_store()
who = identity.current(store)

if identity.can(store, who, roles.Action.CREATE_QUEUE):
    with st.expander("Create a queue", expanded=rq.queue_table(store).empty,
                     icon=":material/add:"):
        rq.create_form(store, who)
elif who is None:
    st.info("Type your name in the sidebar: leads create queues here, reviewers grade them.",
            icon=":material/person:")

queues = rq.queue_table(store)
if queues.empty:
    st.info("No review queues yet. A lead creates one above from a time window and a sampling "
            "design.", icon=":material/inbox:")
    st.stop()

st.dataframe(visible_frame(queues), hide_index=True, column_config=rq.QUEUE_COLUMNS,
             column_order=list(rq.QUEUE_COLUMNS), placeholder="—")
names = {int(q): str(n) for q, n in zip(queues["queue_id"], queues["name"], strict=True)}
rq.seed_queue_choice(names)
queue_id = st.selectbox("Queue", list(names), format_func=lambda q: visible(f"{q} · {names[q]}"),
                        key="queue")
if queue_id is None:
    st.stop()
queue_id = int(queue_id)
if st.query_params.get("queue") != str(queue_id):  # the chosen queue is in the URL, as its id
    st.query_params["queue"] = str(queue_id)
rq.draw_progress(store, queue_id)
rq.draw_estimates(store, queue_id)
argilla_panel.draw(store, queue_id, who, identity.can(store, who, roles.Action.CREATE_QUEUE))
if identity.can(store, who, roles.Action.SEE_GOLD_ACCURACY):
    rq.draw_gold(store, queue_id)
    target_type = queues.set_index("queue_id").loc[queue_id, "target_type"]
    rq.gold_form(store, queue_id, who, str(target_type))
