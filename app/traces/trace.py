"""Traces: one request in full, its trace as a tree with timings, and its conversation turn
by turn; without an id in the URL, a search and a list of recent requests.

Links carry the ids in the URL (``?trace=…&span=…``, ``?trace=…``, ``?session=…``), so the
Monitor's drill-down and any shared link land here. Users' and models' words are shown as
plain text only (``st.text``, ``st.code``, table cells): never markdown or HTML.
"""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import streamlit as st

from goldenloop.metrics import conversation_in, text_search, traces, traces_in
from goldenloop.metrics.conversations import IDLE_MINUTES
from goldenloop.spanstore import DUCKDB
from goldenloop_app import state
from goldenloop_app.common import span_filters, span_table
from goldenloop_app.common.widgets import fmt_ms
from goldenloop_app.untrusted import md, visible, visible_frame

KIND_COLORS = {"agent": "#4c78a8", "llm": "#f58518", "retrieval": "#54a24b", "tool": "#b279a2"}
LIST_ORDERS = {"most recent": "recent", "slowest": "slowest", "costliest": "costliest",
               "most output tokens": "most_output_tokens",
               "most offensive user message": "most_offensive_user"}
LIST_CONDITIONS = {"all requests": None, "failed": "failed", "errors": "error",
                   "timeouts": "timeout", "offensive user message": "user_offensive",
                   "thumbs down": "thumbs_down", "graded": "graded"}


def fmt_num(v, spec: str = ",.0f") -> str:
    return "—" if v is None or pd.isna(v) else format(v, spec)


def plain(label: str, text) -> None:
    """A labelled text as written (escaped, never rendered), or a dash."""
    st.caption(label)
    if text is None or (not isinstance(text, str) and pd.isna(text)) or text == "":
        st.text("—")
    else:
        st.code(visible(text), language=None, wrap_lines=True)


# -- one span ----------------------------------------------------------------------------------
def draw_span(span: dict) -> None:
    cols = st.columns(5)
    for col, (label, value) in zip(cols, [
        ("Status", span["status"] or "—"), ("Latency", fmt_ms(span["latency_ms"])),
        ("First token", fmt_ms(span["ttft_ms"])), ("Input tokens", fmt_num(span["input_tokens"])),
        ("Output tokens", fmt_num(span["output_tokens"])),
    ], strict=True):
        col.metric(label, md(value), border=True)  # a metric's value renders Markdown
    cost = "no cost" if pd.isna(span["cost_usd"]) else f"cost ${span['cost_usd']:.4f}"
    st.text(visible(f"{span['kind'] or 'span'} · {cost} · model version {span['model_version'] or '—'} · "
            f"prompt {span['prompt_name'] or '—'} "
            f"{span['prompt_version'] or ''} · app {span['app'] or '—'} · "
            f"{span['environment'] or '—'} · started {span['start_time']:%Y-%m-%d %H:%M:%S} UTC"))
    if span["status"] != "ok" and (span["error_type"] or span["error_message"]):
        plain("Error", f"{span['error_type'] or ''}: {span['error_message'] or ''}")
    plain("Last user message", span["last_user_message"])
    plain("Answer", span["output"])
    st.text("Signals: " + signal_line(span["user_offensive"], span["user_sentiment"], "user")
            + " · " + signal_line(span["output_offensive"], span["output_sentiment"], "answer")
            + ("" if pd.isna(span["refusal"]) or span["refusal"] is None else
               f" · refusal: {'yes' if span['refusal'] else 'no'}"))
    # feedback lives with the spans, grades in the workflow store: two reads, by ids and key
    feedback = state.span_aggregate(spans, traces_in.span_feedback_in, span["trace_id"],
                                    span["span_id"])
    grades = state.aggregate(store, traces_in.span_grades, int(span["span_key"]))
    left, right = st.columns(2)
    left.caption("End-user feedback")
    if feedback.empty:
        left.text("none")
    else:
        left.dataframe(visible_frame(feedback), hide_index=True, placeholder="—")
    right.caption("Grades (human and judge, current)")
    if grades.empty:
        right.text("none")
    else:
        right.dataframe(visible_frame(grades), hide_index=True, placeholder="—")
    with st.expander("System prompt, input messages, context and metadata"):
        plain("System prompt", span["system_prompt"])
        for name in ("messages", "retrieved_context", "tool_calls", "metadata"):
            plain(name.replace("_", " ").capitalize(), pretty_json(span[name]))


def signal_line(offensive, sentiment, whose: str) -> str:
    if offensive is None or pd.isna(offensive):
        return f"{whose} not scored"
    return f"{whose} offensive {offensive:.0%}, sentiment {sentiment:+.2f}"


def text_or(value, default: str) -> str:
    return value if isinstance(value, str) and value else default


def pretty_json(value):
    if not isinstance(value, str) or not value:
        return value
    try:
        return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
    except ValueError:
        return value


# -- one trace ---------------------------------------------------------------------------------
def waterfall(tree: pd.DataFrame, current: str | None) -> alt.Chart:
    """Each span as a bar from its start to its end, in tree order (children under their
    parent, indented), coloured by kind; the span being read is outlined."""
    data = tree.assign(
        row=[visible(f"{i + 1:>3}. {'   ' * d}{k or '?'} · {n or ''}")[:80]
             for i, (d, k, n) in enumerate(zip(tree["depth"], tree["kind"], tree["name"], strict=True))],
        end_ms=tree[["end_ms", "offset_ms"]].max(axis=1).clip(lower=tree["offset_ms"] + 1),
        current=tree["span_id"] == current,
        model_version=tree["model_version"].map(visible),
    )[["row", "kind", "offset_ms", "end_ms", "latency_ms", "status", "model_version", "current"]]
    kinds = sorted(data["kind"].fillna("?").unique())
    colors = [KIND_COLORS.get(k, "#888888") for k in kinds]
    return alt.Chart(data).mark_bar(height=14).encode(
        y=alt.Y("row:N", sort=None, title=None, axis=alt.Axis(labelLimit=360, labelFont="monospace")),
        x=alt.X("offset_ms:Q", title="ms from the trace's start"), x2="end_ms:Q",
        color=alt.Color("kind:N", scale=alt.Scale(domain=kinds, range=colors),
                        legend=alt.Legend(orient="top", title=None)),
        stroke=alt.condition("datum.current", alt.value("#111111"), alt.value(None)),
        strokeWidth=alt.value(2),
        tooltip=[alt.Tooltip("row:N", title="span"), alt.Tooltip("latency_ms:Q", title="ms", format=",.0f"),
                 alt.Tooltip("status:N"), alt.Tooltip("model_version:N", title="model version")],
    ).properties(height=alt.Step(22))  # a row per span: no container height to collapse into


def draw_trace(trace_id: str, current: str | None) -> None:
    tree = state.span_aggregate(spans, traces.trace_tree_in, trace_id)
    total = tree["end_ms"].max()
    st.text(f"Trace {visible(trace_id)}: {len(tree)} spans over {fmt_ms(total)}"
            + (f" (the first {traces.MAX_TRACE_SPANS:,})" if len(tree) >= traces.MAX_TRACE_SPANS else ""))
    st.altair_chart(waterfall(tree, current), width="stretch")
    st.caption("The tree, indented by depth (start offset, duration, status):")
    lines = [f"{'  ' * d}{'└ ' if d else ''}{k or '?'} {n or ''}  +{o:,.0f} ms  {fmt_ms(ms)}  {s or ''}"
             for d, k, n, o, ms, s in zip(tree["depth"], tree["kind"], tree["name"], tree["offset_ms"],
                                          tree["latency_ms"], tree["status"], strict=True)]
    st.code(visible("\n".join(lines)), language=None)
    rows = tree.assign(link=[span_table.trace_link(trace=trace_id, span=s) for s in tree["span_id"]])
    st.dataframe(visible_frame(rows), hide_index=True,
                 column_order=["link", "span_id", "kind", "name", "depth", "offset_ms", "latency_ms",
                               "status", "model_version", "input_tokens", "output_tokens"],
                 column_config={"link": st.column_config.LinkColumn("span", display_text="open"),
                                "offset_ms": st.column_config.NumberColumn("start +ms", format="%.0f"),
                                "latency_ms": st.column_config.NumberColumn("ms", format="%.0f")},
                 placeholder="—")


# -- one conversation --------------------------------------------------------------------------
def draw_conversation(session_id: str, current_trace: str | None) -> None:
    # turns from the span store, their grades from the database file by span key
    turns = state.span_aggregate(spans, conversation_in.conversation_in, session_id)
    keys = tuple(int(k) for ks in turns["span_keys"] for k in ks)
    turns = conversation_in.with_grades(turns, state.aggregate(store, conversation_in.grade_lines,
                                                               keys))
    st.text(f"Session {visible(session_id)}: {len(turns)} turns from "
            f"{turns['start_time'].min():%Y-%m-%d %H:%M} to {turns['end_time'].max():%Y-%m-%d %H:%M} UTC")
    for t in turns.itertuples():
        if pd.notna(t.idle_min) and t.idle_min > IDLE_MINUTES:
            st.caption(f"Idle {t.idle_min:,.0f} minutes: by the {IDLE_MINUTES}-minute rule of the "
                       "Conversations page, a new session starts here.")
        here = " (this trace)" if t.trace_id == current_trace else ""
        with st.container(border=True):
            st.text(visible(f"Turn {t.turn}{here} · {t.start_time:%Y-%m-%d %H:%M:%S} UTC · "
                    f"{t.model_version or '—'} · {t.status or 'no LLM call'} · {fmt_ms(t.llm_ms)}"))
            user, answer = st.columns(2)
            with user:
                plain("User", t.user_message)
            with answer:
                plain("Answer", t.answer)
            st.text("Signals: " + signal_line(t.user_offensive, t.user_sentiment, "user") + " · "
                    + signal_line(t.output_offensive, t.output_sentiment, "answer"))
            st.text(visible(f"Feedback: {text_or(t.feedback, 'none')} · grades: {text_or(t.grades, 'none')}"))
            if isinstance(t.span_id, str):
                st.page_link(page(), label="Open this turn", icon=":material/open_in_new:",
                             query_params={"trace": t.trace_id, "span": t.span_id})


def page():
    return next((p for p in state.navigation_pages() if p.url_path == "trace"), "traces/trace.py")


# -- search and recent requests ----------------------------------------------------------------
def draw_search() -> None:
    with st.form("find"):
        ident = st.text_input("Span id, trace id or session id", placeholder="paste an id")
        if st.form_submit_button("Open", icon=":material/search:") and ident.strip():
            try:
                found = state.span_aggregate(spans, traces_in.find_in, ident.strip())
            except traces.NotFound as exc:
                st.warning(md(str(exc)), icon=":material/search_off:")
            else:
                st.query_params.from_dict({k.split("_")[0]: v for k, v in found.items()})
                st.rerun()
    dims = state.monitor_dimensions(store)
    if dims.empty:
        st.info("No LLM requests yet: import traces or run `goldenloop demo`.", icon=":material/inbox:")
        return
    f, phrase = span_filters.sidebar_filters(dims, only=("app", "model"))
    if draw_text_search(f, phrase):
        return
    left, right = st.columns(2)
    which = left.selectbox("Requests", list(LIST_CONDITIONS), key="which")
    order = right.selectbox("First", list(LIST_ORDERS), key="order")
    condition = LIST_CONDITIONS[which]
    # on ClickHouse the graded condition takes the graded span keys from the workflow store
    graded = state.aggregate(store, traces_in.graded_keys) \
        if condition == "graded" and spans.dialect != DUCKDB else None
    found = state.span_aggregate(spans, traces_in.bucket_spans_in, f, condition=condition,
                                 order=LIST_ORDERS[order], limit=200, graded=graded)
    st.caption(f"{found.total:,} requests in the {phrase} match; the first {len(found.spans):,}. "
               "Open one to see its trace and conversation.")
    if found.spans.empty:
        return
    span_table.show(found.spans, height=560)


def draw_text_search(f, phrase: str) -> bool:
    """Search by the words of messages and answers over the sidebar's range; True when a
    search's results are shown (they replace the list of recent requests)."""
    with st.form("text_search"):
        left, mid, right = st.columns([4, 3, 1])
        text = left.text_input("Search in messages and answers", key="ts_text",
                               placeholder="a word, a phrase or a regular expression")
        fields = mid.multiselect("In", list(text_search.FIELDS), key="ts_fields",
                                 default=list(text_search.DEFAULT_FIELDS))
        limit = right.number_input("At most", 1, text_search.MAX_LIMIT, 100, key="ts_limit")
        a, b, _ = st.columns([2, 2, 4])
        regex = a.checkbox("Regular expression", key="ts_regex")
        case = b.checkbox("Match case", key="ts_case")
        if st.form_submit_button("Search", icon=":material/manage_search:"):
            st.session_state["ts_query"] = (text.strip(), tuple(fields), int(limit), regex, case)
            st.session_state.pop("ts_result", None)
    query = st.session_state.get("ts_query")
    if not query or not query[0]:
        return False
    if st.button("Clear the search", key="ts_clear", icon=":material/close:"):
        st.session_state.pop("ts_query", None)
        st.session_state.pop("ts_result", None)
        st.rerun()
    result = st.session_state.get("ts_result")
    if result is None or result[0] != (query, f):  # a new search (or range): run it once
        bar = st.progress(0.0, text="Searching…")
        try:
            found = text_search.search_spans_in(
                spans, f, query[0], fields=query[1], limit=query[2], regex=query[3],
                case_sensitive=query[4],
                progress=lambda x: bar.progress(min(x, 1.0), text=f"Searching… {x:.0%} read"))
        except text_search.SearchError as exc:
            bar.empty()
            st.warning(md(str(exc), 2000), icon=":material/search_off:")
            return True
        bar.empty()
        st.session_state["ts_result"] = result = ((query, f), found)
    found = result[1]
    more = "" if found.complete else " (stopped at the limit: older ones may match too)"
    st.caption(f"{len(found.spans):,} requests match in the {phrase}, newest first, after "
               f"reading {found.scanned:,} of {found.total:,}{more}.")
    if not found.spans.empty:
        span_table.show(found.spans, height=560)
    return True


st.title("Traces")
store = state.get_store()
spans = state.span_store()
q = st.query_params
span_id, trace_id, session_id = q.get("span"), q.get("trace"), q.get("session")

if not (span_id or trace_id or session_id):
    st.caption("Find a request by id, or pick one from the list. The Monitor's charts link here "
               "too: click a point, then open a request.")
    draw_search()
    st.stop()

if st.button("New search", icon=":material/search:"):
    st.query_params.clear()
    st.rerun()
try:
    if span_id and not trace_id:  # a bare span id: find its trace
        trace_id = state.span_aggregate(spans, traces_in.find_in, span_id).get("trace_id")
    span = state.span_aggregate(spans, traces_in.span_detail_in, trace_id, span_id) if span_id else None
    if trace_id and not session_id:
        tree = state.span_aggregate(spans, traces.trace_tree_in, trace_id)
        root = span or state.span_aggregate(spans, traces_in.span_detail_in, trace_id,
                                            tree["span_id"].iloc[0])
        session_id = root["session_id"] if isinstance(root["session_id"], str) else None
except traces.NotFound as exc:
    st.warning(md(str(exc)), icon=":material/search_off:")
    st.stop()

names = (["Request"] if span else []) + (["Trace"] if trace_id else []) \
    + (["Conversation"] if session_id else [])
for tab, name in zip(st.tabs(names), names, strict=True):
    with tab:
        if name == "Request":
            draw_span(span)
        elif name == "Trace":
            draw_trace(trace_id, span_id)
        else:
            try:
                draw_conversation(session_id, trace_id)
            except traces.NotFound as exc:
                st.warning(md(str(exc)), icon=":material/search_off:")
