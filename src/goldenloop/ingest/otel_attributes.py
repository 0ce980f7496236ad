"""One OpenTelemetry span's attributes → goldenloop span fields, and the one message shape.

Reads both the OpenTelemetry GenAI semantic conventions (``gen_ai.*``, with the older
event-less ``input``/``output`` and flattened ``gen_ai.prompt.N.*`` forms) and OpenInference
(``llm.*``, ``input.value``, ``retrieval.documents.N.*``, …). Pure Python with no imports
beyond the standard library: the OTLP file reader and the OTLP/HTTP receiver both call
``span_fields`` once per span.

Messages, whatever their source, become the OpenAI chat-completions shape: a list of
``{"role", "content": str, "tool_calls"?: [...], "tool_call_id"?}``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["chat_messages", "completion_fields", "message_fields", "span_fields", "tool_call"]

_FLAT = ("llm.input_messages.", "llm.output_messages.", "retrieval.documents.",
         "gen_ai.prompt.", "gen_ai.completion.")
# Span field → the attributes that carry it as they are, most specific first (GenAI, then
# OpenInference; deprecated and OpenLLMetry names after the current ones).
_DIRECT = {
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "model_version": ("gen_ai.response.model", "llm.response.model_name", "llm.model_name"),
    "session_id": ("session.id", "gen_ai.conversation.id"),
    "user_id": ("user.id", "enduser.id"),
    "prompt_name": ("prompt.id",),
    "prompt_version": ("llm.prompt_template.version",),
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
                     "llm.token_count.prompt"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                      "llm.token_count.completion"),
    "cached_input_tokens": ("gen_ai.usage.cache_read.input_tokens",
                            "gen_ai.usage.cache_read_input_tokens",
                            "llm.token_count.prompt_details.cache_read"),
    "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
                         "llm.token_count.completion_details.reasoning"),
    "cost_usd": ("llm.cost.total",),
    "error_type": ("error.type", "exception.type"),
    "error_message": ("exception.message",),
}
# Attributes read by name, and prefixes of content read as a whole; every other attribute is
# kept in metadata["attributes"] so an unknown convention loses nothing.
_READ = {k for keys in _DIRECT.values() for k in keys} | {
    "input", "output", "input.value", "output.value", "input.mime_type", "output.mime_type",
    "metadata", "tag.tags", "openinference.span.kind", "llm.request.model_name",
    "llm.invocation_parameters", "llm.finish_reason", "llm.prompt_template.template",
    "llm.prompt_template.variables", "tool.name", "tool.id", "llm.request.type",
    "gen_ai.operation.name", "gen_ai.request.model", "gen_ai.response.id",
    "gen_ai.response.finish_reasons", "gen_ai.response.time_to_first_chunk",
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
    "gen_ai.prompt", "gen_ai.completion", "gen_ai.usage.total_tokens", "gen_ai.tool.name",
    "gen_ai.tool.call.id", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
}
_READ_PREFIXES = (*_FLAT, "gen_ai.request.", "llm.token_count.")
_OPERATION_KINDS = {
    "chat": "llm", "text_completion": "llm", "generate_content": "llm", "completion": "llm",
    "embeddings": "embedding", "embedding": "embedding", "execute_tool": "tool",
    "invoke_agent": "agent", "create_agent": "agent", "invoke_workflow": "chain",
    "retrieval": "retrieval",
}
# OpenInference says RETRIEVER; the data model's kind is "retrieval".
_OI_KINDS = {"retriever": "retrieval"}


def span_fields(attributes: dict[str, Any], resource_attributes: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """Span fields read from decoded attribute values; absent fields are left out."""
    a = attributes
    res = resource_attributes or {}
    flat = _flattened(a)
    request = _json(_first(a, "llm.invocation_parameters"))
    request = request if isinstance(request, dict) else {}
    inp = _json(_first(a, "input.value", "input"))
    out: dict[str, Any] = {field: _first(a, *keys) for field, keys in _DIRECT.items()}
    out.update({
        "app": _first(res, "service.name"),
        "environment": _first(res, "deployment.environment.name", "deployment.environment"),
        "release": _first(res, "service.version"),
        "kind": _kind(a),
        "tags": _tags(_first(a, "tag.tags")),
    })
    # The model asked for; without a request record the model that answered is the best name.
    out["model"] = (_first(a, "gen_ai.request.model", "llm.request.model_name")
                    or _first(request, "model")
                    or (_first(inp, "model") if isinstance(inp, dict) else None)
                    or out["model_version"])
    ttft = _first(a, "gen_ai.response.time_to_first_chunk")
    if isinstance(ttft, int | float):
        out["ttft_ms"] = ttft * 1000.0
    _input_fields(out, a, flat, inp)
    _output_fields(out, a, flat)
    if out["kind"] == "tool":
        _tool_span(out, a)
    docs = _documents(flat.get("retrieval.documents."))
    if docs:
        out["retrieved_context"] = docs
    out["metadata"] = _metadata(a, request) or None
    return {k: v for k, v in out.items() if v is not None and v != ""}


# -- messages ----------------------------------------------------------------------------------
def tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """One tool call in the OpenAI shape; arguments are always a JSON string."""
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": _text(arguments) if arguments is not None else "{}"}}


def chat_messages(value: Any) -> list[dict[str, Any]] | None:
    """Any message list (OpenAI chat, GenAI ``parts``, JSON text of either) → the one shape."""
    value = _json(value)
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
    msg: dict[str, Any] = {"role": role, "content": _content_text(m.get("content"))}
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
            texts.append(_text(p.get("content")))
        elif kind == "tool_call":
            calls.append(tool_call(p.get("id"), p.get("name"), p.get("arguments")))
        elif kind == "tool_call_response":
            responses.append(p)
    # OpenAI carries one tool result per message, so several responses become several messages.
    msgs = [{"role": role, "content": _text(r.get("response", r.get("result"))),
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


def _content_text(content: Any) -> str:
    """Plain text of a content value: a string, or a list of parts with their text joined."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        texts = []
        for p in content:
            if isinstance(p, str):
                texts.append(p)
            elif isinstance(p, dict) and p.get("type", "text") in ("text", "input_text", "output_text"):
                texts.append(_text(p.get("text", p.get("content"))))
        return "\n".join(texts)
    return _text(content)


def _oi_message(node: Any) -> dict[str, Any] | None:
    """An OpenInference ``llm.*_messages.N`` tree, read through the OpenAI-shape reader."""
    m = node.get("message") if isinstance(node, dict) else None
    if not isinstance(m, dict):
        return None
    content = m.get("content")
    if content is None:
        content = [c.get("message_content") for c in _indexed(m.get("contents"))
                   if isinstance(c, dict) and isinstance(c.get("message_content"), dict)]
    calls = [tc["tool_call"] for tc in _indexed(m.get("tool_calls"))
             if isinstance(tc, dict) and isinstance(tc.get("tool_call"), dict)]
    openai = {"role": m.get("role"), "content": content, "tool_calls": calls,
              "tool_call_id": m.get("tool_call_id")}
    if m.get("function_call_name"):
        openai["function_call"] = {"name": m["function_call_name"],
                                   "arguments": m.get("function_call_arguments_json")}
    return _message(openai)[0]


def _openllmetry_message(node: Any) -> dict[str, Any] | None:
    """``gen_ai.prompt.N.role/content/tool_calls.K.*`` and ``gen_ai.completion.N.*`` trees."""
    if not isinstance(node, dict):
        return None
    return _message({**node, "content": _json(node.get("content")),
                     "tool_calls": _indexed(node.get("tool_calls"))})[0]


# -- input and output --------------------------------------------------------------------------
def _input_fields(out: dict[str, Any], a: dict[str, Any], flat: dict[str, Any], inp: Any) -> None:
    msgs = ([m for m in map(_oi_message, _indexed(flat.get("llm.input_messages."))) if m]
            or chat_messages(a.get("gen_ai.input.messages"))
            or [m for m in map(_openllmetry_message, _indexed(flat.get("gen_ai.prompt."))) if m]
            or chat_messages(a.get("gen_ai.prompt"))
            or (chat_messages(inp.get("messages")) if isinstance(inp, dict) else None))
    system = _content_text(_json(a.get("gen_ai.system_instructions")))  # text parts, or text
    if system and not any(m["role"] in ("system", "developer") for m in msgs or []):
        msgs = [{"role": "system", "content": system}, *(msgs or [])]
    if msgs:
        out.update(message_fields(msgs))
    elif isinstance(inp, str) and out["kind"] != "tool":
        out["last_user_message"] = inp  # a plain-text input: the question itself


def _output_fields(out: dict[str, Any], a: dict[str, Any], flat: dict[str, Any]) -> None:
    choice = None
    oi = _indexed(flat.get("llm.output_messages."))
    if oi:
        choice = _oi_message(oi[0])
    elif genai := chat_messages(a.get("gen_ai.output.messages")):
        choice = genai[0]
    elif olm := _indexed(flat.get("gen_ai.completion.")):
        choice = _openllmetry_message(olm[0])
    parsed = completion_fields(_first(a, "output.value", "output", "gen_ai.completion"))
    if choice is not None:
        parsed["output"] = choice["content"]
        parsed["tool_calls"] = choice.get("tool_calls") or parsed.get("tool_calls")
    reasons = a.get("gen_ai.response.finish_reasons")
    reason = (reasons[0] if isinstance(reasons, list) and reasons else reasons
              ) or a.get("llm.finish_reason") or _output_reason(a, flat)
    if reason:
        parsed["finish_reason"] = reason
    for k, v in parsed.items():
        if out.get(k) is None:
            out[k] = v


def _output_reason(a: dict[str, Any], flat: dict[str, Any]) -> Any:
    """finish_reason carried inside the first output message (GenAI, OpenLLMetry)."""
    genai = _json(a.get("gen_ai.output.messages"))
    first = (genai[0] if isinstance(genai, list) and genai
             else next(iter(_indexed(flat.get("gen_ai.completion."))), None))
    return first.get("finish_reason") if isinstance(first, dict) else None


def completion_fields(body: Any) -> dict[str, Any]:
    """output, tool_calls, finish_reason from a response body: an OpenAI chat completion or
    Responses object, ``{"text", "finish_reason"}``, a message, or plain text."""
    body = _json(body)
    if body is None:
        return {}
    if not isinstance(body, dict):
        return {"output": _text(body)}
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
        return {"output": _content_text(body.get("text", body.get("content"))),
                "finish_reason": body.get("finish_reason")}
    return {"output": _text(body)}


def _responses_output(items: list[Any]) -> dict[str, Any]:
    texts, calls = [], []
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            texts.append(_content_text(item.get("content")))
        elif item.get("type") == "function_call":
            calls.append(tool_call(item.get("call_id"), item.get("name"), item.get("arguments")))
    return {"output": "\n".join(texts), "tool_calls": calls or None}


def _tool_span(out: dict[str, Any], a: dict[str, Any]) -> None:
    """A tool execution: the call and its result, in the tool_calls shape plus ``result``."""
    name = _first(a, "gen_ai.tool.name", "tool.name")
    args = _first(a, "gen_ai.tool.call.arguments", "input.value", "input")
    result = _first(a, "gen_ai.tool.call.result", "output.value", "output")
    if name is None and args is None and result is None:
        return
    call = tool_call(_first(a, "gen_ai.tool.call.id", "tool.id"), name, args)
    call["result"] = None if result is None else _text(result)
    out["tool_calls"] = [call]
    if result is not None:
        out["output"] = _text(result)


def _documents(node: Any) -> list[dict[str, Any]] | None:
    docs = []
    for d in _indexed(node):
        doc = d.get("document") if isinstance(d, dict) else None
        if isinstance(doc, dict):
            keep = {k: doc[k] for k in ("id", "content", "score") if doc.get(k) is not None}
            if doc.get("metadata") is not None:
                keep["metadata"] = _json(doc["metadata"])
            docs.append(keep)
    return docs or None


# -- small readers -----------------------------------------------------------------------------
def _kind(a: dict[str, Any]) -> str | None:
    oi = a.get("openinference.span.kind")
    if isinstance(oi, str) and oi:
        k = oi.lower()
        return _OI_KINDS.get(k, k)
    op = _first(a, "gen_ai.operation.name", "llm.request.type")
    return _OPERATION_KINDS.get(op, op) if isinstance(op, str) else None


def _metadata(a: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    user = _json(a.get("metadata"))
    if isinstance(user, dict):
        meta.update(user)
    params = {k: v for k, v in request.items() if k not in ("model", "messages")}
    params.update({k[len("gen_ai.request."):]: v for k, v in a.items()
                   if k.startswith("gen_ai.request.") and k != "gen_ai.request.model"})
    if params:
        meta["request"] = params
    if a.get("gen_ai.response.id") is not None:
        meta["response_id"] = a["gen_ai.response.id"]
    template = _first(a, "llm.prompt_template.template")
    if template is not None:
        meta["prompt_template"] = {"template": template,
                                   "variables": _json(a.get("llm.prompt_template.variables"))}
    rest = {k: v for k, v in a.items()
            if k not in _READ and not k.startswith(_READ_PREFIXES)}
    if rest:
        meta["attributes"] = rest
    return meta


def _tags(value: Any) -> list[str] | None:
    value = _json(value)
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [value] if isinstance(value, str) and value else None


def _flattened(a: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Attributes flattened with numeric indexes (``llm.input_messages.0.message.role``) as
    trees, one per prefix, built in one pass over the attributes."""
    groups: dict[str, dict[str, Any]] = {}
    for key, value in a.items():
        if key.startswith(("llm.", "retrieval.", "gen_ai.prompt.", "gen_ai.completion.")):
            for p in _FLAT:
                if key.startswith(p):
                    groups.setdefault(p, {})[key[len(p):]] = value
                    break
    return {p: _unflatten(kv) for p, kv in groups.items()}


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path, value in flat.items():
        node = root
        *parents, leaf = path.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(leaf), dict):
            node[leaf] = value
    return root


def _indexed(node: Any) -> list[Any]:
    """Children keyed "0", "1", … in numeric order: a flattened list."""
    if not isinstance(node, dict):
        return []
    return [node[k] for k in sorted((k for k in node if k.isdigit()), key=int)]


def _first(d: Any, *keys: str) -> Any:
    if not isinstance(d, dict):
        return None
    for k in keys:
        v = d.get(k)
        if v is not None and v != "":
            return v
    return None


def _json(value: Any) -> Any:
    """JSON text parsed; anything else (plain text included) as it is."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
