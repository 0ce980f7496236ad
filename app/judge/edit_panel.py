"""The Judges page's "fix a judge that diverges" panel (leads): a judge version's prompt, model
and settings, an edit form making a new version, the cost of running it on the items
reviewers graded (or on a version's disagreements with them), the run, a link to the
Agreement page's versions side by side, and the choice of the version production figures use.

Prompts are shown with st.code (plain text); names from data go through ``md`` in labels."""

from __future__ import annotations

import streamlit as st
import yaml

from goldenloop import judge
from goldenloop.agreement import records as agreement_sql
from goldenloop.errors import GoldenloopError
from goldenloop.judge import records as judge_sql
from goldenloop.judge.jobs import selection_of
from goldenloop.store import Store
from goldenloop.workers.kinds import JudgeJob
from goldenloop.workers.submit import submit
from goldenloop_app import state
from goldenloop_app.untrusted import md, visible

_PENDING = "judge_edit_pending"  # a version just made: chosen on the next run of the page
_DONE = "judge_edit_done"  # the last run's summary, kept across the rerun that follows it
ON_HUMAN = "The items reviewers graded"
ON_DISAGREEMENTS = "Where a version disagreed with reviewers"


def _version_options(store: Store) -> dict[str, str]:
    """Every version: the judge files' current ones, then every version stored (edits, runs)."""
    out = {j.version: visible(f"{j.name} {j.version} · {j.judge.model} · file")
           for j in judge.available(store).values()}
    for r in judge_sql.versions(store).itertuples():
        out.setdefault(str(r.judge_version),
                       visible(f"{r.judge_name} {r.judge_version} · {r.model} · {r.origin}"))
    return out


def draw(store: Store, who: str) -> None:
    options = _version_options(store)
    if st.session_state.get(_PENDING) in options:
        st.session_state["judge_edit_base"] = st.session_state.pop(_PENDING)
    version = st.selectbox("Version to read and edit", list(options), format_func=options.get,
                           key="judge_edit_base")
    try:
        j = judge.load_version(store, str(version))
    except GoldenloopError as exc:
        st.error("This judge version cannot be loaded.", icon=":material/error:")
        st.text(visible(exc))
        return
    _show(j)
    _edit_form(store, j, who)
    _run(store, j)
    _production(store, j, who)


def _show(j: judge.LoadedJudge) -> None:
    settings = {k: getattr(j.judge, k) for k in ("model", "temperature", "max_tokens", "reason",
                                                 "redact")}
    st.text("Model and settings")
    st.code(yaml.safe_dump(settings, sort_keys=False), language="yaml")
    st.text("System prompt")
    st.code(j.judge.system or "(none)", language=None, wrap_lines=True)
    st.text("Prompt template")
    st.code(j.judge.template, language=None, wrap_lines=True)


def _edit_form(store: Store, j: judge.LoadedJudge, who: str) -> None:
    with st.form(f"judge_edit_form_{j.version}"):
        system = st.text_area("System prompt", j.judge.system, height=160)
        template = st.text_area("Prompt template", j.judge.template, height=200)
        c1, c2, c3 = st.columns(3)
        model = c1.text_input("Model", j.judge.model)
        temperature = c2.number_input("Temperature", 0.0, 2.0, float(j.judge.temperature), 0.1)
        max_tokens = c3.number_input("Answer length (tokens)", 16, 16_000, j.judge.max_tokens)
        made = st.form_submit_button("Make a new version", icon=":material/edit:")
    if not made:
        return
    wanted = {"system": system, "template": template, "model": model.strip(),
              "temperature": float(temperature), "max_tokens": int(max_tokens)}
    changes = {k: v for k, v in wanted.items() if v != getattr(j.judge, k)}
    try:
        new = judge.edit(store, j.version, changes, by=who)
    except GoldenloopError as exc:
        st.error("No new version was made.", icon=":material/error:")
        st.text(visible(exc))
        return
    st.session_state[_PENDING] = new.version
    st.toast(md(f"New version {new.version} of {new.name}"))
    st.rerun()


def _run(store: Store, j: judge.LoadedJudge) -> None:
    st.markdown("**Run this version where reviewers graded**")
    on = st.radio("Run it on", (ON_HUMAN, ON_DISAGREEMENTS), horizontal=True, key="judge_edit_on")
    params: dict = {"judge": j.name, "judge_version": j.version}
    if on == ON_HUMAN:
        params["human_graded"] = True
    else:
        graded = state.aggregate(store, agreement_sql.judge_versions_of, j.criterion.name)
        others = [str(v) for v in graded["judge_version"] if v != j.version]
        if not others:
            st.info("No other version of this criterion has grades to disagree with.")
            return
        params["disagreements_of"] = st.selectbox("Disagreements of", others,
                                                  format_func=visible, key="judge_edit_of")
    try:
        selection = selection_of(store, j, params, state.span_store())
        est = judge.estimate_cost(store, j, selection)
    except GoldenloopError as exc:
        st.info(md(str(exc), 2000))
        return
    st.text("Cost estimate: " + visible(est.describe()))
    params["budget_usd"] = st.number_input("Budget for this run (USD)", 0.0, 10_000.0,
                                           max(1.0, round(2 * (est.most_usd or 0), 2)),
                                           key="judge_edit_budget",
                                           help="The run stops before spending more")
    if st.button("Run on these items", type="primary", icon=":material/play_arrow:",
                 key="judge_edit_run", disabled=est.calls == 0):
        _start(store, params)
    if st.session_state.get(_DONE):
        st.text(visible(st.session_state[_DONE]))
    if est.already_graded:
        page = next((p for p in state.navigation_pages() if p.url_path == "agreement"), None)
        if page is not None:
            st.page_link(page, label="Agreement → this version beside the others, with paired "
                                     "intervals", icon=":material/compare_arrows:")  # no data


def _start(store: Store, params: dict) -> None:
    """A job while serving (the page follows it); else here, then the page again, so the
    estimate and the link to the Agreement page show what the run added."""
    try:
        job = JudgeJob.of(**params, origin="app")
        sent = submit(job, store=store, serving=state.serving(), origin="app")
        if sent.queued:  # the page follows the job
            st.toast(f"Judge run {sent.message}")
            st.rerun()
        bar = st.progress(0.0, "Starting")
        r = judge.run_params(store, job.params(), lambda f, m: bar.progress(min(1.0, f), md(m)),
                             spans=state.span_store())
    except GoldenloopError as exc:
        st.error("The run did not start.", icon=":material/error:")
        st.text(visible(exc))
        return
    st.session_state[_DONE] = f"Run {r.run_id}: {r.summary}"
    st.cache_data.clear()  # the fitness table and agreement now include this version's grades
    st.rerun()


def _production(store: Store, j: judge.LoadedJudge, who: str) -> None:
    crit = j.criterion.name
    try:
        current = judge.production_versions(store).get(crit)
    except GoldenloopError as exc:
        st.error("The production choice file cannot be read.", icon=":material/error:")
        st.text(visible(exc))
        current = None
    st.text(visible(f"Production figures of {crit} use: " + (
        f"version {current} while it passes the agreement gate" if current
        else "every version that passes the agreement gate")))
    if current == j.version:
        return
    if st.button("Use in production figures", icon=":material/verified:", key="judge_edit_prod"):
        try:
            judge.use_in_production(store, crit, j.version, by=who)
        except GoldenloopError as exc:
            st.error("Not changed.", icon=":material/error:")
            st.text(visible(exc))
            return
        st.cache_data.clear()  # every cached figure that counts judge versions changes
        st.toast(md(f"Production figures of {crit} now use {j.version} while it is fit"))
        st.rerun()
