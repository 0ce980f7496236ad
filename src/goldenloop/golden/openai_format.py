"""Golden rows as OpenAI files: the fine-tuning chat format and the evals input + ideal format,
each record validated before it is written.

Fine-tuning (one ``{"messages": [...]}`` per line): the conversation as the model saw it
(system prompt and earlier turns when present) followed by the expected output as the last
assistant message. Earlier assistant turns were answered in production and nobody reviewed
them, so they carry ``"weight": 0`` (not trained on); the reviewed answer has ``weight`` 1.

The checks follow OpenAI's published chat fine-tuning format (its data-preparation cookbook):
each example is an object with a ``messages`` list; each message has a known role and only
known keys; content is a non-empty string (an assistant message calling tools may have none);
``weight`` is 0 or 1 and only on assistant messages; there is at least one assistant message;
and the example fits the context (estimated at 4 characters per token, as no tokenizer is
downloaded at run time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
MESSAGE_KEYS = frozenset({"role", "content", "name", "weight", "tool_calls", "tool_call_id",
                          "function_call"})
MAX_TOKENS = 65_536
CHARS_PER_TOKEN = 4
MIN_EXAMPLES = 10  # OpenAI refuses smaller training files


@dataclass(frozen=True)
class RowProblem:
    """Why one golden row could not be written in one format."""

    format: str
    row_key: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.format}: row {self.row_key}: {self.field}: {self.reason}"


class _Invalid(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _text(content: Any) -> Any:
    """Content parts of text only become one string; anything else is left for the checks."""
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text"
                                         for p in content):
        return "".join(str(p.get("text") or "") for p in content)
    return content


def _clean(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    out = {k: v for k, v in message.items() if v is not None or k == "content"}
    if out.get("role") == "developer":  # the newer name of the system role
        out["role"] = "system"
    if "content" in out:
        out["content"] = _text(out["content"])
    return out


def conversation(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The input messages of a golden row: the stored messages, else system prompt + input."""
    raw = row.get("messages")
    messages = json.loads(raw) if isinstance(raw, str) and raw else raw
    if isinstance(messages, dict) and "messages" in messages:
        messages = messages["messages"]
    if isinstance(messages, list) and messages:
        return [_clean(m) for m in messages]
    out = []
    if row.get("system_prompt"):
        out.append({"role": "system", "content": row["system_prompt"]})
    out.append({"role": "user", "content": row.get("input")})
    return out


def _check_message(i: int, m: Any) -> None:
    where = f"messages[{i}]"
    if not isinstance(m, dict):
        raise _Invalid(where, "not an object")
    if "role" not in m:
        raise _Invalid(f"{where}.role", "missing")
    if m["role"] not in ROLES:
        raise _Invalid(f"{where}.role", f"{m['role']!r} is not one of {', '.join(sorted(ROLES))}")
    unknown = set(m) - MESSAGE_KEYS
    if unknown:
        raise _Invalid(where, f"unrecognised keys {', '.join(sorted(unknown))}")
    calls_tools = m["role"] == "assistant" and (m.get("tool_calls") or m.get("function_call"))
    content = m.get("content")
    if not calls_tools and (not isinstance(content, str) or not content.strip()):
        raise _Invalid(f"{where}.content", "missing or empty" if content in (None, "")
                       or isinstance(content, str) else "not text")
    if "weight" in m and (m["role"] != "assistant" or m["weight"] not in (0, 1)):
        raise _Invalid(f"{where}.weight", "only 0 or 1, and only on assistant messages")
    if m["role"] == "tool" and not m.get("tool_call_id"):
        raise _Invalid(f"{where}.tool_call_id", "a tool message needs the id of its call")


def _check_messages(field: str, messages: Any, needed_role: str) -> list:
    """``messages`` when it is a non-empty list of valid messages with one of ``needed_role``."""
    if not isinstance(messages, list) or not messages:
        raise _Invalid(field, "missing or empty")
    for i, m in enumerate(messages):
        _check_message(i, m)
    if not any(m["role"] == needed_role for m in messages):
        raise _Invalid(field, f"no {needed_role} message")
    return messages


def validate_chat(example: Any) -> None:
    """Raise ``_Invalid`` naming the field when ``example`` breaks the chat format's rules."""
    if not isinstance(example, dict):
        raise _Invalid("<example>", "not an object")
    messages = _check_messages("messages", example.get("messages"), "assistant")
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    if chars / CHARS_PER_TOKEN > MAX_TOKENS:
        raise _Invalid("messages", f"about {chars // CHARS_PER_TOKEN:,} tokens, over the "
                                   f"{MAX_TOKENS:,}-token limit of an example")


def chat_example(row: dict[str, Any]) -> dict[str, Any]:
    """The fine-tuning record of a golden row (earlier assistant turns at weight 0)."""
    messages = []
    for m in conversation(row):
        if isinstance(m, dict) and m.get("role") == "assistant":
            m = {**m, "weight": 0}
        messages.append(m)
    messages.append({"role": "assistant", "content": row.get("expected_output"), "weight": 1})
    return {"messages": messages}


def evals_example(row: dict[str, Any]) -> dict[str, Any]:
    """The evals record of a golden row: the input conversation and the ideal answer."""
    return {"input": conversation(row), "ideal": row.get("expected_output")}


def validate_evals(example: dict[str, Any]) -> None:
    _check_messages("input", example.get("input"), "user")
    if not isinstance(example.get("ideal"), str) or not example["ideal"].strip():
        raise _Invalid("ideal", "missing or empty")


BUILDERS = {
    "openai_chat": (chat_example, validate_chat),
    "openai_evals": (evals_example, validate_evals),
}


def record(fmt: str, row: dict[str, Any]) -> tuple[dict[str, Any] | None, RowProblem | None]:
    """(the record, None) when it is valid, else (None, the problem)."""
    make, check = BUILDERS[fmt]
    try:
        example = make(row)
        check(example)
    except _Invalid as bad:
        return None, RowProblem(fmt, row.get("row_key", "?"), bad.field, bad.reason)
    except (TypeError, ValueError) as exc:  # e.g. stored messages that are not JSON
        return None, RowProblem(fmt, row.get("row_key", "?"), "messages", str(exc))
    return example, None
