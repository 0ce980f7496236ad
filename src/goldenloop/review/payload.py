"""What the grading screen shows for an item, by kind.

- span: the conversation up to that turn (earlier messages apart, for the screen to collapse),
  the last user message and the answer, plus retrieved context and tool results from the span
  and the retrieval and tool spans of its trace;
- session: every turn of the conversation, graded as one;
- comparison: one input and two answers in the order shown (the screen calls them A and B);
- item: an imported example's input and output (its reference is not shown).

Model output and user text are untrusted: the screen shows them as plain text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from goldenloop.errors import QueueNotFound
from goldenloop.review import sql_payload as payload_sql
from goldenloop.review.claims import Claim
from goldenloop.store import Store


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Turn:
    turn_index: int | None
    user: str | None
    assistant: str | None
    span_key: int
    model_version: str | None
    status: str | None


@dataclass(frozen=True)
class SpanPayload:
    span_key: int
    app: str | None
    model_version: str | None
    start_time: datetime | None
    status: str | None
    error_message: str | None
    system: list[str]
    earlier: list[Message]            # the conversation before this turn
    user_message: str | None
    output: str | None
    retrieved_context: list[Any] = field(default_factory=list)
    tool_results: list[Any] = field(default_factory=list)
    kind: str = "span"


@dataclass(frozen=True)
class SessionPayload:
    session_id: str
    app: str | None
    turns: list[Turn]
    kind: str = "session"


@dataclass(frozen=True)
class ComparisonPayload:
    comparison_id: str
    input: str | None
    first: str | None                 # shown as A
    second: str | None                # shown as B
    kind: str = "comparison"


@dataclass(frozen=True)
class ItemPayload:
    item_id: str
    dataset: str | None
    input: str | None
    output: str | None
    kind: str = "item"


Payload = SpanPayload | SessionPayload | ComparisonPayload | ItemPayload


def _json_list(text: str | None) -> list[Any]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return [text]
    return value if isinstance(value, list) else [value]


def _content(value: Any) -> str:
    """Message content as text: a string, or the text parts of a list of content parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in value)
    return "" if value is None else json.dumps(value)


def _split_messages(messages: list[Any]) -> tuple[list[str], list[Message], str | None]:
    """(system messages, earlier messages, last user message) of an input message list."""
    system = [_content(m.get("content")) for m in messages
              if isinstance(m, dict) and m.get("role") in ("system", "developer")]
    convo = [Message(str(m.get("role")), _content(m.get("content"))) for m in messages
             if isinstance(m, dict) and m.get("role") not in ("system", "developer")]
    last_user = max((i for i, m in enumerate(convo) if m.role == "user"), default=None)
    if last_user is None:
        return system, convo, None
    return system, convo[:last_user], convo[last_user].content


def _turn_messages(turns: list[dict[str, Any]]) -> list[Message]:
    out = []
    for t in turns:
        if t["last_user_message"] is not None:
            out.append(Message("user", t["last_user_message"]))
        if t["output"] is not None:
            out.append(Message("assistant", t["output"]))
    return out


def span_payload(cur, span_key: int) -> SpanPayload:
    s = payload_sql.span(cur, span_key)
    if s is None:
        raise QueueNotFound(f"span {span_key} is no longer stored")
    system, earlier, user = _split_messages(_json_list(s["messages"]))
    if not s["messages"] and s["session_id"] is not None and s["turn_index"] is not None:
        earlier = _turn_messages(payload_sql.session_turns(cur, s["session_id"], s["turn_index"]))
    if s["system_prompt"] and s["system_prompt"] not in system:
        system.insert(0, s["system_prompt"])
    context, tools = [], []
    for row in payload_sql.trace_context(cur, s["trace_id"], s["end_time"] or s["start_time"],
                                         s["start_time"]):
        context += _json_list(row["retrieved_context"])
        tools += _json_list(row["tool_calls"])
    return SpanPayload(
        span_key=s["span_key"], app=s["app"], model_version=s["model_version"],
        start_time=s["start_time"], status=s["status"], error_message=s["error_message"],
        system=system, earlier=earlier, user_message=user or s["last_user_message"],
        output=s["output"], retrieved_context=context, tool_results=tools)


def session_payload(cur, session_id: str) -> SessionPayload:
    rows = payload_sql.session_turns(cur, session_id)
    if not rows:
        raise QueueNotFound(f"session {session_id} has no stored LLM calls")
    turns = [Turn(r["turn_index"], r["last_user_message"], r["output"], r["span_key"],
                  r["model_version"], r["status"]) for r in rows]
    return SessionPayload(session_id, rows[0]["app"], turns)


def comparison_payload(cur, comparison_id: str) -> ComparisonPayload:
    c = payload_sql.comparison(cur, comparison_id)
    if c is None:
        raise QueueNotFound(f"no comparison {comparison_id}")
    first, second = (c["b_output"], c["a_output"]) if c["shown_order"] == "BA" \
        else (c["a_output"], c["b_output"])
    return ComparisonPayload(comparison_id, c["input"], first, second)


def item_payload(cur, item_id: str) -> ItemPayload:
    i = payload_sql.item(cur, item_id)
    if i is None:
        raise QueueNotFound(f"no item {item_id}")
    return ItemPayload(i["item_id"], i["dataset"], i["input"], i["output"])


def payload(store: Store, claim: Claim) -> Payload:
    """What to show for the claimed item."""
    return payload_for(store, claim.target_type, claim.target_id)


def payload_for(store: Store, target_type: str, target_id: str) -> Payload:
    cur = store.cursor()
    if target_type == "span":
        return span_payload(cur, int(target_id))
    if target_type == "session":
        return session_payload(cur, target_id)
    if target_type == "comparison":
        return comparison_payload(cur, target_id)
    if target_type == "item":
        return item_payload(cur, target_id)
    raise QueueNotFound(f"unknown target type {target_type!r}")


def other_grades(store: Store, claim: Claim) -> list[dict[str, Any]]:
    """Judge scores and other reviewers' live grades of the claimed item's target (never the
    reviewer's own, never gold answers). Blind mode shows them only after a submission."""
    rows = payload_sql.target_grades(store.cursor(), claim.target_type, claim.target_id,
                                     claim.span_key)
    return [r for r in rows if not (r["source"] == "human" and r["author_id"] == claim.reviewer)]
