"""The Agreement page's "One judge across slices" section: one judge version's agreement in
each slice of a field against the rest of its slices, with the heterogeneity check's flags
(``goldenloop.agreement.heterogeneity``). Names from data reach the page only as widget
options, dataframe cells and chart data.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from goldenloop.agreement import criterion_report as pdata
from goldenloop.agreement import gate as g
from goldenloop.agreement import heterogeneity as het
from goldenloop_app import state
from goldenloop_app.agreement import charts
from goldenloop_app.untrusted import visible_frame


def draw(store, page: pdata.AgreementPage, options: list[str], *,
         field_label: Callable[[str], str], judge_label: Callable[[tuple], str]) -> None:
    """One judge version across the slices of a field, each slice against the rest, with the
    heterogeneity check's flags."""
    st.subheader("One judge across slices")
    left, right = st.columns(2)
    judges = sorted(page.disagreements)
    judge = left.selectbox("Judge version", judges, key="across_judge", format_func=judge_label)
    by = right.selectbox("Field", options, key="across_by", format_func=field_label)
    statistic = page.query.rule.statistic
    rows = state.aggregate(store, pdata.across_slices, page.query.filter, judge, by, statistic,
                           n_resamples=page.query.n_resamples, seed=page.query.seed)
    if rows.empty or rows["agreement"].notna().sum() == 0:
        st.info("This judge version has no pairs to slice here.", icon=":material/info:")
        return
    st.vega_lite_chart(spec=charts.across_slices_chart(rows, statistic).vega_spec(),
                       width="stretch")
    flagged = rows.assign(flag=rows["direction"].map(
        {"lower": "flagged: lower", "higher": "flagged: higher"}).fillna(""),
        slice_value=rows["slice_value"].astype(str))
    st.dataframe(visible_frame(flagged), hide_index=True, column_order=[
        "slice_value", "flag", "agreement", "elsewhere", "difference", "ci_low", "ci_high", "p",
        "q", "n", "n_clusters", "reason"], column_config={
        "slice_value": st.column_config.TextColumn("Slice"),
        "flag": st.column_config.TextColumn("Flag", width="medium"),
        "agreement": st.column_config.NumberColumn("Here", format="%.3f"),
        "elsewhere": st.column_config.NumberColumn("Elsewhere", format="%.3f"),
        "difference": st.column_config.NumberColumn("Difference", format="%+.3f"),
        "ci_low": st.column_config.NumberColumn("95% low", format="%+.3f"),
        "ci_high": st.column_config.NumberColumn("95% high", format="%+.3f"),
        "p": st.column_config.NumberColumn("p", format="%.4f"),
        "q": st.column_config.NumberColumn("q (BH)", format="%.4f"),
        "n": st.column_config.NumberColumn("Pairs", format="localized"),
        "n_clusters": st.column_config.NumberColumn("Sessions", format="localized"),
        "reason": st.column_config.TextColumn("Why", width="large")}, key="across_table", placeholder="—")
    n_flag = int(rows["flagged"].sum())
    st.caption(f"{g.label(statistic)} of this judge in each slice against the rest of its "
               f"slices. {n_flag} of {len(rows)} slices flagged: Benjamini–Hochberg q at most "
               f"{het.DEFAULT_ALPHA:.2f} (a session-bootstrap t-test of the difference) and a "
               f"difference of at least {het.DEFAULT_MIN_DIFFERENCE:.2f}. Slices with fewer than "
               f"{pdata.SMALL_SLICE} sessions are shown but not tested. When one slice is bad, "
               "the others can show as higher: the rest they are compared with holds it.")
