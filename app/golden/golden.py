"""Golden sets: leads build a golden dataset from graded traffic with a preview (rows, label
balance, agreement), save it as a version and export it in every format with its card, then
browse versions and their diffs.

Everything shown from the data (answers, labels, names, the card) goes through dataframes,
charts, plain text or code blocks, never Markdown. Nothing here is cached but the filter's
choices: grades change with every submission.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from goldenloop import golden
from goldenloop.access import roles
from goldenloop.golden.build import NO_EXPECTED
from goldenloop.golden.card import FORMAT_NOTES
from goldenloop.golden.export import FILES
from goldenloop.golden.options import Criterion
from goldenloop.spanstore import DUCKDB
from goldenloop_app import state
from goldenloop_app.common import identity
from goldenloop_app.golden import argilla_panel, curation_panel
from goldenloop_app.untrusted import md, visible, visible_frame

FORMAT_LABELS = {"jsonl": "JSONL", "csv": "CSV", "parquet": "Parquet",
                 "openai_chat": "OpenAI fine-tuning (chat)", "openai_evals": "OpenAI evals",
                 "hf": "Hugging Face datasets"}
ROW_COLUMNS = {
    "row_key": st.column_config.TextColumn("Row"),
    "label": st.column_config.TextColumn("Grade"),
    "agreement_level": st.column_config.TextColumn("Agreement"),
    "reviewers": st.column_config.ListColumn("Reviewers"),
    "judge_agrees": st.column_config.CheckboxColumn("Judge agrees"),
    "expected_source": st.column_config.TextColumn("Expected output from"),
    "input": st.column_config.TextColumn("Input", width="medium"),
    "expected_output": st.column_config.TextColumn("Expected output", width="large"),
}


def _bar(df: pd.DataFrame, field: str, title: str) -> alt.Chart:
    return alt.Chart(df, title=title).mark_bar().encode(
        x=alt.X("rows:Q", title="rows"), y=alt.Y(f"{field}:N", title=None, sort=None),
        tooltip=[field, "rows", alt.Tooltip("share:Q", format=".0%")]).properties(height=180)


def filter_form(opts: golden.Options) -> golden.GoldenFilter | None:
    """The build filter; returns the filter last previewed (None before the first)."""
    crits = {c.name: c for c in opts.criteria}
    top = st.columns([2, 2, 1])
    name = top[0].selectbox("Criterion", list(crits), key="gs_criterion",
                            format_func=lambda n: visible(f"{n} ({crits[n].human_grades:,} human grades)"))
    source = top[1].selectbox("Source of truth", list(golden.SOURCES), key="gs_source",
                              format_func=golden.SOURCES.get)
    n_min = top[2].number_input("N reviewers", 2, 10, 2, key="gs_n",
                                disabled=source != golden.CONSENSUS,
                                help="For a consensus: at least N reviewers, all agreeing")
    crit = crits[name]
    last = st.session_state.get("gs_filter")
    if last is not None and last.criterion != name:  # other thresholds: preview again
        st.session_state.pop("gs_filter")
        last = None
    elif last is not None and (last.source, last.min_reviewers) != (source, n_min):
        last = replace(last, source=source, min_reviewers=int(n_min))
        st.session_state["gs_filter"] = last
    conditions = curation_panel.conditions(opts, name)
    with st.form("gs_filter_form", border=True):
        kw = _grade_rules(crit)
        kw |= _rubric_and_judges(crit)
        kw |= curation_panel.evidence_and_split()
        cols = st.columns(4)
        kw["apps"] = tuple(cols[0].multiselect("Apps", opts.apps, placeholder="all"))
        kw["model_versions"] = tuple(cols[1].multiselect("Model versions", opts.model_versions,
                                                         placeholder="all"))
        kw["prompt_versions"] = tuple(cols[2].multiselect("Prompt versions",
                                                          opts.prompt_versions, placeholder="all"))
        kw["tags"] = tuple(cols[3].multiselect("Tags (any)", opts.tags, placeholder="all"))
        cols = st.columns(2)
        queues = dict(opts.queues)
        kw["queue_ids"] = tuple(cols[0].multiselect(
            "Graded in review queues", list(queues), placeholder="any queue or none",
            format_func=lambda q: visible(f"{q} · {queues[q]}")))
        days = cols[1].date_input("Answers from – to (UTC)", value=(), key="gs_days")
        if len(days) == 2:
            kw["start"] = datetime.combine(days[0], time())
            kw["end"] = datetime.combine(days[1], time()) + pd.Timedelta(days=1)
        if not st.form_submit_button("Preview", icon=":material/visibility:", type="primary"):
            return last
    try:
        f = golden.GoldenFilter(criterion=name, source=source, min_reviewers=int(n_min),
                                conditions=conditions, **kw)
    except golden.FilterError as exc:
        st.error(md(str(exc), 2000), icon=":material/error:")
        return None
    st.session_state["gs_filter"] = f
    st.session_state.pop("gs_export", None)
    return f


JUDGES = {"fit for use": "fit", "any version": "any", "none": "none"}


def _rubric_and_judges(crit: Criterion) -> dict:
    """Whose scale sets the default "correct at" rule, and which judge versions count."""
    cols = st.columns(2)
    rubric = cols[0].selectbox(
        "Rubric", ["(the one that defines it)", *crit.rubrics], key="gs_rubric",
        format_func=visible, help="Its scale sets 'Graded correct at' when left empty, and "
                                  "only its grades count")
    judges = cols[1].radio("Judge versions counted", list(JUDGES), key="gs_judges",
                           horizontal=True, help="For 'judge agrees': fit for use means the "
                                                 "versions that pass the agreement gate")
    name, _, version = rubric.partition("@") if rubric in crit.rubrics else ("", "", "")
    return {"rubric_name": name or None, "rubric_version": version or None,
            "judges": JUDGES[judges]}


def _grade_rules(crit: Criterion) -> dict:
    """Correctness rule and thresholds, in the criterion's own terms."""
    cols = st.columns(2)
    if crit.value_type in ("nominal",) and crit.labels:
        good = cols[0].multiselect("Labels that count as correct", crit.labels, format_func=visible,
                                   help="A graded answer with one of these labels can be the "
                                        "expected output; without any, only corrected answers")
        keep = cols[1].multiselect("Keep only these labels", crit.labels, placeholder="all",
                                   format_func=visible)
        return {"correct_labels": tuple(good), "labels": tuple(keep)}
    lo, hi = crit.min_value or 1.0, crit.max_value or max(float(len(crit.labels)), 1.0)
    at = cols[0].number_input("Graded correct at or above", lo, hi, value=None,
                              placeholder="from the rubric: the top quarter of the scale",
                              help="Such an answer is its own expected output; others need a "
                                   "reviewer's correction")
    span = cols[1].slider("Keep grades between", lo, hi, (lo, hi), step=1.0, format="%g")
    return {"correct_at": at, "min_value": span[0] if span[0] > lo else None,
            "max_value": span[1] if span[1] < hi else None}


def draw_preview(store, p: golden.Preview) -> None:
    c = p.counts
    m = st.columns(4)
    m[0].metric("Rows", f"{c['included']:,}")
    m[1].metric("Graded targets considered", f"{c['considered']:,}")
    m[2].metric("No acceptable expected output", f"{c['left_out'].get(NO_EXPECTED, 0):,}",
                help="Graded not correct and not corrected: left out of the set, counted here")
    m[3].metric("Judge agrees", "—" if p.judge_agreement is None else f"{p.judge_agreement:.0%}",
                help="Share of rows whose latest judge grade reaches the reviewers' verdict")
    st.text(next(line for line in p.filter.describe() if line.startswith("judge versions")))
    if "duplicates_merged" in c:
        st.text(f"Duplicate inputs merged: {c['duplicates_merged']:,} (the best-supported row "
                "of each input kept)")
    if c["left_out"]:
        st.dataframe(pd.DataFrame(list(c["left_out"].items()), columns=["left out", "rows"]),
                     hide_index=True, placeholder="—")
    if c["included"] == 0:
        st.info("No graded answer passes this filter. Widen it, or grade and correct more "
                "answers on the Grade page.", icon=":material/filter_alt_off:")
        return
    left, right = st.columns(2)
    left.altair_chart(_bar(p.label_balance, "label", "Label balance"), width="stretch")
    right.altair_chart(_bar(p.agreement, "agreement_level", "Agreement level"), width="stretch")
    # Labels come from data: plain text, not a caption's Markdown.
    st.text(visible(f"Rule for a correct answer: {'; '.join(p.filter.describe()[2:3]) or 'none'}"))
    st.caption(f"First {len(p.rows)} rows:")
    st.dataframe(visible_frame(p.rows), hide_index=True, column_config=ROW_COLUMNS,
                 column_order=list(ROW_COLUMNS), placeholder="—")


def _dataset_name(f: golden.GoldenFilter) -> str:
    return st.session_state.get("gs_name") or f"{f.criterion}-golden"


def export_form(store, who: str, f: golden.GoldenFilter, rows: pd.DataFrame) -> None:
    st.subheader("Save and export")
    cols = st.columns([1, 2])
    name = cols[0].text_input("Dataset name", value=f"{f.criterion}-golden", key="gs_name",
                              help="Lower-case letters, digits, '.', '_' and '-'")
    curation_panel.exclusion_panel(store, who, name, rows)
    desc = cols[1].text_input("Purpose (goes into the dataset card)", key="gs_desc")
    formats = st.multiselect("Formats", golden.FORMATS, default=list(golden.FORMATS),
                             format_func=FORMAT_LABELS.get, key="gs_formats")
    if st.button("Save version and export", icon=":material/publish:", type="primary",
                 disabled=not formats):
        try:
            with st.spinner("Building and exporting…"):
                r = golden.publish(store, name, f, who, _out(), formats=formats,
                                   description=desc, spans=state.span_store())
        except (golden.GoldenError, golden.FilterError) as exc:
            st.error(md(str(exc), 2000), icon=":material/error:")
            return
        except roles.PermissionDenied as exc:
            st.error(md(str(exc), 2000), icon=":material/block:")
            return
        st.session_state["gs_export"] = (r.build.version.dataset, r.build.version.version,
                                         r.build.created, str(r.export.folder))
    if st.session_state.get("gs_export"):
        draw_export(store, *st.session_state["gs_export"])


def _out():
    return state.data_paths().data_dir / "exports"


def draw_export(store, name: str, version: int, created: bool, folder: str) -> None:
    path = Path(folder)
    if created:  # the set's name is data: in plain text below the notice
        st.success(f"Saved version {version} and exported it.", icon=":material/done:")
    else:
        st.info(f"Nothing changed since version {version}: no new version; exported it again.",
                icon=":material/published_with_changes:")
    st.text(visible(f"{'Saved' if created else 'Exported again'} {name} version {version}"))
    if version > 1 and created:
        draw_diff(golden.diff(store, name, version - 1, version))
    st.text(visible(f"Files in {path}"))
    files = sorted(p.name for p in path.iterdir() if not p.name.startswith("."))
    notes = {**FORMAT_NOTES, "card": "the dataset card: purpose, counts, label balance, "
                                     "sources, filters, version and hash",
             "problems": "rows left out of a format, with the field and reason"}
    st.dataframe(pd.DataFrame({"file": files, "what": [
        notes.get(_fmt_of(x), "") for x in files]}), hide_index=True, placeholder="—")
    st.download_button("Download all (zip)", data=lambda: golden.zip_folder(path),
                       file_name=f"{name}-v{version}.zip", mime="application/zip",
                       icon=":material/download:", on_click="ignore", key="gs_download")
    card = path / "README.md"
    if card.exists():
        with st.expander("Dataset card (README.md)", expanded=True, icon=":material/badge:"):
            st.code(visible(card.read_text(encoding="utf-8")), language="markdown", wrap_lines=True)


def _fmt_of(file: str) -> str:
    extra = {"README.md": "card", "problems.jsonl": "problems"}
    return extra.get(file) or next((k for k, v in FILES.items() if v == file), "")


def draw_diff(d: golden.Diff) -> None:
    st.text(visible(d.summary()))
    m = st.columns(4)
    for col, label, n in zip(m, ("Added", "Removed", "Changed", "Unchanged"),
                             (len(d.added), len(d.removed), len(d.changed), d.unchanged),
                             strict=True):
        col.metric(label, f"{n:,}")
    for title, frame in (("Changed", d.changed), ("Added", d.added), ("Removed", d.removed)):
        if not frame.empty:
            st.caption(title)
            st.dataframe(visible_frame(frame), hide_index=True, column_config={
                "fields": st.column_config.ListColumn("What changed")}, placeholder="—")


def draw_versions(store, who: str) -> None:
    sets = golden.datasets(store)
    if sets.empty:
        st.info("No golden set yet: build one in the first tab.", icon=":material/inbox:")
        return
    st.dataframe(visible_frame(sets), hide_index=True, column_config={
        "latest_version": "latest version", "content_hash": "hash", "changed_at": "changed",
        "created_by": "created by"}, placeholder="—")
    name = st.selectbox("Dataset", sets["name"].tolist(), key="gs_browse", format_func=visible)
    found = golden.versions(store, name)
    st.dataframe(pd.DataFrame([{
        "version": v.version, "created": v.created_at, "author": v.author, "rows": v.rows,
        "left out": sum(v.counts.get("left_out", {}).values()), "hash": v.short_hash,
        "source of truth": golden.SOURCES[v.filter.source],
        "filter": visible("; ".join(v.filter.describe()[2:]))} for v in found]), hide_index=True,
                 placeholder="—")
    numbers = [v.version for v in found]
    if len(numbers) > 1:
        cols = st.columns(2)
        # Keys name the latest version: a new version resets the choice to the newest pair.
        old = cols[0].selectbox("Compare version", numbers[1:] + numbers[:1],
                                key=f"gs_old_{name}_{numbers[0]}")
        new = cols[1].selectbox("with version", numbers, key=f"gs_new_{name}_{numbers[0]}")
        if old != new:
            draw_diff(golden.diff(store, name, min(old, new), max(old, new)))
    chosen = st.selectbox("Export version", numbers, key="gs_export_version")
    if st.button("Export this version", icon=":material/download:"):
        r = golden.export(store, name, _out(), who, version=chosen)
        st.session_state["gs_export_browse"] = (name, chosen, str(r.folder))
    if st.session_state.get("gs_export_browse"):
        n, v, folder = st.session_state["gs_export_browse"]
        if n == name:
            draw_export(store, n, v, False, folder)
    argilla_panel.draw(store, name, numbers, who)


st.title("Golden sets")
st.caption("Graded production answers become versioned datasets for regression tests, judge "
           "calibration and fine-tuning. The expected output is a reviewer's corrected answer, "
           "else the answer itself when it was graded correct.")
store = state.get_store()
who = identity.current(store)
if not identity.can(store, who, roles.Action.EXPORT):
    st.info("Golden sets are built and exported by leads (roles.yaml beside the database, or "
            "the Roles page, says who leads).", icon=":material/person:")
    st.stop()

spans = state.span_store()  # where the graded spans live (DuckDB or ClickHouse)
# cached on the database file; a span store elsewhere is read afresh (not hashable)
opts = (state.aggregate(store, golden.options) if spans.dialect == DUCKDB
        else golden.options(store, spans))
if not opts.criteria:
    st.info("Nothing is graded yet. Grade answers on the Grade page (or import grades), then "
            "build a golden set here.", icon=":material/inbox:")
    st.stop()

build_tab, versions_tab = st.tabs(["Build and export", "Versions and diffs"])
with build_tab:
    f = filter_form(opts)
    if f is None:
        st.caption("Choose a criterion and filters, then Preview.")
    else:
        try:  # the dataset's excluded rows are left out of the preview too
            preview = golden.preview(store, f, dataset=_dataset_name(f), spans=spans)
        except golden.FilterError:  # a dataset name not yet valid: no exclusions to apply
            preview = golden.preview(store, f, spans=spans)
        draw_preview(store, preview)
        if preview.counts["included"] or preview.counts.get("exclusions"):
            export_form(store, who, f, preview.rows)
with versions_tab:
    draw_versions(store, who)
