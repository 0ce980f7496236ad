"""Imports: load trace files, follow the import, and read what was kept aside and why."""

from __future__ import annotations

import streamlit as st

from goldenloop.ingest import detect
from goldenloop_app import state
from goldenloop_app.common import widgets
from goldenloop_app.untrusted import visible_frame

FORMATS = ["auto", *detect.READERS]

st.title("Imports")
st.caption("Load traces from CSV, TSV, JSONL, Parquet, OTLP JSON exports or OpenAI logs. "
           "Good rows land; bad rows are kept aside in quarantine with their file, row, field "
           "and reason. Importing the same rows again adds nothing.")

store = state.get_store()

with st.form("import", clear_on_submit=True):
    files = st.file_uploader("Trace files", accept_multiple_files=True)
    left, right = st.columns(2)
    fmt = left.selectbox("Format", FORMATS, help="auto: by file name and first record")
    mapping_text = right.text_area(
        "Column mapping (optional)", placeholder="start_time=timestamp\noutput=response",
        help="One span_field=source_column per line, for tables whose columns have other names",
        height=80)
    redact = st.checkbox("Redact e-mail addresses, phone numbers and API keys in texts")
    submitted = st.form_submit_button("Import", type="primary", disabled=False)

if submitted:
    if not files:
        st.warning("Choose at least one file.")
    else:
        widgets.start_import(store, files, None if fmt == "auto" else fmt, mapping_text, redact)

widgets.draw_active_jobs(store, kind="import")

st.subheader("Recent imports")
widgets.table_or_empty(widgets.recent_imports(store), widgets.IMPORT_COLUMNS,
                       "Nothing imported yet. Upload a file above, or run `goldenloop import FILE`.")

st.subheader("Quarantine")
bad = widgets.quarantine(store)
if bad.empty:
    st.success("No rows in quarantine.")
else:
    st.text(f"{len(bad):,} rows in quarantine" + (" (newest 500 shown)" if len(bad) >= 500 else ""))
    st.caption("Rows kept aside, newest import first. `raw` is the row exactly as read: fix "
               "the file and import it again; rows already imported are not duplicated.")
    st.dataframe(visible_frame(bad), hide_index=True, column_config=widgets.QUARANTINE_COLUMNS,
                 placeholder="—")
