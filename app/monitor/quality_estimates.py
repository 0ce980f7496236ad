"""Correctness of all traffic as the review queues estimate it: reviewers alone, and with the
judge (prediction-powered inference) once a judge graded the queue. Shown on the Monitor page
under the daily correctness chart, whose points are grades, not estimates of all traffic."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from goldenloop.estimation import ppi
from goldenloop.store import Store
from goldenloop_app import state
from goldenloop_app.untrusted import visible_frame

COLUMNS = {
    "queue": st.column_config.TextColumn("Review queue"),
    "window_start": st.column_config.DatetimeColumn("From", format="YYYY-MM-DD"),
    "window_end": st.column_config.DatetimeColumn("To", format="YYYY-MM-DD"),
    "measure": st.column_config.TextColumn("Estimate of"),
    "human": st.column_config.TextColumn("Reviewers alone (95% interval)"),
    "judge": st.column_config.TextColumn("With the judge, PPI (95% interval)"),
    "n_graded": st.column_config.NumberColumn("Graded", format="localized"),
    "n_judged": st.column_config.NumberColumn("Judged", format="localized"),
}


def _interval(share: bool, value, low, high) -> str:
    if value is None or pd.isna(value):
        return "no judge fit for use yet"  # only judge versions that pass the gate count
    f = "{:.1%}" if share else "{:.2f}"
    return f"{f.format(value)} ({f.format(low)}–{f.format(high)})"


def draw(store: Store, start=None, end=None) -> None:
    df = state.aggregate(store, ppi.traffic_estimates, start, end)
    if df.empty:
        st.caption("No review queue drawn by a sampling design covers this range yet: create one "
                   "on the Queues page to estimate correctness of all traffic.")
        return
    share = df["measure"].str.startswith("share")
    show = df.assign(
        measure=df["criterion"] + ": " + df["measure"],
        human=[_interval(*r) for r in zip(share, df.human_value, df.human_ci_low,
                                          df.human_ci_high, strict=True)],
        judge=[_interval(*r) for r in zip(share, df.value, df.ci_low, df.ci_high, strict=True)])
    st.dataframe(visible_frame(show), hide_index=True, column_config=COLUMNS, column_order=list(COLUMNS),
                 placeholder="—")
    st.caption("Each queue's sample weighted by its inclusion probabilities (Hájek); with a "
               "judge, its grades on every item corrected by the reviewers' on the items both "
               "graded (see the Queues and Judges pages).")
