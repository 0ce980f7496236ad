"""Conversations: how long sessions run, where users drop off, how many turns a resolved
conversation takes, and whether users grow more offensive or negative deeper into a session.

One cached library call (``metrics.conversations.conversation_stats_in``, on the configured
span store) gives every figure;
the definitions are the library's, stated on the page.
"""

from __future__ import annotations

import streamlit as st

from goldenloop.errors import GoldenloopError
from goldenloop.metrics import conversations as C
from goldenloop_app import state
from goldenloop_app.common import span_filters, span_table
from goldenloop_app.conversations import charts as cc
from goldenloop_app.untrusted import md, visible, visible_frame


def sidebar():
    dims = state.monitor_dimensions(store)
    if dims.empty:
        st.info("No LLM requests yet: no conversations to analyse.", icon=":material/inbox:")
        st.code("goldenloop demo", language=None)
        st.stop()
    f, phrase = span_filters.sidebar_filters(dims, only=("app", "model"))
    idle = st.sidebar.number_input("Session idle timeout (minutes)", min_value=1, max_value=24 * 60,
                                   value=C.IDLE_MINUTES, step=5, key="idle", bind="query-params",
                                   help="A gap longer than this between two turns starts a new session")
    return f, int(idle), phrase


def pct(v) -> str:
    return "—" if v is None else f"{v:.1%}"


def draw_tiles(stats: C.ConversationStats) -> None:
    drop = stats.dropoff().iloc[0]
    resolved = stats.resolved_summary()
    summary = stats.turn_summary().iloc[0]
    tiles = [
        ("Sessions", f"{stats.total_sessions:,}", "split by the idle timeout"),
        ("Turns", f"{stats.total_turns:,}", "traces with an LLM call"),
        ("Turns/session", f"{summary['mean_turns']:.2f}",
         f"mean; median {summary['median_turns']:g}"),
        ("Drop-off", pct(drop["any_share"]),
         f"{int(drop['any']):,} sessions ended unanswered, errored or with negative feedback"),
        ("Resolved", pct(resolved["share"]),
         f"{resolved['resolved']:,} sessions ended with positive feedback"),
        ("To resolution", "—" if resolved["median_turns"] is None
         else f"{resolved['median_turns']:g}",
         "median turns of the sessions that ended with positive feedback"),
    ]
    for col, (label, value, help_text) in zip(st.columns(len(tiles)), tiles, strict=True):
        col.metric(label, value, help=help_text, border=True)


def draw_dropoff(stats: C.ConversationStats) -> None:
    st.subheader("Drop-off")
    table = stats.dropoff()
    left, right = st.columns(2, gap="medium")
    left.altair_chart(cc.dropoff(table[table["model_version"] != "all versions"]), width="stretch")
    shown = table[["model_version", "sessions"]].copy()
    for name in (*C.DROP_REASONS, "any"):
        shown[name] = [f"{n:,} ({s:.1%})" for n, s in zip(table[name], table[f"{name}_share"],
                                                           strict=True)]
    event = st.dataframe(visible_frame(shown), hide_index=True, key="dropoff_table", on_select="rerun",
                         selection_mode="single-row", column_config={
                             "model_version": "model version",
                             "negative_feedback": "negative feedback", "any": "any of these"},
                         placeholder="—")
    rows = event.selection.rows if event else []
    version = shown["model_version"].iloc[rows[0]] if rows else "all versions"
    draw_dropped(version)
    right.caption("Counted on the session's last turn: unanswered (timeout or empty answer), "
                  "errored, or negative feedback (thumbs down, rating of 2 or less). Each reason "
                  "is counted on its own; a session with several counts once in \"any of these\". "
                  "The share is of the version's sessions.")


REASONS = {"any of these": "any", "unanswered": "unanswered", "errored": "errored",
           "negative feedback": "negative_feedback"}


def draw_dropped(version: str) -> None:
    """The sessions behind a row of the drop-off table (pick a row; all versions otherwise),
    most recent first, each linking to its last turn and conversation."""
    st.caption("Sessions that dropped off (select a row of the table to pick a version), most "
               "recent first:")
    st.text(visible(f"Version: {version}"))  # a version name is data: plain text
    label = st.segmented_control("Reason", list(REASONS), default="any of these", key="drop_reason",
                                 label_visibility="collapsed") or "any of these"
    picked = None if version == "all versions" else version
    dropped = state.span_aggregate(spans, C.dropped_sessions_in, f, idle, REASONS[label], picked, 100)
    if dropped.empty:
        st.text("None.")
        return
    rows = dropped.assign(link=[span_table.trace_link(trace=t, span=s) for t, s in
                                zip(dropped["trace_id"], dropped["span_id"], strict=True)])
    st.dataframe(visible_frame(rows), hide_index=True, height=300, column_order=[
        "link", "last_turn_at", "model_version", "turns", "status", "feedback",
        "last_user_message", "session_id"], column_config={
        "link": st.column_config.LinkColumn("last turn", display_text="open", width="small"),
        "last_turn_at": st.column_config.DatetimeColumn("last turn (UTC)",
                                                        format="YYYY-MM-DD HH:mm"),
        "model_version": "model version", "last_user_message": "last user message (start)",
        "session_id": "session id"}, placeholder="—")


def draw_turns(stats: C.ConversationStats) -> None:
    st.subheader("Turns per session and to resolution")
    left, right = st.columns(2, gap="medium")
    left.altair_chart(cc.turns_per_session(stats.turns_per_session(by_version=True)), width="stretch")
    left.dataframe(visible_frame(stats.turn_summary()), hide_index=True, column_config={
        "model_version": "model version",
        "mean_turns": st.column_config.NumberColumn("mean turns", format="%.2f"),
        "median_turns": st.column_config.NumberColumn("median turns", format="%g")}, placeholder="—")
    res = stats.resolution()
    if res.empty:
        right.info("No session ended with positive feedback in this range.",
                   icon=":material/hourglass_empty:")
    else:
        right.altair_chart(cc.resolution(res), width="stretch")
        r = stats.resolved_summary()
        right.caption(f"{r['resolved']:,} resolved sessions ({pct(r['share'])} of all) took "
                      f"{r['mean_turns']:.2f} turns on average, median {r['median_turns']:g}. "
                      "Resolved: the last turn got a thumbs up or a rating of 4 or more, and no "
                      "negative feedback.")


def draw_depth(stats: C.ConversationStats) -> None:
    st.subheader("User messages by turn depth")
    depth = stats.by_depth()
    if depth.empty or not depth["scored"].any():
        st.info("No automatic signals on these user messages yet: they appear once the scorers "
                "have read them.", icon=":material/hourglass_empty:")
        return
    left, right = st.columns(2, gap="medium")
    left.altair_chart(cc.offensive_by_depth(depth), width="stretch")
    right.altair_chart(cc.sentiment_by_depth(depth), width="stretch")
    first, deep = depth.iloc[0], depth.iloc[-1]
    st.caption(f"Turn 1: {pct(first['offensive_share'])} offensive, mean sentiment "
               f"{first['sentiment']:+.3f} ({int(first['scored']):,} messages); turn "
               f"{int(deep['depth'])}{'+' if deep['depth'] >= C.MAX_DEPTH else ''}: "
               f"{pct(deep['offensive_share'])} offensive, mean sentiment {deep['sentiment']:+.3f} "
               f"({int(deep['scored']):,} messages). Offensive language is the probability of "
               "the offensive-language scorer at 0.5 or more (not a general safety judgement); "
               "sentiment is VADER's compound score, made for short English texts.")


st.title("Conversations")
store = state.get_store()
try:
    f, idle, phrase = sidebar()
    spans = state.span_store()  # where spans, signals and feedback live (DuckDB or ClickHouse)
    stats = state.span_aggregate(spans, C.conversation_stats_in, f, idle)
except GoldenloopError as exc:
    st.error(md(str(exc), 2000), icon=":material/error:")
    st.stop()

st.caption(f"{phrase.capitalize()}: {f.start:%Y-%m-%d %H:%M} to {f.end:%Y-%m-%d %H:%M} UTC. A turn "
           "is a trace with an LLM call. A session is a run of turns of one session id (or, "
           f"without one, of one user) with no idle gap over {idle} minutes: a session id resumed "
           "after a longer gap counts as a new session. A session's model version is the one "
           "that answered its last turn.")
if stats.empty:
    st.info("No conversations match these filters in this time range.",
            icon=":material/filter_alt_off:")
    st.stop()

draw_tiles(stats)
draw_dropoff(stats)
draw_turns(stats)
draw_depth(stats)
