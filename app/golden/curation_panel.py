"""The Golden sets page's curation for retraining: conditions on other criteria, the evidence
behind a row, de-duplication and the split, and rows excluded or restored with a reason.

Criterion names and labels come from the data: they are shown through ``visible`` in
choices and as plain text or dataframes, never Markdown.
"""

from __future__ import annotations

import streamlit as st

from goldenloop import golden
from goldenloop.golden import exclusions
from goldenloop.golden.curation import Condition
from goldenloop_app.untrusted import md, visible, visible_frame


def conditions(opts: golden.Options, main: str) -> tuple[Condition, ...]:
    """Conditions on other criteria of the same target (outside the form: what can be asked
    depends on the criteria chosen)."""
    crits = {c.name: c for c in opts.criteria if c.name != main}
    chosen = st.multiselect("Also require, on other criteria", list(crits), key="gs_also",
                            format_func=visible, placeholder="no other criterion",
                            help="Each chosen criterion must meet its condition: an "
                                 "adjudication settles it, else most of its reviewers")
    out = []
    for name in chosen:
        c = crits[name]
        st.text(visible(f"{name}:"))
        cols = st.columns(4)
        kw: dict = {}
        if c.labels:
            kw["labels"] = tuple(cols[0].multiselect(
                "one of", c.labels, key=f"gs_also_any_{name}", format_func=visible,
                placeholder="any label"))
            kw["without"] = tuple(cols[1].multiselect(
                "none of", c.labels, key=f"gs_also_not_{name}", format_func=visible,
                placeholder="no label ruled out"))
        elif c.value_type in ("interval", "ordinal", "boolean"):
            kw["min_value"] = cols[0].number_input("at least", value=None,
                                                   key=f"gs_also_min_{name}")
            kw["max_value"] = cols[1].number_input("at most", value=None,
                                                   key=f"gs_also_max_{name}")
        kw["not_flagged"] = cols[2].checkbox("not flagged", key=f"gs_also_flag_{name}")
        try:
            out.append(Condition(name, **kw))
        except golden.FilterError:
            st.caption("Choose what this criterion must meet, or remove it.")
    return tuple(out)


def evidence_and_split() -> dict:
    """Inside the filter form: evidence, de-duplication and split."""
    cols = st.columns(4)
    kw = {"min_agreeing": int(cols[0].number_input(
        "Agreeing reviewers, at least", 0, 10, 0, key="gs_min_agreeing",
        help="Reviewers whose verdict is the row's"))}
    acc = cols[1].number_input("Their accuracy on gold items, at least", 0.0, 1.0, value=None,
                               step=0.05, key="gs_gold_acc", placeholder="not required",
                               help="Only reviewers this accurate on gold items count as "
                                    "agreeing (a row needs at least one)")
    kw["min_gold_accuracy"] = acc
    kw["dedupe"] = cols[2].checkbox("De-duplicate inputs", key="gs_dedupe",
                                    help="One row per input (case, spacing and Unicode form "
                                         "ignored): the best-supported row is kept")
    split = cols[3].checkbox("Split by session", key="gs_split",
                             help="Train / validation / test; no conversation in two parts")
    if split:
        s = st.columns(4)
        shares = (s[0].number_input("train %", 0, 100, 80, key="gs_train"),
                  s[1].number_input("validation %", 0, 100, 10, key="gs_val"),
                  s[2].number_input("test %", 0, 100, 10, key="gs_test"))
        kw["split"] = tuple(float(x) for x in shares)
        kw["split_seed"] = int(s[3].number_input("seed", 0, 2**31 - 1, 0, key="gs_seed"))
    return kw


def exclusion_panel(store, who: str, name: str, rows) -> None:
    """Exclude a shown row or restore an excluded one, each with a reason; the next build of
    ``name`` applies them."""
    try:
        excluded = exclusions.excluded(store, name)
    except golden.FilterError:
        return
    with st.expander(f"Excluded rows ({len(excluded)})", icon=":material/block:",
                     expanded=not excluded.empty):
        if not excluded.empty:
            st.dataframe(visible_frame(excluded), hide_index=True, placeholder="—")
        cols = st.columns([2, 3, 1])
        keys = [k for k in rows["row_key"].tolist() if k not in set(excluded["row_key"])]
        row = cols[0].selectbox("Row", keys + excluded["row_key"].tolist(), key="gs_ex_row",
                                format_func=visible, index=None, placeholder="a row key")
        reason = cols[1].text_input("Reason", key="gs_ex_reason")
        is_out = row is not None and row in set(excluded["row_key"])
        if cols[2].button("Restore" if is_out else "Exclude", key="gs_ex_go",
                          disabled=row is None or not reason.strip()):
            try:
                (exclusions.restore if is_out else exclusions.exclude)(
                    store, name, row, reason, who)
            except golden.GoldenError as exc:
                st.error(md(str(exc), 2000), icon=":material/error:")
                return
            st.rerun()
