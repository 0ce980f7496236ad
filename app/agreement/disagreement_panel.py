"""The Agreement page's disagreement list: filtered by the size of the gap, sorted, each row
linked to its trace, rows selected, and an adjudication queue made of the selected rows only.

Texts in the list come from users' data: they reach the page only as dataframe cells.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from goldenloop.access import roles
from goldenloop.agreement import criterion_report as pdata
from goldenloop.agreement import disagreements as dis
from goldenloop.errors import GoldenloopError
from goldenloop_app import state
from goldenloop_app.common import identity
from goldenloop_app.common.span_table import trace_link
from goldenloop_app.untrusted import md, visible, visible_frame

LIST_COLUMNS = {
    "link": st.column_config.LinkColumn("Trace", display_text="open", width="small"),
    "gap": st.column_config.NumberColumn("Gap", format="%g", width="small",
                                         help="Scale steps between the two grades (interval "
                                              "criteria: the difference; nominal: 1)"),
    "item": st.column_config.TextColumn("Item", width="small"),
    "criterion": st.column_config.TextColumn("Criterion", width="small"),
    "reviewer": st.column_config.TextColumn("Reviewer", width="small"),
    "human": st.column_config.TextColumn("Reviewer's grade", width="small"),
    "judge": st.column_config.TextColumn("Judge's grade", width="small"),
    "judge_reason": st.column_config.TextColumn("Judge's reason", width="medium"),
    "human_comment": st.column_config.TextColumn("Reviewer's comment", width="medium"),
    "question": st.column_config.TextColumn("Question", width="medium"),
    "answer": st.column_config.TextColumn("Answer", width="large"),
    "app": st.column_config.TextColumn("App", width="small"),
    "model_version": st.column_config.TextColumn("Model version", width="small"),
    "start_time": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
}


def judge_name(key: tuple[str, str]) -> str:
    return f"{key[0]} · {key[1]}"


def _links(rows: pd.DataFrame) -> list[str | None]:
    return [trace_link(trace=t, span=s) if isinstance(t, str) and isinstance(s, str) else None
            for t, s in zip(rows["trace_id"], rows["span_id"], strict=True)]


def draw(store, page: pdata.AgreementPage, key: tuple[str, str], cell: tuple | None,
         who: str | None) -> None:
    st.subheader("Disagreements")
    f = page.query.filter
    count = page.disagreements.get(key, 0)
    show = st.toggle(f"Show disagreements ({count:,})", key="show_disagreements")
    if cell is None and not show:
        st.caption("Turn on to list every item where the judge and a reviewer disagree, or click "
                   "a cell of the confusion matrix.")
        return
    rows = state.aggregate(store, pdata.disagreement_list, f, key, cell, page.query.tolerance)
    what = (f"reviewer said {cell[0]!r}, judge said {cell[1]!r}" if cell is not None
            else "judge and reviewer disagree")
    st.text(visible(f"{len(rows):,} pairs where {what} — judge {judge_name(key)}."))  # names
    if rows.empty:
        return
    left, right = st.columns(2)
    order = left.selectbox("Order", list(dis.ORDERS), key="dis_order")
    gaps = sorted(float(g) for g in rows["gap"].dropna().unique())
    min_gap = gaps[0] if gaps else 0.0
    if len(gaps) > 1:
        min_gap = right.select_slider("Gap at least", options=gaps, value=gaps[0],
                                      format_func=lambda g: f"{g:g}", key="dis_min_gap")
    shown = dis.arrange(rows, min_gap=min_gap, order=order)
    shown = shown.assign(link=_links(shown))
    # Keyed by what is listed: a selection means rows as shown, so a new list starts afresh.
    event = st.dataframe(visible_frame(shown), hide_index=True, column_config=LIST_COLUMNS,
                         column_order=list(LIST_COLUMNS), placeholder="",
                         on_select="rerun", selection_mode="multi-row",
                         key=f"disagreement_list:{f.criterion}:{key}:{cell}:{order}:{min_gap}")
    picked = shown.iloc[sorted(event.selection.rows)] if event.selection.rows else shown.iloc[:0]
    st.caption(f"{len(shown):,} listed, {len(picked):,} selected: tick rows to queue them; "
               "'open' shows a row's trace.")
    draw_adjudication(store, page, key, picked, who)


def draw_adjudication(store, page, key, rows: pd.DataFrame, who: str | None) -> None:
    if not identity.can(store, who, roles.Action.CREATE_QUEUE):
        st.caption("A lead can turn selected rows into an adjudication queue: type a lead's "
                   "name in the sidebar.")
        return
    keys, others = dis.queue_span_keys(rows)
    f = page.query.filter
    default = f"Adjudicate {f.criterion} · {key[0]} · {datetime.now():%Y-%m-%d}"
    name = st.text_input("Queue name", default, key=f"adjudication_name:{f.criterion}:{key}")
    pairs = f" ({len(rows):,} pairs)" if len(rows) != len(keys) else ""
    if st.button(f"Make an adjudication queue of the {len(keys):,} selected spans{pairs}",
                 type="primary", icon=":material/gavel:", key="make_adjudication",
                 disabled=not keys):
        try:
            queue, left_out = dis.adjudication_queue(
                store, rows, name=name, created_by=who, rubric=f.rubric_name or "default",
                description=f"Disagreements of {judge_name(key)} with reviewers on "
                            f"{f.criterion}")
        except GoldenloopError as exc:
            st.error(md(str(exc), 2000), icon=":material/error:")
            return
        st.success(f"Queue {queue.queue_id} holds {queue.items:,} items; grades made in it are "
                   "flagged as adjudication and kept out of agreement.",
                   icon=":material/check_circle:")
        st.text(visible(f"Queue {queue.queue_id}: {queue.name}"))  # its name quotes the judge's
        if left_out:
            st.caption(f"{left_out} selected items are not spans and were not queued.")
    elif others:
        st.caption(f"{others} selected items are traces, sessions or items, not spans: a queue "
                   "made by hand holds spans only.")
