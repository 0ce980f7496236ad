"""The Golden sets page's Argilla panel: which Argilla datasets a golden dataset's versions
were pushed to, what was pulled, which reviewed version was made (from goldenloop's own
records: drawing the page makes no request to Argilla), and Push / Pull buttons (the page
is for leads only). Dataset, workspace and golden names are data: shown in dataframes and
plain text only."""

from __future__ import annotations

import streamlit as st

from goldenloop import argilla_sync
from goldenloop.errors import GoldenloopError
from goldenloop.store import Store
from goldenloop_app.untrusted import md, visible_frame

COLUMNS = {"pushed_version": "version pushed", "pushed_at": "pushed",
           "last_pull_at": "last pull", "set_aside": "set aside",
           "reviewed_version": "reviewed version made",
           "waiting": st.column_config.NumberColumn(
               "responses not in a version yet",
               help="Taken in by the scheduled pull; Pull now makes the reviewed version")}


def _pulled(r) -> str:
    line = (f"{r.dataset}: {r.graded:,} graded, {r.discarded:,} discarded, "
            f"{r.set_aside:,} set aside, {r.unchanged:,} already pulled")
    if r.version_created:
        return f"{line}; reviewed version {r.new_version} made"
    if r.new_version is not None:
        return f"{line}; the reviewed rows equal version {r.new_version}: no version made"
    return f"{line}; nothing new: no version made"


def draw(store: Store, name: str, versions: list[int], who: str) -> None:
    st.subheader("Review in Argilla")
    table = argilla_sync.golden_links(store, name)
    if table.empty:
        st.text("Not pushed to Argilla. Push a version for annotators to grade its rows and "
                "correct expected outputs; pulling their answers makes a new version "
                "(goldenloop argilla push --golden NAME@VERSION, see docs/argilla.md).")
    else:
        st.dataframe(visible_frame(table), hide_index=True, column_config=COLUMNS, placeholder="—")
    cols = st.columns([1, 2, 1])
    version = cols[0].selectbox("Version to push", versions, key=f"gs_argilla_v_{name}")
    workspace = cols[1].text_input("Argilla workspace", value="argilla", key="gs_argilla_ws")
    reviewers = cols[2].number_input("Annotators per row", 1, 10, 1, key="gs_argilla_n")
    left, right = st.columns(2)
    if left.button("Push to Argilla", key="gs_argilla_push", icon=":material/upload:"):
        try:
            with st.spinner("Pushing…"):
                r = argilla_sync.push_golden(store, f"{name}@{version}", pushed_by=who,
                                             workspace=workspace, reviewers=int(reviewers))
            st.text(f"{r.records:,} rows sent to {r.dataset}, {r.new_records:,} new")
        except GoldenloopError as exc:
            st.error(md(str(exc), 2000), icon=":material/error:")
    if right.button("Pull now", key="gs_argilla_pull", disabled=table.empty,
                    icon=":material/download:"):
        try:
            with st.spinner("Pulling…"):
                for r in argilla_sync.pull(store, who, golden=name):
                    st.text(_pulled(r))
        except GoldenloopError as exc:
            st.error(md(str(exc), 2000), icon=":material/error:")
