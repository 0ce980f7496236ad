"""goldenloop's SDK: trace an LLM application running anywhere into the goldenloop inbox.

```python
from goldenloop import sdk

sdk.configure(inbox="/srv/goldenloop/data/inbox", app="support-bot")  # or GOLDENLOOP_INBOX
client = sdk.wrap_openai(openai.OpenAI())

@sdk.trace
def answer(question: str) -> str:
    r = client.chat.completions.create(model="gpt-4o-mini",
                                       messages=[{"role": "user", "content": question}])
    return r.choices[0].message.content

with sdk.session("conversation-42", user_id="u-7"):
    answer("Where is my order?")
sdk.feedback(sdk.last_span(), True, "helpful")
```

Spans are buffered in memory and written by a background thread as spool files, which the
owner (``goldenloop serve``) imports. Nothing here opens the database, and nothing here raises
into the application: what could not be recorded is counted in ``stats()``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from goldenloop.sdk.context import Span, current_span, last_span, session
from goldenloop.sdk.openai_wrap import wrap_openai
from goldenloop.sdk.recorder import default_settings, get_recorder, install
from goldenloop.sdk.tracing import trace

__all__ = ["Span", "configure", "current_span", "feedback", "flush", "last_span", "session",
           "stats", "trace", "wrap_openai"]

log = logging.getLogger("goldenloop.sdk")


def configure(inbox: str | Path | None = None, *, app: str | None = None,
              environment: str | None = None, release: str | None = None,
              max_buffer: int | None = None, batch_spans: int | None = None,
              batch_seconds: float | None = None) -> None:
    """Where spool files go and what every span says about the application. Unset values come
    from GOLDENLOOP_INBOX, GOLDENLOOP_APP (or OTEL_SERVICE_NAME), GOLDENLOOP_ENVIRONMENT and
    GOLDENLOOP_RELEASE; the inbox defaults to the one beside GOLDENLOOP_DB."""
    install(default_settings(inbox=inbox, app=app, environment=environment, release=release,
                             max_buffer=max_buffer, batch_spans=batch_spans,
                             batch_seconds=batch_seconds))


def feedback(target: Span | str | tuple[str, str | None], value: bool | float | None = None,
             comment: str | None = None, *, kind: str | None = None,
             user_id: str | None = None) -> None:
    """Record what an end user said about a span (a ``Span``, or ``(trace_id, span_id)``) or a
    whole trace (its id). ``True``/``False`` is a thumb, a number a rating, ``None`` with a
    comment just the comment."""
    try:
        trace_id, span_id, session_id, span_user = _target(target)
        if kind is None:
            kind = ("thumbs" if isinstance(value, bool)
                    else "rating" if value is not None else "comment")
        get_recorder().add_feedback({
            "trace_id": trace_id, "span_id": span_id, "session_id": session_id,
            "user_id": user_id or span_user, "kind": kind,
            "value": None if value is None else float(value), "comment": comment,
            "created_at": time.time_ns() // 1000, "source": "sdk",
        })
    except Exception:
        log.warning("goldenloop: feedback not recorded", exc_info=True)


def _target(target: Any) -> tuple[str, str | None, str | None, str | None]:
    if isinstance(target, Span):
        return target.trace_id, target.span_id, target.session_id, target.user_id
    if isinstance(target, tuple):
        return str(target[0]), target[1], None, None
    if isinstance(target, str) and target:
        return target, None, None, None
    raise ValueError(f"feedback needs a span, a trace id or (trace_id, span_id), not {target!r}")


def flush() -> int:
    """Write every span recorded so far to the inbox now; returns how many were written."""
    return get_recorder().flush()


def stats() -> dict[str, int]:
    """Spans written, dropped (buffer full or unwritable inbox), files, errors, still buffered."""
    return get_recorder().stats()
