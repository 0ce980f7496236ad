"""Drawing helpers of the Queues page: the lead's form that draws a queue, the queue table,
progress, gold accuracy and the estimates of all traffic. Nothing here caches: grading data
changes with every submission."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import streamlit as st

from goldenloop import estimation, review, sampling
from goldenloop import rubric as rubrics
from goldenloop.errors import GoldenloopError
from goldenloop.estimation import ppi
from goldenloop.spanstore import DUCKDB
from goldenloop.store import Store
from goldenloop.store.span_filter import SpanFilter
from goldenloop_app import state
from goldenloop_app.judge import panels as judge_panels
from goldenloop_app.untrusted import md, visible, visible_frame

DESIGNS = ("Stratified", "Uniform", "Risk-raised", "By hand", "Version comparison")
WHEN = "YYYY-MM-DD HH:mm"
QUEUE_COLUMNS = {
    "queue_id": st.column_config.NumberColumn("Queue", format="plain", width="small"),
    "name": st.column_config.TextColumn("Name"),
    "target_type": st.column_config.TextColumn("Unit", width="small"),
    "design": st.column_config.TextColumn("Design", width="small"),
    "purpose": st.column_config.TextColumn(
        "Purpose", width="small",
        help="review: blind grading of sampled items; adjudication: settle items others "
             "graded, with their grades shown"),
    "status": st.column_config.TextColumn("Status", width="small"),
    "progress": st.column_config.ProgressColumn("Done", min_value=0.0, max_value=1.0),
    "items": st.column_config.NumberColumn("Items", format="localized", width="small"),
    "done": st.column_config.NumberColumn("Items done", format="localized", width="small"),
    "gold_items": st.column_config.NumberColumn("Gold", format="localized", width="small"),
    "population_size": st.column_config.NumberColumn("Frame size", format="localized"),
    "rubric_name": st.column_config.TextColumn("Rubric", width="small"),
    "created_by": st.column_config.TextColumn("By", width="small"),
    "created_at": st.column_config.DatetimeColumn("Created (UTC)", format=WHEN),
}
REVIEWER_COLUMNS = {
    "reviewer": st.column_config.TextColumn("Reviewer"),
    "graded": st.column_config.NumberColumn("Graded", format="localized"),
    "gold_graded": st.column_config.NumberColumn("Gold graded", format="localized"),
    "late": st.column_config.NumberColumn("Late", format="localized",
                                          help="Submitted after the lock went to someone else"),
    "skipped": st.column_config.NumberColumn("Skipped", format="localized"),
    "put_off": st.column_config.NumberColumn("Later", format="localized"),
    "median_seconds": st.column_config.NumberColumn("Median s/item", format="%.1f"),
    "total_seconds": st.column_config.NumberColumn("Total s", format="%.0f"),
    "last_graded_at": st.column_config.DatetimeColumn("Last graded (UTC)", format=WHEN),
}
ESTIMATE_COLUMNS = {
    "criterion": st.column_config.TextColumn("Criterion"),
    "measure": st.column_config.TextColumn("Estimate of", width="medium"),
    "value": st.column_config.NumberColumn("Estimate", format="%.3f"),
    "ci_low": st.column_config.NumberColumn("95% low", format="%.3f"),
    "ci_high": st.column_config.NumberColumn("95% high", format="%.3f"),
    "n_graded": st.column_config.NumberColumn("Graded items", format="localized"),
    "n_sampled": st.column_config.NumberColumn("Sampled items", format="localized"),
}


def queue_table(store: Store) -> pd.DataFrame:
    df = review.list_queues(store)
    if df.empty:
        return df
    items = df["items"].where(df["items"] > 0)
    return df.assign(progress=(df["done"] / items).fillna(0.0))


def _frame_inputs(store: Store) -> tuple[SpanFilter, dict]:
    dims = state.monitor_dimensions(store)
    days = st.select_slider("Time window", options=[1, 7, 14, 30, 90, 0], value=30,
                            format_func=lambda d: "all data" if d == 0 else f"last {d} days",
                            help="Counted back from the last request in the store")
    start = None
    if days and dims.last is not None:
        start = dims.last.replace(minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    cols = st.columns(2)
    apps = cols[0].multiselect("Apps (all when empty)", dims.values.get("apps", []),
                               format_func=visible)
    versions = cols[1].multiselect("Model versions (all when empty)",
                                   dims.values.get("model_versions", []), format_func=visible)
    frame = sampling.make_frame(start=start, end=None, apps=apps, model_versions=versions)
    return frame, dims.values


def _design(kind: str, n: int):
    fixed = st.toggle("Exactly this many items", key="gl_fixed_size",
                      help="Draw exactly the sample size by randomised systematic sampling: "
                           "every unit keeps its stated inclusion probability, each stratum "
                           "gets the whole number below or above its expected count, and "
                           "estimates use a fixed-size variance. Off: each unit is drawn "
                           "independently (Poisson sampling), so the count varies.")
    if kind == "Uniform":
        return sampling.Uniform(n, fixed_size=fixed)
    if kind == "Risk-raised":
        return sampling.RiskRaised(n, fixed_size=fixed)
    by = st.multiselect("Strata", ["app", "model_version", "environment", "prompt_version"],
                        default=["app", "model_version"])
    allocation = st.radio("Allocation", ["proportional", "equal"], horizontal=True)
    return sampling.Stratified(n, by=tuple(by) or ("app",), allocation=allocation,
                               fixed_size=fixed)


PREVIEW_COLUMNS = {
    "stratum": st.column_config.TextColumn("Stratum"),
    "units": st.column_config.NumberColumn("In the frame", format="localized"),
    "expected": st.column_config.NumberColumn("Expected in the sample", format="%.1f"),
    "min_prob": st.column_config.NumberColumn("Lowest probability", format="%.4f"),
    "max_prob": st.column_config.NumberColumn("Highest probability", format="%.4f"),
}


def draw_preview(store: Store, frame: SpanFilter, design, unit: str) -> None:
    """The frame's size and the expected sample per stratum, before anything is created."""
    try:
        spans = state.span_store()
        # cached on the database file; a span store elsewhere is read afresh (not hashable)
        pv = (state.aggregate(store, sampling.preview_queue, frame, design, unit=unit)
              if spans.dialect == DUCKDB
              else sampling.preview_queue(store, frame, design, unit=unit, spans=spans))
    except GoldenloopError as exc:
        st.warning(md(str(exc), 2000), icon=":material/filter_alt_off:")
        return
    how = ("exactly" if pv.fixed_size else "about")
    st.caption(f"Preview: {pv.population_size:,} {unit}s in the frame; {how} "
               f"{pv.expected_size:,.1f} drawn in {len(pv.strata):,} strata.")
    st.dataframe(visible_frame(pv.strata), hide_index=True, column_config=PREVIEW_COLUMNS,
                 column_order=list(PREVIEW_COLUMNS), key="gl_preview", placeholder="—")
    if pv.examples is not None and len(pv.examples):
        st.caption("A few units of the frame, drawn at random (not the queue's draw):")
        st.dataframe(visible_frame(pv.examples), hide_index=True, key="gl_preview_examples",
                     placeholder="—")


def create_form(store: Store, who: str) -> None:
    """The lead's form: a frame, a design, and the queue's options; creates on the button."""
    kind = st.radio("Design", DESIGNS, horizontal=True, key="gl_design")
    c1, c2, c3 = st.columns([3, 1, 1])
    name = c1.text_input("Queue name", key="gl_queue_name", placeholder="e.g. weekly support check")
    n = c2.number_input("Sample size", 1, 100_000, 50, key="gl_queue_n",
                        help="The expected number of items. Each span is drawn independently "
                             "with its own probability (Poisson sampling), so the count drawn "
                             "varies around it; a queue by hand takes every span given.")
    per_item = c3.number_input("Reviewers per item", 1, 10, 1)
    unit = "span"
    if kind in ("Stratified", "Uniform", "Risk-raised", "By hand"):
        unit = st.radio("Unit", ["span", "session"], horizontal=True,
                        help="Grade single answers, or whole conversations")
    frame, values = _frame_inputs(store)
    design = _design(kind, int(n)) if kind in ("Stratified", "Uniform", "Risk-raised") else None
    keys_text, va, vb, purpose = "", None, None, "review"
    if kind == "By hand":
        keys_text = st.text_area("Span keys (one per line; empty: every unit of the frame)")
        if st.checkbox("Adjudication queue", key="gl_adjudication",
                       help="The reviewer settles items others graded: the earlier grades are "
                            "shown (no blind mode) and the new grades are marked adjudication"):
            purpose = "adjudication"
    if kind == "Version comparison":
        versions = values.get("model_versions", [])
        c1, c2 = st.columns(2)
        va = c1.selectbox("Version A", versions, index=0 if versions else None, format_func=visible)
        vb = c2.selectbox("Version B", versions, index=1 if len(versions) > 1 else None,
                          format_func=visible)
    if design is not None:
        draw_preview(store, frame, design, unit)
    rubric = "comparison" if kind == "Version comparison" else "default"
    criteria = _criteria_input(store, rubric)
    if not st.button("Create queue", type="primary", key="gl_create"):
        return
    opts = sampling.QueueOptions(name=name, created_by=who, rubric=rubric,
                                 reviewers_per_item=int(per_item), purpose=purpose,
                                 criteria=criteria)
    try:
        with st.spinner("Drawing the sample…"):
            made = _create(store, kind, opts, frame, design, unit, keys_text, va, vb, int(n))
    except (GoldenloopError, ValueError) as exc:
        st.error(md(str(exc), 2000), icon=":material/error:")
        return
    drawn = f"Queue {made.queue_id} created with {made.items:,} items"
    if design is not None and design.fixed_size and made.population_size:
        drawn += f", drawn from {made.population_size:,} in the frame (a fixed-size sample)"
    elif made.expected_size is not None and made.population_size:
        drawn += (f", drawn from {made.population_size:,} in the frame (expected "
                  f"{made.expected_size:,.0f}: each is drawn independently, so the count varies)")
    st.success(drawn, icon=":material/check:")
    # The new queue is the one shown below (and in the URL): the selectbox is drawn after
    # this form, so its value may still be set in this run.
    st.session_state["queue"] = int(made.queue_id)


def _criteria_input(store: Store, rubric_name: str) -> tuple[str, ...] | None:
    """The rubric's criteria the queue asks (every one unless the lead leaves some out);
    None when all are kept, so the queue follows the rubric."""
    rubric = state.aggregate(store, rubrics.current, rubric_name)
    names = [c.name for c in rubric.criteria]
    optional = {c.name for c in rubric.criteria if not c.required}
    chosen = st.multiselect(
        "Criteria asked", names, default=names, key=f"gl_queue_criteria_{rubric_name}",
        format_func=lambda n: visible(n + (" (optional)" if n in optional else "")),
        help="Reviewers of this queue answer only these criteria of the rubric; the others "
             "are neither shown nor required. Leave them all to ask the whole rubric.")
    return None if len(chosen) == len(names) else tuple(chosen)


def _create(store, kind, opts, frame, design, unit, keys_text, va, vb, n):
    if kind == "Version comparison":
        return sampling.create_version_comparison(store, opts, frame, va, vb, n,
                                                  spans=state.span_store())
    if kind == "By hand":
        keys = [int(k) for k in keys_text.split()] if keys_text.strip() else None
        return sampling.create_hand_queue(store, opts, span_keys=keys,
                                          frame=None if keys else frame, unit=unit,
                                          spans=state.span_store())
    return sampling.create_queue(store, opts, frame, design, unit=unit, spans=state.span_store())


def draw_progress(store: Store, queue_id: int) -> None:
    p = review.queue_progress(store, queue_id)
    cols = st.columns(5)
    cols[0].metric("Items", f"{p.items:,}")
    cols[1].metric("Done", f"{p.done:,}")
    cols[2].metric("Held now", f"{p.claimed:,}")
    cols[3].metric("Late grades", f"{p.late_reviews:,}")
    cols[4].metric("Median time per item",
                   "—" if p.median_seconds is None else f"{p.median_seconds:.1f} s")
    st.progress(p.fraction_done, text=f"{p.reviews_done:,} of {p.reviews_needed:,} reviews done")
    who = review.reviewer_progress(store, queue_id)
    if who.empty:
        st.caption("Nobody has graded this queue yet.")
    else:
        st.dataframe(visible_frame(who), hide_index=True, column_config=REVIEWER_COLUMNS,
                     column_order=list(REVIEWER_COLUMNS), placeholder="—")


def estimates(store: Store, queue_id: int) -> tuple[pd.DataFrame, list[str]]:
    """One row per criterion measure; the notes of the library's estimates, each naming the
    estimates it concerns unless it concerns them all."""
    rubric = review.queue_rubric(store, queue_id)
    rows, notes = [], {}
    for name, what, kw in estimation.measures(rubric):
        try:
            e = estimation.estimate(store, queue_id, name, **kw)
        except estimation.NonProbabilityQueue:
            raise
        except estimation.EstimationError:
            continue
        rows.append({"criterion": name, "measure": what, "value": e.value, "ci_low": e.ci_low,
                     "ci_high": e.ci_high, "n_graded": e.n_in_domain, "n_sampled": e.n_sampled})
        for n in e.notes:
            notes.setdefault(n, []).append(f"{name} {what}")
    return pd.DataFrame(rows), [n if len(where) == len(rows) else f"{', '.join(where)}: {n}"
                                for n, where in notes.items()]


def _headline(df: pd.DataFrame) -> None:
    """The first criterion's share (e.g. correctness graded 4 or better) in words, with its
    interval: the number a newcomer looks for, above the full table."""
    first = df[df["criterion"] == df["criterion"].iloc[0]]
    shares = first[first["measure"].str.startswith("share")]
    row = (shares if not shares.empty else first).iloc[0]
    share = str(row["measure"]).startswith("share")
    fmt = (lambda v: f"{v:.0%}") if share else (lambda v: f"{v:.2f}")
    st.metric(md(f"{row['criterion']} of all traffic in the frame: {row['measure']}"),
              fmt(row["value"]))
    st.caption(f"95% interval {fmt(row['ci_low'])} to {fmt(row['ci_high'])}, from "
               f"{row['n_graded']:,} graded of {row['n_sampled']:,} sampled items. "
               "Every measure of every criterion is in the table below.")


def draw_estimates(store: Store, queue_id: int) -> None:
    st.subheader("Estimated over all traffic in the frame")
    try:
        df, notes = estimates(store, queue_id)
    except estimation.NonProbabilityQueue:
        st.info("This queue was made by hand: it says nothing about traffic as a whole, so no "
                "estimate is shown.", icon=":material/info:")
        return
    if df.empty:
        st.caption("No grades yet: estimates appear after the first submission.")
        return
    _headline(df)
    st.dataframe(visible_frame(df), hide_index=True, column_config=ESTIMATE_COLUMNS,
                 column_order=list(ESTIMATE_COLUMNS), placeholder="—")
    for n in notes:
        st.caption(md(n, 2000))  # notes name criteria
    st.caption("Hájek estimator weighted by each item's inclusion probability, with a 95% "
               "normal interval (see goldenloop.estimation).")
    draw_ppi(store, queue_id)


def draw_ppi(store: Store, queue_id: int) -> None:
    """The judge-assisted estimate beside the human-only one, once a judge graded the queue."""
    df = ppi.queue_estimates(store, queue_id)
    if df.empty:
        st.caption("Run a judge on this queue (Judges page) to narrow these intervals with "
                   "prediction-powered inference. Only judge versions fit for use count: "
                   "those that pass the agreement gate (Agreement page).")
        return
    st.markdown("**With the judge** (prediction-powered inference)")
    st.dataframe(visible_frame(df), hide_index=True, column_config=judge_panels.PPI_COLUMNS,
                 column_order=list(judge_panels.PPI_COLUMNS), placeholder="—")
    st.caption("The judge's mean over every judged item, corrected by the human−judge "
               "difference on items both graded: the judge's bias is removed, and an "
               "informative judge narrows the interval (see goldenloop.estimation.ppi).")


def draw_gold(store: Store, queue_id: int) -> None:
    st.subheader("Gold accuracy")
    acc = review.gold_accuracy(store, queue_id)
    if acc.empty:
        st.caption("No gold items graded yet. Seed one below: reviewers grade it unaware.")
    else:
        st.dataframe(visible_frame(acc), hide_index=True, placeholder="—")


def gold_form(store: Store, queue_id: int, who: str, target_type: str) -> None:
    """Seed a gold item: a target and its known answers as JSON (criterion: value)."""
    with st.expander("Seed a gold item"):
        target = st.text_input("Target id (span key, or session id)", key="gl_gold_target")
        answers = st.text_area("Known answers as JSON", key="gl_gold_answers",
                               placeholder='{"correctness": 5, "tone": ["on-brand"], '
                                           '"conciseness": "concise", "safety": "safe"}')
        if st.button("Add gold item", key="gl_gold_add"):
            try:
                item = review.add_gold(store, queue_id, target_type, target.strip(),
                                       json.loads(answers or "{}"), who)
            except (GoldenloopError, ValueError) as exc:
                st.error(md(str(exc), 2000))
            else:
                st.success(f"Gold item {item} added")


def seed_queue_choice(names: dict[int, str], key: str = "queue") -> None:
    """Let a ``?queue=<id>`` link choose the queue: the id is turned into the widget's value
    before the widget is drawn (first run only); the page writes the chosen id back."""
    raw = st.query_params.get(key)
    if key not in st.session_state and raw and raw.strip().isdigit() and int(raw) in names:
        st.session_state[key] = int(raw)
