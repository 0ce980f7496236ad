"""Judges: versioned LLM judges. Run one on a queue, a filter or a random sample (a job with a
progress bar and cancel), follow runs, cost and failures (with the raw answers), read the
judge's grades, and estimate all traffic from judge and human grades together (PPI). Leads
fix a judge that diverges from reviewers here too (edit_panel.py).

Judge reasons and raw answers are model output: shown only inside dataframes."""

from __future__ import annotations

import streamlit as st

from goldenloop import estimation, judge
from goldenloop.access import roles
from goldenloop.agreement import fitness
from goldenloop.errors import GoldenloopError
from goldenloop.estimation import ppi
from goldenloop.judge import records as judge_sql
from goldenloop_app import state
from goldenloop_app.common import identity, widgets
from goldenloop_app.judge import edit_panel as jep
from goldenloop_app.judge import panels as jp
from goldenloop_app.untrusted import md, visible, visible_frame

_N = st.column_config.NumberColumn
OWN_CALLS = {"source": "Source", "name": "Judge", "version": "Version", "model": "Model",
             "calls": _N("Calls", format="localized"), "failures": _N("Failures", format="localized"),
             "latency_p50_ms": _N("Latency p50 (ms)", format="%.0f"),
             "latency_p95_ms": _N("Latency p95 (ms)", format="%.0f"),
             "cost_usd": _N("Cost", format="$%.4f"), "last_call": "Last call (UTC)"}
FITNESS = {"criterion": "Criterion", "judge_name": "Judge", "judge_version": "Version",
           "status": "Counted?", "reason": "Why", "value": _N("Agreement", format="%.2f"),
           "ci_low": _N("Lower end", format="%.2f"), "n_items": _N("Items", format="localized"),
           "grades": _N("Grades", format="localized")}

st.title("Judges")
store = state.get_store()
who = identity.current(store)

try:
    judges = judge.available(store)
except GoldenloopError as exc:  # a broken judge file: say which, show nothing half-loaded
    st.error("A judge file cannot be loaded.", icon=":material/error:")
    st.text(visible(exc))
    st.stop()
if not judges:
    st.info("No judges: add a YAML file to judges/ beside the database.", icon=":material/gavel:")
    st.stop()

st.subheader("Run a judge")
chosen = jp.judge_choice(judges)
if chosen is not None:
    st.caption(jp.endpoint_line(chosen))
    if identity.can(store, who, roles.Action.CREATE_QUEUE):
        jp.run_form(store, chosen)
        with st.expander("Online: judge a share of new traffic as it arrives",
                         icon=":material/sensors:"):
            jp.online_form(store, chosen, who)
    else:
        st.info("Leads run judges (a run spends money).", icon=":material/person:")
widgets.draw_active_jobs(store, "judge", allow_cancel=True)
widgets.draw_last_failure(store, "judge", "The judge run")

st.subheader("Fix a judge that diverges")
if identity.can(store, who, roles.Action.EDIT_JUDGE):
    st.caption("Read a version's prompt, model and settings; edit them into a new version; see "
               "what running it on the items reviewers graded costs; run it; compare it with the "
               "old version on the Agreement page; make the better one the version production "
               "figures use.")
    jep.draw(store, who)
else:
    st.info("Leads edit judges.", icon=":material/person:")

st.subheader("Runs")
runs = judge_sql.runs(store)
widgets.table_or_empty(runs, jp.RUN_COLUMNS, "No judge runs yet: run one above.")

st.subheader("Calls goldenloop made itself")
st.caption("Judge runs (and experiments and canaries) call models too. Those calls are kept "
           "out of Monitor, Compare versions, Conversations, Home and sampling frames, and "
           "shown here: calls, failures, latency and cost per judge version.")
widgets.table_or_empty(state.aggregate(store, judge_sql.own_calls), OWN_CALLS,
                       "No calls yet: run a judge above.")

st.subheader("Which judge versions count")
st.caption("Quality figures (Monitor, Compare versions, estimates, golden sets, risk-raised "
           "sampling) count a judge version's grades only when it passes the agreement gate "
           "for the criterion, as the Agreement page measures it. Not yet checked: no reviewer "
           "graded the same items.")
widgets.table_or_empty(state.aggregate(store, fitness.all_status), FITNESS,
                       "No judge grades yet.")

st.subheader("Estimate of all traffic: judge and humans together")
queues = jp.judged_queues(store)
if not queues:
    st.info("Draw a queue by a sampling design on the Queues page, run a judge on it, and grade "
            "some of its items: the estimate appears here.", icon=":material/functions:")
else:
    qid = st.selectbox("Queue", list(queues), format_func=queues.get, key="ppi_queue")
    version = jp.judge_version_choice(store, int(qid))
    est = None
    if version is None:
        st.info("No judge has graded this queue yet: run one on it above.",
                icon=":material/hourglass_empty:")
    else:
        try:
            est = ppi.queue_estimates(store, int(qid), judge_version=version)
        except estimation.EstimationError as exc:
            st.info(md(str(exc), 2000))
    if est is not None and est.empty:
        st.info("Nothing to estimate yet: it needs judge grades on this queue's items and human "
                "grades on some of the same items.", icon=":material/hourglass_empty:")
    elif est is not None:
        jp.draw_headline(est)
        st.dataframe(visible_frame(est), hide_index=True, column_config=jp.PPI_COLUMNS,
                     column_order=list(jp.PPI_COLUMNS), placeholder="—")
        st.caption("Prediction-powered inference: the judge's mean over every judged item, "
                   "corrected by the human−judge difference on the items both graded, weighted "
                   "by inclusion probabilities; 95% normal interval (goldenloop.estimation.ppi). Beside it, "
                   "the estimate from human grades alone. The judge alone is shown uncorrected: "
                   "do not report it.")

st.subheader("Judge versions")
versions = judge_sql.versions(store)
widgets.table_or_empty(versions, jp.VERSION_COLUMNS, "No judge has run yet.")
if versions.empty:  # judge names are data: plain text
    st.text(visible("Available: " + ", ".join(f"{j.name} ({j.version})" for j in judges.values())))

st.subheader("Failures")
st.caption("Refusals, unparseable answers, timeouts and HTTP errors, each with exactly what "
           "came back. They are never dropped; a rerun tries them again.")
widgets.table_or_empty(judge_sql.failures(store, limit=200), jp.FAILURE_COLUMNS, "No failures.")

st.subheader("Latest judge grades")
widgets.table_or_empty(judge_sql.judge_grades(store, limit=200), jp.GRADE_COLUMNS,
                       "No judge grades yet.")
