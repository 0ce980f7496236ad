"""Small drawing helpers shared by pages: column configurations, a duration format, live job
progress, and the import form's submit action. Pages stay thin; nothing here caches."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from goldenloop.errors import GoldenloopError
from goldenloop.ingest import ImportOptions
from goldenloop.ingest import mapping as column_mapping
from goldenloop.ingest.uploads import save_upload
from goldenloop.spanstore.ingest import import_into
from goldenloop.store import Store
from goldenloop.store import imports as import_sql
from goldenloop.store import jobs as job_sql
from goldenloop.workers.kinds import ImportJob
from goldenloop.workers.submit import submit
from goldenloop_app import state
from goldenloop_app.untrusted import md, visible, visible_frame

WHEN = "YYYY-MM-DD HH:mm:ss"
IMPORT_COLUMNS = {
    "import_id": st.column_config.NumberColumn("Import", format="plain", width="small"),
    "file": st.column_config.TextColumn("File"),
    "format": st.column_config.TextColumn("Format", width="small"),
    "status": st.column_config.TextColumn("Status", width="small"),
    "rows_read": st.column_config.NumberColumn("Read", format="localized"),
    "imported": st.column_config.NumberColumn("Imported", format="localized"),
    "duplicates": st.column_config.NumberColumn("Duplicates", format="localized"),
    "conflicts": st.column_config.NumberColumn(
        "Conflicts", format="localized",
        help="Rows with the ids of a stored span but other content, kept in quarantine"),
    "quarantined": st.column_config.NumberColumn("Quarantined", format="localized"),
    "unknown_price": st.column_config.NumberColumn("No price", format="localized",
                                                   help="Spans whose model has no price"),
    "message": st.column_config.TextColumn("Message"),
    "finished_at": st.column_config.DatetimeColumn("Finished (UTC)", format=WHEN),
}
QUARANTINE_COLUMNS = {
    "import_id": st.column_config.NumberColumn("Import", format="plain", width="small"),
    "file": st.column_config.TextColumn("File"),
    "row_number": st.column_config.NumberColumn("Row", format="plain", width="small",
                                                help="Line number for CSV and JSONL"),
    "field": st.column_config.TextColumn("Field"),
    "reason": st.column_config.TextColumn("Reason", width="large"),
    "raw": st.column_config.TextColumn("Row as read", width="large"),
    "quarantined_at": st.column_config.DatetimeColumn("When (UTC)", format=WHEN),
}
JOB_COLUMNS = {
    "job_id": st.column_config.NumberColumn("Job", format="plain", width="small"),
    "kind": st.column_config.TextColumn("Kind", width="small"),
    "status": st.column_config.TextColumn("Status", width="small"),
    "progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0),
    "message": st.column_config.TextColumn("Message", width="large"),
    "error": st.column_config.TextColumn("Error", width="large"),
    "origin": st.column_config.TextColumn("From", width="small"),
    "created_at": st.column_config.DatetimeColumn("Created (UTC)", format=WHEN),
    "finished_at": st.column_config.DatetimeColumn("Finished (UTC)", format=WHEN),
}


def _short_files(df: pd.DataFrame) -> pd.DataFrame:
    # Full paths crowd the table out; the file name says which file, the log keeps the path.
    return df.assign(file=df["file"].map(lambda f: f and Path(f).name)) if not df.empty else df


def fmt_ms(v: float | None) -> str:
    """A duration: 830 ms, 1.20 s; a dash when there is none."""
    if v is None or pd.isna(v):
        return "—"
    return f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms"


def table_or_empty(df: pd.DataFrame, columns: dict, empty: str) -> None:
    """A table with its configured columns, or a plain note when there is nothing to list."""
    if df.empty:
        st.info(empty)
    else:
        st.dataframe(visible_frame(df), hide_index=True, column_config=columns,
                     column_order=list(columns), placeholder="—")


def recent_imports(store: Store) -> pd.DataFrame:
    return _short_files(import_sql.recent(store.cursor(), 50))


def quarantine(store: Store) -> pd.DataFrame:
    return _short_files(import_sql.quarantine_frame(store.cursor()))


def recent_jobs(store: Store) -> pd.DataFrame:
    return job_sql.recent(store.cursor(), 100)


def start_import(store: Store, files, fmt: str | None, mapping_text: str, redact: bool) -> None:
    """Save the uploads, then import them: as a job for the server's workers when serving,
    else right here with a progress bar."""
    try:
        mapping = column_mapping.parse_map_flags(
            [ln.strip() for ln in mapping_text.splitlines() if ln.strip()])
    except GoldenloopError as exc:
        st.error(md(str(exc), 2000))
        return
    folder = state.data_paths().uploads
    saved = [save_upload(folder, f.name, f.getvalue()) for f in files]
    job = ImportJob.of(files=[str(p) for p in saved], format=fmt, mapping=mapping,
                       redact=redact, origin="app")
    sent = submit(job, store=store, serving=state.serving(), origin="app")
    if sent.queued:
        st.toast(f"Import {sent.message}")
        return
    _import_here(store, saved, ImportOptions(format=fmt, mapping=mapping, redact=redact,
                                             origin="app"))


def _import_here(store: Store, saved, opts: ImportOptions) -> None:
    bar = st.progress(0.0, "Starting")
    for i, path in enumerate(saved):
        def note(frac: float, msg: str, i: int = i) -> None:
            bar.progress(min(1.0, (i + frac) / len(saved)), md(msg))

        try:
            r = import_into(store, state.span_store(), path, opts, note)
        except GoldenloopError as exc:
            st.error(md(str(exc), 2000))
            continue
        st.text(visible(f"{path.name}: {r.rows_read:,} read, {r.imported:,} imported, "
                f"{r.duplicates:,} duplicates, {r.conflicts:,} conflicts, "
                f"{r.quarantined:,} quarantined"))
        for line in r.notes:  # the encoding it was read with, columns kept in metadata
            st.text(visible(f"{path.name}: {line}"))
    bar.progress(1.0, "Done")


def draw_active_jobs(store: Store, kind: str | None, allow_cancel: bool = False) -> None:
    """Live progress of queued and running jobs, refreshed every second while any runs;
    when one finishes the whole page reruns, so its results appear without a reload."""
    seen_key = f"_active_jobs_{kind}"

    @st.fragment(run_every=1.0 if _has_active(store, kind) else None)
    def live() -> None:
        active = job_sql.running_or_queued(store.cursor(), kind)
        ids = set(active["job_id"].astype(int)) if not active.empty else set()
        finished = st.session_state.get(seen_key, set()) - ids
        st.session_state[seen_key] = ids
        if finished:
            st.rerun(scope="app")
        if active.empty:
            return
        st.subheader("In progress")
        for job in active.itertuples():
            label = f"Job {job.job_id} · {job.kind} · {job.status}: {job.message or 'waiting'}"
            st.progress(float(job.progress or 0), text=md(label))  # messages name files
            if allow_cancel and st.button("Cancel", key=f"cancel-{job.job_id}"):
                store.write(job_sql.request_cancel, int(job.job_id))
                time.sleep(0.2)
                st.rerun(scope="fragment")

    live()


def draw_last_failure(store: Store, kind: str, what: str) -> None:
    """The latest job of ``kind``, when it failed (before or during its run): its error, said
    on the page that queued it rather than only on the Operations page."""
    jobs = job_sql.recent(store.cursor(), 20)
    jobs = jobs[jobs["kind"] == kind]
    if not jobs.empty and jobs.iloc[0]["status"] == "failed":
        st.error(f"{what} (job {int(jobs.iloc[0]['job_id'])}) failed.", icon=":material/error:")
        st.text(visible(jobs.iloc[0]["error"]))


def _has_active(store: Store, kind: str | None) -> bool:
    return not job_sql.running_or_queued(store.cursor(), kind).empty
