"""A table of requests (``metrics.traces.bucket_spans`` rows), each with a link to the Traces
page. Texts stay table cells: plain text, never rendered."""

from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from goldenloop_app.untrusted import visible_frame

COLUMNS = ["link", "start_time", "model_version", "app", "status", "error", "latency_ms",
           "output_tokens", "cost_usd", "match", "last_user_message", "output"]
CONFIG = {
    "link": st.column_config.LinkColumn("request", display_text="open", width="small"),
    "start_time": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "model_version": "model version",
    "latency_ms": st.column_config.NumberColumn("latency ms", format="%.0f"),
    "output_tokens": st.column_config.NumberColumn("output tokens", format="%d"),
    "cost_usd": st.column_config.NumberColumn("cost", format="$%.4f"),
    "error": st.column_config.TextColumn("error", help="Why a failed request failed"),
    "match": st.column_config.TextColumn("match", help="Where the search text was found"),
    "last_user_message": "user message (start)",
    "output": "answer (start)",
}


def trace_link(**ids: str) -> str:
    """A link to the Traces page, relative to the current page's URL (any base path works)."""
    return "trace?" + urlencode(ids)


def show(spans: pd.DataFrame, height: int | str = "auto") -> None:
    rows = spans.assign(link=[trace_link(trace=t, span=s) for t, s in
                              zip(spans["trace_id"], spans["span_id"], strict=True)])
    st.dataframe(visible_frame(rows), hide_index=True, column_config=CONFIG, height=height,
                 column_order=[c for c in COLUMNS if c in rows.columns], placeholder="—")
