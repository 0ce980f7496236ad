"""OpenAI calls → span fields, on the writer thread.

Reads the request the caller made and what came back (a ``ChatCompletion``, the chunks of a
stream, a Responses ``Response``) into the span fields. Message and response shapes go through
``ingest.messages``, the one mapping the file importers use, so an SDK span and an imported
log of the same call look the same.
"""

from __future__ import annotations

from typing import Any

from goldenloop.ingest.messages import chat_messages, completion_fields, message_fields
from goldenloop.sdk.context import Span

# Request arguments that are not call parameters (or may carry credentials): never stored.
_NOT_PARAMS = {"messages", "model", "input", "instructions", "stream", "extra_headers",
               "extra_query", "timeout"}


def render_chat(span: Span, row: dict[str, Any]) -> None:
    req = span.data["request"]
    _request_fields(row, req, chat_messages([_plain(m) for m in req.get("messages") or []]))
    chunks = span.data.get("chunks")
    if chunks is not None:
        body = _stream_body(chunks)
        row["metadata"]["stream"] = True
    else:
        resp = span.data.get("response")
        body = _plain(resp) if resp is not None else None
    _response_fields(row, span, body)


def render_responses(span: Span, row: dict[str, Any]) -> None:
    req = span.data["request"]
    msgs = _responses_input(req.get("input"))
    if req.get("instructions"):
        msgs.insert(0, {"role": "system", "content": str(req["instructions"])})
    _request_fields(row, req, msgs)
    if span.data.get("chunks") is not None:
        row["metadata"]["stream"] = True
    resp = span.data.get("response")
    body = _plain(resp) if resp is not None else None
    _response_fields(row, span, body)
    if body:
        status, incomplete = body.get("status"), body.get("incomplete_details") or {}
        row["finish_reason"] = ("stop" if status == "completed"
                                else incomplete.get("reason") or status)


def _request_fields(row: dict[str, Any], req: dict[str, Any], msgs: list | None) -> None:
    row["provider"] = "openai"
    row["model"] = _str(req.get("model"))
    if msgs:
        row.update(message_fields(msgs))
    params = {k: v for k, v in req.items() if k not in _NOT_PARAMS and v is not None}
    row["metadata"] = {"request": params} if params else {}


def _response_fields(row: dict[str, Any], span: Span, body: dict[str, Any] | None) -> None:
    if span.data.get("abandoned"):
        row["metadata"]["stream_abandoned"] = True  # the caller stopped reading early
    code = getattr(span.error, "status_code", None)
    if isinstance(code, int):
        row["metadata"]["http_status"] = code
    if not body:
        return
    if span.error is None:
        out = completion_fields(body)
        row["output"] = out.get("output")
        row["tool_calls"] = out.get("tool_calls") or None
        row["finish_reason"] = out.get("finish_reason")
    row["model_version"] = _str(body.get("model"))
    if body.get("id"):
        row["metadata"]["response_id"] = body["id"]
    row.update(_usage(body.get("usage")))


def _usage(u: Any) -> dict[str, Any]:
    """Chat (prompt/completion) and Responses (input/output) usage, cached and reasoning too."""
    if not isinstance(u, dict):
        return {}
    inp = u.get("prompt_tokens_details") or u.get("input_tokens_details") or {}
    out = u.get("completion_tokens_details") or u.get("output_tokens_details") or {}
    return {
        "input_tokens": _int(u.get("prompt_tokens", u.get("input_tokens"))),
        "output_tokens": _int(u.get("completion_tokens", u.get("output_tokens"))),
        "cached_input_tokens": _int(inp.get("cached_tokens")),
        "reasoning_tokens": _int(out.get("reasoning_tokens")),
    }


def _stream_body(chunks: list[Any]) -> dict[str, Any] | None:
    """The chunks of a streamed chat completion, put together as one completion body."""
    if not chunks:
        return None
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    body: dict[str, Any] = {}
    finish = None
    for chunk in map(_plain, chunks):
        body["id"] = body.get("id") or chunk.get("id")
        body["model"] = chunk.get("model") or body.get("model")
        if chunk.get("usage"):
            body["usage"] = chunk["usage"]  # the last chunk, when include_usage was asked
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            for tc in delta.get("tool_calls") or []:
                _add_call_delta(calls, tc)
            finish = choice.get("finish_reason") or finish
    message = {"role": "assistant", "content": "".join(text)}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    body["choices"] = [{"message": message, "finish_reason": finish}]
    return body


def _add_call_delta(calls: dict[int, dict[str, Any]], tc: dict[str, Any]) -> None:
    call = calls.setdefault(tc.get("index", 0), {"id": None, "type": "function",
                                                 "function": {"name": "", "arguments": ""}})
    call["id"] = tc.get("id") or call["id"]
    fn = tc.get("function") or {}
    call["function"]["name"] += fn.get("name") or ""
    call["function"]["arguments"] += fn.get("arguments") or ""


def _responses_input(value: Any) -> list[dict[str, Any]]:
    """Responses ``input`` (text, or a list of items) → chat messages."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    msgs: list[dict[str, Any]] = []
    for item in map(_plain, value or []):
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call_output":
            msgs.append({"role": "tool", "content": item.get("output"),
                         "tool_call_id": item.get("call_id")})
        elif item.get("role"):
            msgs.extend(chat_messages([{"role": item["role"], "content": item.get("content")}]))
    return msgs


def _plain(value: Any) -> Any:
    """OpenAI's pydantic objects as plain dicts (callers also pass them back in messages)."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json", exclude_none=True) if callable(dump) else value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
