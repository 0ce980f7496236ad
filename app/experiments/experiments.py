"""Experiments: runs of test sets against targets (with progress and cancel while the server
runs them), two runs compared item by item with per-scorer statistics, production requests
matching a test item scored against it by model version (live ground truth), and canary
suites with their series by model version and the answers that changed.

Outputs, inputs, target and test set names are untrusted: tables and st.text only."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from goldenloop.access import roles
from goldenloop.errors import GoldenloopError
from goldenloop.experiments import canaries, live, results, scoring
from goldenloop.experiments import compare as cmp
from goldenloop.experiments import targets as tg
from goldenloop.experiments.jobs import run_params
from goldenloop.spanstore import DUCKDB
from goldenloop.workers.kinds import ExperimentRunJob
from goldenloop.workers.submit import submit
from goldenloop_app import state
from goldenloop_app.common import identity, span_table, widgets
from goldenloop_app.untrusted import md, visible, visible_frame

st.title("Experiments")
store = state.get_store()
who = identity.current(store)
widgets.draw_active_jobs(store, "experiment_run", allow_cancel=True)
widgets.draw_last_failure(store, "experiment_run", "The run")


def start_form() -> None:
    try:
        found = tg.available(store)
    except GoldenloopError as exc:
        st.error("A target file has an error.", icon=":material/error:")
        st.text(visible(exc))
        return
    if not found:
        st.text("No targets: put YAML files in targets/ beside the database (docs/experiments.md).")
        return
    c1, c2 = st.columns(2)
    target = c1.selectbox("Target", list(found), format_func=visible, key="exp_target")
    dataset = c2.text_input("Test set (NAME or NAME@VERSION; golden sets too)", key="exp_dataset")
    defaults = list(scoring.defaults())  # semantic similarity too, with the embeddings extra
    options = [*scoring.LEXICAL, *(d for d in defaults if d not in scoring.LEXICAL), "sql"]
    scorers = st.multiselect("Scorers", options, default=defaults, key="exp_scorers")
    c3, c4, c5 = st.columns(3)
    concurrency = c3.number_input("Calls at once", 1, 128, 8, key="exp_concurrency")
    budget = c4.number_input("Budget (USD, 0 = none)", 0.0, 1000.0, 0.0, key="exp_budget")
    baseline = c5.checkbox("Mark as baseline", key="exp_baseline")
    if not st.button("Run", type="primary", icon=":material/play_arrow:", key="exp_run"):
        return
    try:
        job = ExperimentRunJob.of(target=target, dataset=dataset.strip(), scorers=scorers,
                                  concurrency=int(concurrency), budget_usd=budget or None,
                                  baseline=baseline)
        sent = submit(job, store=store, serving=state.serving(), origin="app")
        if sent.queued:
            st.toast(f"Run {sent.message}")
            st.rerun()
        bar = st.progress(0.0, "Starting")
        r = run_params(store, job.params(), lambda f, m: bar.progress(min(1.0, f), md(m)))
    except GoldenloopError as exc:
        st.error("The run could not start.", icon=":material/error:")
        st.text(visible(exc))
        return
    bar.progress(1.0, md(r.summary, 2000))


with st.expander("Start a run", icon=":material/science:"):
    if identity.can(store, who, roles.Action.EXPERIMENT):
        start_form()
    elif who is None:
        st.info("Type your name in the sidebar to start a run.", icon=":material/person:")
    else:
        st.info("Your role cannot start runs: leads run experiments (roles.yaml beside the "
                "database).", icon=":material/person:")

runs = results.runs(store, limit=200)
if runs.empty:
    st.info("No runs yet. Import a test set (`goldenloop experiment import NAME FILE`) or use a "
            "golden set, write a target, and start a run above or with `goldenloop experiment "
            "run`.", icon=":material/inbox:")
    st.stop()

st.subheader("Runs")
shown = runs.assign(means=runs["means"].map(lambda m: ", ".join(f"{k} {v:.3f}" for k, v in m.items()
                                                                 if v == v)),
                    model_versions=runs["model_versions"].map(lambda v: ", ".join(v or [])))
st.dataframe(visible_frame(shown[["run_id", "source", "suite", "target_name", "target_version",
                                  "dataset", "status", "items", "answered", "failed", "not_run",
                                  "cost_usd", "baseline", "means", "model_versions",
                                  "started_at"]]), hide_index=True, placeholder="—")

st.subheader("One run")
labels = {int(r.run_id): visible(f"#{r.run_id} · {r.target_name} {r.target_version} · {r.dataset}")
          for r in runs.itertuples()}
shown_run = st.selectbox("Run", list(labels), format_func=labels.get, key=f"exp_one_{runs.iloc[0].run_id}")
detail = results.run_items(store, shown_run)
if st.toggle("Only failed items", False, key="exp_failed"):
    detail = detail[detail["status"] != "ok"]
st.dataframe(visible_frame(detail), hide_index=True, placeholder="—")

st.subheader("Compare two runs")
ids = list(labels)
c1, c2 = st.columns(2)
# Keyed by the newest run: when a run finishes, the choice starts over at newest vs previous.
new_run = c1.selectbox("New run", ids, format_func=labels.get, key=f"exp_new_{ids[0]}")
old_run = c2.selectbox("Old run", ids, index=min(1, len(ids) - 1), format_func=labels.get,
                       key=f"exp_old_{ids[0]}")
if new_run == old_run:
    st.text("Choose two different runs of one test set.")
else:
    try:
        c = cmp.compare(store, new_run, old_run)
    except GoldenloopError as exc:
        st.text(visible(exc))
    else:
        st.text(f"{c.summary}. 95% paired bootstrap intervals; McNemar's exact test on "
                "pass/fail.")
        st.dataframe(c.scorers, hide_index=True, placeholder="—")
        only_flagged = st.toggle("Only regressions and improvements", True, key="exp_flagged")
        items = c.items[c.items["flag"] != ""] if only_flagged else c.items
        # Each item links to the production span it came from (golden test sets).
        items = items.assign(source=[
            span_table.trace_link(trace=t, span=s) if isinstance(t, str) and isinstance(s, str)
            else None for t, s in zip(items["source_trace_id"], items["source_span_id"], strict=True)])
        front = ["flag", "item_key", "source", "input", "expected", "output_old", "output_new"]
        rest = [col for col in items.columns if col.endswith(("_old", "_new", "_diff"))
                and col not in front]
        st.dataframe(visible_frame(items[front + rest]), hide_index=True,
                     column_config={"source": st.column_config.LinkColumn(
                         "production span", display_text="open")}, placeholder="—")
        if st.button("Mark the old run as baseline of its target", key="exp_mark"):
            cmp.mark_baseline(store, old_run)
            st.rerun()

st.subheader("Live ground truth")
ref = st.text_input("Production requests matching an item of test set (NAME or NAME@VERSION)",
                    key="exp_live")
if ref.strip():
    try:
        spans = state.span_store()
        # cached on the database file; a span store elsewhere is read afresh (not hashable)
        truth = (state.aggregate(store, live.for_ref, ref.strip()) if spans.dialect == DUCKDB
                 else live.for_ref(store, ref.strip(), spans=spans))
    except GoldenloopError as exc:
        st.text(visible(exc))
    else:
        if truth.empty:
            st.text("No production request matches an item of this test set.")
        else:
            pick = st.selectbox("Scorer", sorted(truth["scorer"].unique()), key="exp_live_scorer")
            rows = truth[truth["scorer"] == pick].assign(
                model_version=lambda d: d["model_version"].map(visible))
            st.altair_chart(alt.Chart(rows).mark_line(point=True).encode(
                x=alt.X("period:T", title="day"), y=alt.Y("mean:Q", title=f"mean {pick}"),
                color=alt.Color("model_version:N", title="model version"),
                tooltip=["period", "model_version", "spans", "mean", "pass_rate"]))

st.subheader("Canaries")
suites = canaries.suites(store)
if not suites:
    st.text("No canary suites: `goldenloop experiment canary add NAME --target T --dataset D "
            "--every 60` (the server runs them on schedule).")
    st.stop()
suite = st.selectbox("Suite", [s.name for s in suites], format_func=visible, key="exp_suite")
series = canaries.series(store, suite)
if series.empty:
    st.text("This suite has not run yet.")
    st.stop()
scorer = st.selectbox("Scorer", sorted(series["scorer"].unique()), format_func=visible,
                      key="exp_suite_scorer")
points = series[series["scorer"] == scorer].assign(
    model_version=lambda d: d["model_version"].map(visible))
st.altair_chart(alt.Chart(points).mark_line(point=True).encode(
    x=alt.X("started_at:T", title="run"), y=alt.Y("mean:Q", title=f"mean {visible(scorer)}"),
    color=alt.Color("model_version:N", title="model version"),
    tooltip=["run_id", "model_version", "items", "mean", "pass_rate"]))
changed = canaries.changed_answers(store, suite)
st.text(f"{len(changed):,} answers changed between the last two runs")
if not changed.empty:
    st.dataframe(visible_frame(pd.DataFrame(changed)), hide_index=True, placeholder="—")
