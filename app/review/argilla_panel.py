"""The Queues page's Argilla panel: which Argilla datasets a queue was pushed to and what was
pulled from them (from goldenloop's own records: drawing the page makes no request to
Argilla), and, for leads, Push and Pull buttons. Dataset and workspace names are data:
shown in a dataframe and plain text only."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from goldenloop import argilla_sync
from goldenloop import argilla_sync as sql
from goldenloop.errors import GoldenloopError
from goldenloop.store import Store
from goldenloop_app.untrusted import md, visible_frame


def links_table(store: Store, queue_id: int) -> pd.DataFrame:
    rows = []
    for link in sql.links(store, queue_id):
        counts = sql.pull_counts(store, link["link_id"])
        rows.append({"dataset": link["dataset_name"], "workspace": link["workspace"],
                     "pushed_at": link["pushed_at"], "last_pull_at": link["last_pull_at"],
                     "graded": counts.get("graded", 0), "discarded": counts.get("discarded", 0),
                     "set_aside": counts.get("set_aside", 0)})
    return pd.DataFrame(rows, columns=["dataset", "workspace", "pushed_at", "last_pull_at",
                                       "graded", "discarded", "set_aside"])


def draw(store: Store, queue_id: int, who: str | None, is_lead: bool) -> None:
    st.subheader("Argilla")
    table = links_table(store, queue_id)
    if table.empty:
        st.text("Not pushed to Argilla. A lead hands it to Argilla annotators with the "
                "button below or goldenloop argilla push --queue ID (see docs/argilla.md).")
    else:
        st.dataframe(visible_frame(table), hide_index=True, placeholder="—")
    if not is_lead or who is None:
        return
    left, right = st.columns(2)
    workspace = left.text_input("Argilla workspace", value="argilla", key="argilla_ws")
    if left.button("Push to Argilla", key="argilla_push"):
        try:
            r = argilla_sync.push_queue(store, queue_id, pushed_by=who, workspace=workspace)
            st.text(f"{r.records:,} records sent to {r.dataset}, {r.new_records:,} new")
        except GoldenloopError as exc:
            st.error(md(str(exc), 2000), icon=":material/error:")
    if right.button("Pull now", key="argilla_pull", disabled=table.empty):
        try:
            for r in argilla_sync.pull(store, who, queue_id):
                st.text(f"{r.dataset}: {r.graded:,} graded, {r.discarded:,} discarded, "
                        f"{r.set_aside:,} set aside, {r.unchanged:,} already pulled")
        except GoldenloopError as exc:
            st.error(md(str(exc), 2000), icon=":material/error:")
