"""Pieces of the Judges page: the endpoint line, the run form, and the tables' columns.

A run is a job for the server's workers when serving (progress bar and cancel on the page),
else it runs right here with a progress bar. Judge answers and raw failures are model output:
they reach the page only inside dataframes (plain text)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from goldenloop import judge
from goldenloop.errors import GoldenloopError
from goldenloop.judge import records as judge_sql
from goldenloop.review import records as review_sql
from goldenloop.store import Store
from goldenloop.workers.kinds import JudgeJob
from goldenloop.workers.submit import submit
from goldenloop_app import state
from goldenloop_app.common import widgets
from goldenloop_app.untrusted import md, visible, visible_frame

WHEN = widgets.WHEN
VERSION_COLUMNS = {
    "judge_name": st.column_config.TextColumn("Judge"),
    "judge_version": st.column_config.TextColumn("Version", help="Hash of the judge's content"),
    "kind": st.column_config.TextColumn("Kind", width="small"),
    "criterion": st.column_config.TextColumn("Criterion"),
    "model": st.column_config.TextColumn("Model"),
    "runs": st.column_config.NumberColumn("Runs", format="localized"),
    "grades": st.column_config.NumberColumn("Grades", format="localized"),
    "failures": st.column_config.NumberColumn("Failures", format="localized"),
    "cost_usd": st.column_config.NumberColumn("Cost", format="$%.4f"),
    "origin": st.column_config.TextColumn("From", width="small"),
}
RUN_COLUMNS = {
    "run_id": st.column_config.NumberColumn("Run", format="plain", width="small"),
    "judge_name": st.column_config.TextColumn("Judge"),
    "judge_version": st.column_config.TextColumn("Version"),
    "target_kind": st.column_config.TextColumn("On", width="small"),
    "status": st.column_config.TextColumn("Status", width="small"),
    "targets": st.column_config.NumberColumn("Targets", format="localized"),
    "judged": st.column_config.NumberColumn("Judged", format="localized"),
    "cached": st.column_config.NumberColumn("No call", format="localized",
                                            help="Answered from the cache or graded before"),
    "failed": st.column_config.NumberColumn("Failed", format="localized"),
    "not_run": st.column_config.NumberColumn("Not run", format="localized",
                                             help="Left when the budget or a cancel stopped it"),
    "calls": st.column_config.NumberColumn("Calls", format="localized",
                                           help="HTTP attempts, retries included"),
    "cost_usd": st.column_config.NumberColumn("Cost", format="$%.4f"),
    "budget_usd": st.column_config.NumberColumn("Budget", format="$%.2f"),
    "position_inconsistent": st.column_config.NumberColumn(
        "Order flips", format="localized", help="Pairwise: verdicts that changed with the order"),
    "started_at": st.column_config.DatetimeColumn("Started (UTC)", format=WHEN),
}
FAILURE_COLUMNS = {
    "run_id": st.column_config.NumberColumn("Run", format="plain", width="small"),
    "target_type": st.column_config.TextColumn("Target", width="small"),
    "target_id": st.column_config.TextColumn("Id", width="small"),
    "kind": st.column_config.TextColumn("Failure"),
    "message": st.column_config.TextColumn("Message", width="medium"),
    "raw_answer": st.column_config.TextColumn("Raw answer", width="large"),
    "attempts": st.column_config.NumberColumn("Attempts", width="small"),
}
GRADE_COLUMNS = {
    "judge_name": st.column_config.TextColumn("Judge"),
    "judge_version": st.column_config.TextColumn("Version"),
    "target_type": st.column_config.TextColumn("Target", width="small"),
    "target_id": st.column_config.TextColumn("Id", width="small"),
    "criterion": st.column_config.TextColumn("Criterion"),
    "value_number": st.column_config.NumberColumn("Score", format="%g"),
    "value_label": st.column_config.TextColumn("Label"),
    "comment": st.column_config.TextColumn("Reason", width="large"),
    "created_at": st.column_config.DatetimeColumn("When (UTC)", format=WHEN),
}
PPI_COLUMNS = {
    "criterion": st.column_config.TextColumn("Criterion"),
    "measure": st.column_config.TextColumn("Estimate of"),
    "value": st.column_config.NumberColumn("Judge + humans (PPI)", format="%.3f"),
    "ci_low": st.column_config.NumberColumn("95% low", format="%.3f"),
    "ci_high": st.column_config.NumberColumn("95% high", format="%.3f"),
    "human_value": st.column_config.NumberColumn("Humans only", format="%.3f"),
    "human_ci_low": st.column_config.NumberColumn("95% low ", format="%.3f"),
    "human_ci_high": st.column_config.NumberColumn("95% high ", format="%.3f"),
    "judge_mean": st.column_config.NumberColumn("Judge alone", format="%.3f",
                                                help="Uncorrected: biased when the judge is"),
    "n_judged": st.column_config.NumberColumn("Judged items", format="localized"),
    "n_human": st.column_config.NumberColumn("Also by humans", format="localized"),
}
TARGETS = ("A review queue", "Every span of a filter", "A random sample of a filter")


def endpoint_line(j: judge.LoadedJudge) -> str:
    """Where the judge's calls go; the key's variable is named, its value never shown."""
    e = j.judge.endpoint
    base = e.base_url or os.environ.get(e.base_url_env) or "api.openai.com (the default)"
    key = "set" if os.environ.get(e.api_key_env) else "not set"
    return md(f"Calls go to {base} (from {e.base_url_env if not e.base_url else 'the judge file'}); "
            f"the key comes from {e.api_key_env}, which is {key}. Model {j.judge.model}, "
            f"temperature {j.judge.temperature:g}.")


def judge_choice(judges: dict[str, judge.LoadedJudge]) -> judge.LoadedJudge | None:
    names = list(judges)
    name = st.selectbox("Judge", names, key="judge", format_func=lambda n: (
        visible(f"{n} · {judges[n].judge.kind} · {judges[n].criterion.name} · {judges[n].version}")))
    return judges.get(name) if name else None


def _queue_options(store: Store, j: judge.LoadedJudge) -> dict[int, str]:
    want = "comparison" if j.judge.kind == "pairwise" else "span"
    qs = review_sql.queues(store)
    qs = qs[qs["target_type"] == want]
    return {int(q): visible(f"{q} · {n} ({items:,} items)")
            for q, n, items in zip(qs["queue_id"], qs["name"], qs["items"], strict=True)}


def run_form(store: Store, j: judge.LoadedJudge) -> None:
    """Choose what to judge and the limits; start the run."""
    target = st.radio("What to judge", TARGETS, horizontal=True, key="judge_target")
    params: dict = {"judge": j.name}
    if target == TARGETS[0]:
        queues = _queue_options(store, j)
        if not queues:
            st.info(f"No queue of {'comparisons' if j.judge.kind == 'pairwise' else 'spans'} "
                    "yet: create one on the Queues page, or judge a filter.")
            return
        params["queue_id"] = st.selectbox("Queue", list(queues), format_func=queues.get,
                                          key="judge_queue")
    else:
        dims = state.monitor_dimensions(store)
        c1, c2, c3 = st.columns(3)
        apps = c1.multiselect("Apps", [a for a in dims.values.get("apps", [])
                                       if a != "goldenloop-judge"], key="judge_apps")
        versions = c2.multiselect("Model versions", dims.values.get("model_versions", []),
                                  key="judge_versions")
        days = c3.number_input("Last days", 1, 3650, 7, key="judge_days")
        end = (dims.last or datetime.now(UTC).replace(tzinfo=None)) + timedelta(hours=1)
        params["frame"] = {"apps": apps, "model_versions": versions,
                           "start": (end - timedelta(days=int(days))).isoformat()}
        if target == TARGETS[2]:
            params["sample"] = int(st.number_input("Sample size", 1, 100_000, 200,
                                                   key="judge_sample"))
    c1, c2, c3 = st.columns(3)
    params["budget_usd"] = c1.number_input("Budget (USD)", 0.0, 10_000.0, 1.0, step=0.5,
                                           key="judge_budget",
                                           help="The run stops before spending more")
    params["concurrency"] = c2.slider("Calls at once", 1, 32, 8, key="judge_concurrency")
    params["use_cache"] = c3.checkbox("Reuse cached answers", True, key="judge_cache",
                                      help="No second call for the same judge version and "
                                           "the same prompt")
    params["redact"] = c3.checkbox("Redact before sending", j.judge.redact, key="judge_redact",
                                   help="Mask e-mail addresses, phone numbers and API keys in "
                                        "the judged texts (this judge's file says "
                                        f"{'yes' if j.judge.redact else 'no'})")
    if st.button("Run judge", type="primary", icon=":material/play_arrow:", key="judge_run"):
        _start(store, params)


def _start(store: Store, params: dict) -> None:
    try:
        job = JudgeJob.of(**params, origin="app")
        sent = submit(job, store=store, serving=state.serving(), origin="app")
        if sent.queued:
            st.toast(f"Judge run {sent.message}")
            st.rerun()
        bar = st.progress(0.0, "Starting")
        r = judge.run_params(store, job.params(), lambda f, m: bar.progress(min(1.0, f), md(m)),
                             spans=state.span_store())
    except GoldenloopError as exc:
        st.error(md(str(exc), 2000))
        return
    bar.progress(1.0, md(r.summary, 2000))


def judge_version_choice(store: Store, queue_id: int) -> str | None:
    """The judge version to combine with the humans (the one that graded most items first)."""
    v = judge_sql.queue_judge_versions(store, queue_id)
    if v.empty:
        return None
    labels = {str(r.judge_version): visible(f"{r.judge_name} {r.judge_version} · {r.items:,} items judged")
              for r in v.itertuples()}
    # Keyed by the versions present: when a new one grades the queue, the choice starts over at
    # the version that judged most items instead of keeping the old one.
    return st.selectbox("Judge version", list(labels), format_func=labels.get,
                        key=f"ppi_judge_{queue_id}_{'_'.join(labels)}")


def judged_queues(store: Store) -> dict[int, str]:
    qs = review_sql.queues(store)
    qs = qs[qs["design"].notna() & (qs["design"] != "by_hand")]
    return {int(q): visible(f"{q} · {n}") for q, n in zip(qs["queue_id"], qs["name"], strict=True)}


def draw_headline(est: pd.DataFrame) -> None:
    """One measure as metrics, PPI beside humans only, so the gain is read at a glance."""
    labels = [visible(f"{c} · {m}") for c, m in zip(est["criterion"], est["measure"], strict=True)]
    share = [i for i, m in enumerate(est["measure"]) if m.startswith("share ≥")]
    pick = st.selectbox("Measure", range(len(labels)), index=share[0] if share else 0,
                        format_func=labels.__getitem__, key="ppi_measure")
    row = est.iloc[int(pick)]
    c1, c2, c3 = st.columns(3)
    c1.metric("Judge + humans (PPI)", f"{row.value:.3f}",
              help=f"95% interval {row.ci_low:.3f} to {row.ci_high:.3f}")
    c1.caption(f"95%: {row.ci_low:.3f} to {row.ci_high:.3f} · {row.n_judged:,} judged, "
               f"{row.n_human:,} also by humans")
    if pd.notna(row.human_value):
        c2.metric("Humans only", f"{row.human_value:.3f}",
                  help=f"95% interval {row.human_ci_low:.3f} to {row.human_ci_high:.3f}")
        narrower = 1 - (row.ci_high - row.ci_low) / (row.human_ci_high - row.human_ci_low)
        c2.caption(f"95%: {row.human_ci_low:.3f} to {row.human_ci_high:.3f} · the judge makes "
                   f"the interval {narrower:.0%} narrower" if narrower > 0 else
                   f"95%: {row.human_ci_low:.3f} to {row.human_ci_high:.3f}")
    c3.metric("Judge alone (uncorrected)", f"{row.judge_mean:.3f}",
              help="Biased by as much as the judge is: the PPI estimate corrects it")


ONLINE_COLUMNS = {
    "judge_name": st.column_config.TextColumn("Judge"),
    "fraction": st.column_config.NumberColumn("Share of new spans", format="percent"),
    "budget_usd": st.column_config.NumberColumn("Budget per pass", format="$%.2f"),
    "enabled": st.column_config.CheckboxColumn("On"),
    "updated_by": st.column_config.TextColumn("Set by"),
    "updated_at": st.column_config.DatetimeColumn("Set (UTC)", format=WHEN),
}


def online_form(store: Store, j: judge.LoadedJudge, who: str) -> None:
    """Online mode: the server judges a share of new LLM spans as they are imported."""
    current = pd.DataFrame(judge_sql.online_settings(store))
    if not current.empty:
        st.dataframe(visible_frame(current), hide_index=True, column_config=ONLINE_COLUMNS,
                     column_order=list(ONLINE_COLUMNS), placeholder="—")
    c1, c2, c3 = st.columns(3)
    fraction = c1.number_input("Share of new spans (%)", 0.1, 100.0, 5.0, step=0.5,
                               key="online_fraction") / 100
    budget = c2.number_input("Budget per pass (USD)", 0.0, 1000.0, 0.5, key="online_budget")
    on = c3.toggle("On", True, key="online_on")
    if st.button("Save online judging for this judge", key="online_save"):  # a label: no data
        try:
            judge.configure_online(store, j.name, fraction, budget_usd=budget or None,
                                   enabled=on, by=who)
        except GoldenloopError as exc:
            st.error(md(str(exc), 2000))
            return
        st.toast(f"Online judging with {md(j.name)} {'on' if on else 'off'}")
        st.rerun()
