"""One OpenTelemetry span's attributes → goldenloop span fields.

Reads both the OpenTelemetry GenAI semantic conventions (``gen_ai.*``, with the older
event-less ``input``/``output`` and flattened ``gen_ai.prompt.N.*`` forms) and OpenInference
(``llm.*``, ``input.value``, ``retrieval.documents.N.*``, …). Pure Python with no imports
beyond the standard library and ``messages``: the OTLP file reader and the OTLP/HTTP receiver
both call ``span_fields`` once per span. Messages, whatever their source, become the one
shape ``messages`` defines.
"""

from __future__ import annotations

from typing import Any

from goldenloop.ingest.messages import (
    as_text,
    chat_messages,
    completion_fields,
    content_text,
    indexed,
    json_value,
    message_fields,
    oi_message,
    openllmetry_message,
    tool_call,
)

__all__ = ["span_fields"]

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
# Attribute → (the span field it carries, its rank among that field's attributes): a span's
# attributes are looked up once each, rather than every candidate name per field.
_DIRECT_BY_KEY = {k: (field, rank) for field, keys in _DIRECT.items() for rank, k in enumerate(keys)}
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
    request = json_value(_first(a, "llm.invocation_parameters"))
    request = request if isinstance(request, dict) else {}
    inp = json_value(_first(a, "input.value", "input"))
    out = _direct_fields(a)
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


def _direct_fields(a: dict[str, Any]) -> dict[str, Any]:
    """Each ``_DIRECT`` field from its most specific attribute that has a value (as ``_first``
    would pick it), None when none has."""
    out: dict[str, Any] = dict.fromkeys(_DIRECT)
    ranks: dict[str, int] = {}
    for key in a.keys() & _DIRECT_BY_KEY.keys():
        value = a[key]
        if value is None or value == "":
            continue
        field, rank = _DIRECT_BY_KEY[key]
        if rank < ranks.get(field, len(_DIRECT_BY_KEY)):
            out[field], ranks[field] = value, rank
    return out


# -- input and output --------------------------------------------------------------------------
def _input_fields(out: dict[str, Any], a: dict[str, Any], flat: dict[str, Any], inp: Any) -> None:
    msgs = ([m for m in map(oi_message, indexed(flat.get("llm.input_messages."))) if m]
            or chat_messages(a.get("gen_ai.input.messages"))
            or [m for m in map(openllmetry_message, indexed(flat.get("gen_ai.prompt."))) if m]
            or chat_messages(a.get("gen_ai.prompt"))
            or (chat_messages(inp.get("messages")) if isinstance(inp, dict) else None))
    system = content_text(json_value(a.get("gen_ai.system_instructions")))  # text parts, or text
    if system and not any(m["role"] in ("system", "developer") for m in msgs or []):
        msgs = [{"role": "system", "content": system}, *(msgs or [])]
    if msgs:
        out.update(message_fields(msgs))
    elif isinstance(inp, str) and out["kind"] != "tool":
        out["last_user_message"] = inp  # a plain-text input: the question itself


def _output_fields(out: dict[str, Any], a: dict[str, Any], flat: dict[str, Any]) -> None:
    choice = None
    oi = indexed(flat.get("llm.output_messages."))
    if oi:
        choice = oi_message(oi[0])
    elif genai := chat_messages(a.get("gen_ai.output.messages")):
        choice = genai[0]
    elif olm := indexed(flat.get("gen_ai.completion.")):
        choice = openllmetry_message(olm[0])
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
    genai = json_value(a.get("gen_ai.output.messages"))
    first = (genai[0] if isinstance(genai, list) and genai
             else next(iter(indexed(flat.get("gen_ai.completion."))), None))
    return first.get("finish_reason") if isinstance(first, dict) else None


def _tool_span(out: dict[str, Any], a: dict[str, Any]) -> None:
    """A tool execution: the call and its result, in the tool_calls shape plus ``result``."""
    name = _first(a, "gen_ai.tool.name", "tool.name")
    args = _first(a, "gen_ai.tool.call.arguments", "input.value", "input")
    result = _first(a, "gen_ai.tool.call.result", "output.value", "output")
    if name is None and args is None and result is None:
        return
    call = tool_call(_first(a, "gen_ai.tool.call.id", "tool.id"), name, args)
    call["result"] = None if result is None else as_text(result)
    out["tool_calls"] = [call]
    if result is not None:
        out["output"] = as_text(result)


def _documents(node: Any) -> list[dict[str, Any]] | None:
    docs = []
    for d in indexed(node):
        doc = d.get("document") if isinstance(d, dict) else None
        if isinstance(doc, dict):
            keep = {k: doc[k] for k in ("id", "content", "score") if doc.get(k) is not None}
            if doc.get("metadata") is not None:
                keep["metadata"] = json_value(doc["metadata"])
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
    user = json_value(a.get("metadata"))
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
                                   "variables": json_value(a.get("llm.prompt_template.variables"))}
    rest = {k: v for k, v in a.items()
            if k not in _READ and not k.startswith(_READ_PREFIXES)}
    if rest:
        meta["attributes"] = rest
    return meta


def _tags(value: Any) -> list[str] | None:
    value = json_value(value)
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


def _first(d: Any, *keys: str) -> Any:
    if not isinstance(d, dict):
        return None
    for k in keys:
        v = d.get(k)
        if v is not None and v != "":
            return v
    return None
