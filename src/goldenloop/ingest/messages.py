"""The one message shape: OpenAI chat-completions messages, whatever a source wrote.

A normalised message list is ``[{"role", "content": str, "tool_calls"?: [...],
"tool_call_id"?}]``, with each tool call ``{"id", "type": "function", "function": {"name",
"arguments": <JSON text>}}``. This module converts into it from OpenAI chat and Responses
bodies, GenAI ``parts`` messages, and OpenInference and OpenLLMetry flattened-attribute
trees, and derives the span fields read from messages (system prompt, last user message,
output, tool calls, finish reason). Pure Python on the standard library; the OTel attribute
reader and the OpenAI log readers share it.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["as_text", "chat_messages", "completion_fields", "content_text", "indexed",
           "json_value", "message_fields", "oi_message", "openllmetry_message", "tool_call"]


def tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """One tool call in the OpenAI shape; arguments are always a JSON string."""
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": as_text(arguments) if arguments is not None else "{}"}}


def chat_messages(value: Any) -> list[dict[str, Any]] | None:
    """Any message list (OpenAI chat, GenAI ``parts``, JSON text of either) → the one shape."""
    value = json_value(value)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return None
    out: list[dict[str, Any]] = []
    for m in value:
        if isinstance(m, dict):
            out.extend(_message(m))
        elif isinstance(m, str):
            out.append({"role": "user", "content": m})
    return out


def message_fields(msgs: list[dict[str, Any]]) -> dict[str, Any]:
    """messages, system_prompt and last_user_message of a normalised message list."""
    return {
        "messages": msgs,
        "system_prompt": next((m["content"] for m in msgs if m["role"] in ("system", "developer")),
                              None),
        "last_user_message": next((m["content"] for m in reversed(msgs) if m["role"] == "user"),
                                  None),
    }


def _message(m: dict[str, Any]) -> list[dict[str, Any]]:
    role = m.get("role") or "user"
    if isinstance(m.get("parts"), list):
        return _genai_message(role, m["parts"])
    msg: dict[str, Any] = {"role": role, "content": content_text(m.get("content"))}
    calls = [_openai_call(c) for c in m.get("tool_calls") or [] if isinstance(c, dict)]
    fc = m.get("function_call")  # the pre-tools OpenAI form
    if isinstance(fc, dict):
        calls.append(tool_call(None, fc.get("name"), fc.get("arguments")))
    if calls:
        msg["tool_calls"] = calls
    if m.get("tool_call_id"):
        msg["tool_call_id"] = m["tool_call_id"]
    return [msg]


def _genai_message(role: str, parts: list[Any]) -> list[dict[str, Any]]:
    texts, calls, responses = [], [], []
    for p in parts:
        if not isinstance(p, dict):
            continue
        kind = p.get("type")
        if kind == "text":
            texts.append(as_text(p.get("content")))
        elif kind == "tool_call":
            calls.append(tool_call(p.get("id"), p.get("name"), p.get("arguments")))
        elif kind == "tool_call_response":
            responses.append(p)
    # OpenAI carries one tool result per message, so several responses become several messages.
    msgs = [{"role": role, "content": as_text(r.get("response", r.get("result"))),
             "tool_call_id": r.get("id")} for r in responses]
    if texts or calls or not msgs:
        msg: dict[str, Any] = {"role": role, "content": "\n".join(texts)}
        if calls:
            msg["tool_calls"] = calls
        msgs.insert(0, msg)
    return msgs


def _openai_call(c: dict[str, Any]) -> dict[str, Any]:
    fn = c.get("function") if isinstance(c.get("function"), dict) else c
    return tool_call(c.get("id"), fn.get("name"), fn.get("arguments"))


def content_text(content: Any) -> str:
    """Plain text of a content value: a string, or a list of parts with their text joined."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        texts = []
        for p in content:
            if isinstance(p, str):
                texts.append(p)
            elif isinstance(p, dict) and p.get("type", "text") in ("text", "input_text", "output_text"):
                texts.append(as_text(p.get("text", p.get("content"))))
        return "\n".join(texts)
    return as_text(content)


# -- flattened attribute trees -----------------------------------------------------------------
def oi_message(node: Any) -> dict[str, Any] | None:
    """An OpenInference ``llm.*_messages.N`` tree, read through the OpenAI-shape reader."""
    m = node.get("message") if isinstance(node, dict) else None
    if not isinstance(m, dict):
        return None
    content = m.get("content")
    if content is None:
        content = [c.get("message_content") for c in indexed(m.get("contents"))
                   if isinstance(c, dict) and isinstance(c.get("message_content"), dict)]
    calls = [tc["tool_call"] for tc in indexed(m.get("tool_calls"))
             if isinstance(tc, dict) and isinstance(tc.get("tool_call"), dict)]
    openai = {"role": m.get("role"), "content": content, "tool_calls": calls,
              "tool_call_id": m.get("tool_call_id")}
    if m.get("function_call_name"):
        openai["function_call"] = {"name": m["function_call_name"],
                                   "arguments": m.get("function_call_arguments_json")}
    return _message(openai)[0]


def openllmetry_message(node: Any) -> dict[str, Any] | None:
    """``gen_ai.prompt.N.role/content/tool_calls.K.*`` and ``gen_ai.completion.N.*`` trees."""
    if not isinstance(node, dict):
        return None
    return _message({**node, "content": json_value(node.get("content")),
                     "tool_calls": indexed(node.get("tool_calls"))})[0]


# -- response bodies ---------------------------------------------------------------------------
def completion_fields(body: Any) -> dict[str, Any]:
    """output, tool_calls, finish_reason from a response body: an OpenAI chat completion or
    Responses object, ``{"text", "finish_reason"}``, a message, or plain text."""
    body = json_value(body)
    if body is None:
        return {}
    if not isinstance(body, dict):
        return {"output": as_text(body)}
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        c = choices[0]
        msg = c.get("message") if isinstance(c.get("message"), dict) else {"content": c.get("text")}
        norm = _message({"role": "assistant", **msg})[0]
        text = norm["content"] or (msg.get("refusal") or "")
        return {"output": text, "tool_calls": norm.get("tool_calls"),
                "finish_reason": c.get("finish_reason")}
    if isinstance(body.get("output"), list):  # Responses API
        return _responses_output(body["output"])
    if "text" in body or "content" in body:
        return {"output": content_text(body.get("text", body.get("content"))),
                "finish_reason": body.get("finish_reason")}
    return {"output": as_text(body)}


def _responses_output(items: list[Any]) -> dict[str, Any]:
    texts, calls = [], []
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            texts.append(content_text(item.get("content")))
        elif item.get("type") == "function_call":
            calls.append(tool_call(item.get("call_id"), item.get("name"), item.get("arguments")))
    return {"output": "\n".join(texts), "tool_calls": calls or None}


# -- small readers -----------------------------------------------------------------------------
def indexed(node: Any) -> list[Any]:
    """Children keyed "0", "1", … in numeric order: a flattened list."""
    if not isinstance(node, dict):
        return []
    return [node[k] for k in sorted((k for k in node if k.isdigit()), key=int)]


def json_value(value: Any) -> Any:
    """JSON text parsed; anything else (plain text included) as it is."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def as_text(value: Any) -> str:
    """Text as it is; any other value as compact JSON text (tool arguments, structured output)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
