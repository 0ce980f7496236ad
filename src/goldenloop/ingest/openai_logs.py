"""Readers of OpenAI request logs: Batch API output files (joined on ``custom_id`` with the
batch input file for the messages), and JSON Lines of raw ``{request, response}`` pairs.

Ids are derived from what identifies a request (the batch request id, the completion id, or
the line itself), so importing a file twice adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from goldenloop.errors import ImportFileError
from goldenloop.ingest.messages import chat_messages, completion_fields, message_fields
from goldenloop.ingest.source import BadRow, SourceChunk, records_chunk
from goldenloop.store.span_columns import FIELDS_BY_NAME

__all__ = ["read_batch", "read_pairs"]

CHUNK_LINES = 50_000
CHUNK_BYTES = 64 << 20  # a line holds a whole conversation: bound a chunk by size too
_TIMEOUT = re.compile(r"timeout|timed.?out|deadline", re.IGNORECASE)
# Keys a pair line may carry beside request and response, in the order they are tried.
_START_KEYS = ("start_time", "timestamp", "created_at", "time", "ts", "request_time", "started_at")
_END_KEYS = ("end_time", "ended_at", "finished_at", "completed_at")
_LATENCY_MS_KEYS = ("latency_ms", "duration_ms", "elapsed_ms")
_NOT_PARAMS = ("model", "messages", "input", "instructions")


def read_batch(path: Path, batch_input: Path | None = None) -> Iterator[SourceChunk]:
    """Batch API output lines ``{id, custom_id, response: {status_code, request_id, body},
    error}``; a failed request (an error, or a status other than 200) is an error span."""
    requests = _batch_requests(Path(batch_input)) if batch_input else {}
    # Output lines carry no time of their own but the completion's ``created``; a failed request
    # has none, so it takes the batch's first completion time (or, failing that, the file's).
    first_created: int | None = None
    for lines in _json_lines(Path(path)):
        records, bad = [], []
        for line, obj, raw, reason in lines:
            if reason is None and "custom_id" not in obj:
                reason = "not a Batch API output line (no custom_id)"
            if reason is not None:
                bad.append(BadRow(line, "<line>", reason, raw))
                continue
            rec = _batch_record(obj, requests.get(str(obj.get("custom_id"))))
            rec["_row"], rec["_raw"] = line, raw
            first_created = first_created or rec.get("start_time")
            records.append(rec)
        fallback, source = (first_created, "batch") if first_created else (
            int(Path(path).stat().st_mtime), "file_mtime")
        for rec in records:
            if rec.get("start_time") is None:
                rec["start_time"] = fallback
                rec["metadata"]["start_time_from"] = source
        yield _chunk(records, bad)


def read_pairs(path: Path) -> Iterator[SourceChunk]:
    """Lines ``{request: {model, messages, …}, response: <chat completion>}``, optionally with
    times (start_time, end_time, latency_ms, …) and any span field beside them."""
    for lines in _json_lines(Path(path)):
        records, bad = [], []
        for line, obj, raw, reason in lines:
            if reason is None and not isinstance(obj.get("response"), dict | str):
                reason = "not a request/response pair (no response object)"
            if reason is not None:
                bad.append(BadRow(line, "<line>", reason, raw))
                continue
            rec = _pair_record(obj, raw)
            rec["_row"], rec["_raw"] = line, raw
            records.append(rec)
        yield _chunk(records, bad)


def _chunk(records: list[dict[str, Any]], bad: list[BadRow]) -> SourceChunk:
    for rec in records:
        if not rec.get("metadata"):
            rec.pop("metadata", None)
    return records_chunk(records, malformed=bad)


# -- one line ----------------------------------------------------------------------------------
def _batch_record(obj: dict[str, Any], request: dict[str, Any] | None) -> dict[str, Any]:
    resp = obj.get("response") if isinstance(obj.get("response"), dict) else {}
    body = resp.get("body") if isinstance(resp.get("body"), dict) else {}
    req = request or {}
    rec = _request_fields(req.get("body") if isinstance(req.get("body"), dict) else {})
    _add_response(rec, body)
    code = resp.get("status_code")
    error = obj.get("error") or body.get("error")
    if error or (code is not None and code != 200):
        _set_error(rec, error, f"HTTP {code}" if code is not None else None)
    rec["metadata"].update({k: v for k, v in (("custom_id", obj.get("custom_id")),
                                              ("batch_request_id", obj.get("id")),
                                              ("request_id", resp.get("request_id")))
                            if v is not None})
    rec.update(_ids("openai-batch", obj.get("id") or obj.get("custom_id")))
    rec["name"] = req.get("url") or "/v1/chat/completions"
    if rec["name"].endswith("/embeddings"):
        rec["kind"] = "embedding"
    return rec


def _pair_record(obj: dict[str, Any], raw: str) -> dict[str, Any]:
    request = obj.get("request") if isinstance(obj.get("request"), dict) else {}
    response = obj["response"]
    body = response if isinstance(response, dict) else {}
    rec = _request_fields(request)
    if isinstance(response, str):
        rec["output"] = response
    _add_response(rec, body)
    error = obj.get("error") or body.get("error")
    if error:
        _set_error(rec, error, None)
    start = _first(obj, _START_KEYS)
    if start is not None:
        rec["start_time"] = start
    rec["end_time"] = _first(obj, _END_KEYS)
    latency = _first(obj, _LATENCY_MS_KEYS)
    if latency is None and isinstance(obj.get("latency_s"), int | float):
        latency = obj["latency_s"] * 1000.0
    rec["latency_ms"] = latency
    rec.update(_ids("openai-pair", body.get("id") or raw))
    rec["name"] = "chat.completions" if "choices" in body else body.get("object")
    # Span fields given beside the pair (session, user, app, tags, ids, …) win.
    for k, v in obj.items():
        if k in FIELDS_BY_NAME and v is not None:
            rec[k] = {**rec["metadata"], **v} if k == "metadata" and isinstance(v, dict) else v
    return rec


def _request_fields(body: dict[str, Any]) -> dict[str, Any]:
    """model, messages, system prompt, last user message and request parameters."""
    rec: dict[str, Any] = {"kind": "llm", "provider": "openai", "model": body.get("model"),
                           "metadata": {}}
    # OpenAI's end-user identifier parameters (``user``, and its successor).
    user = body.get("safety_identifier") or body.get("user")
    if isinstance(user, str) and user:
        rec["user_id"] = user
    msgs = chat_messages(body.get("messages")) or chat_messages(body.get("input")) or []
    if isinstance(body.get("instructions"), str):  # Responses API: the system prompt apart
        msgs = [{"role": "system", "content": body["instructions"]}, *msgs]
    if msgs:
        rec.update(message_fields(msgs))
    params = {k: v for k, v in body.items() if k not in _NOT_PARAMS}
    if params:
        rec["metadata"]["request"] = params
    return rec


def _add_response(rec: dict[str, Any], body: dict[str, Any]) -> None:
    """Fields of a chat completion (or Responses API) body: version, usage, answer, time."""
    if not body:
        return
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    in_details = _dict(usage, "prompt_tokens_details", "input_tokens_details")
    out_details = _dict(usage, "completion_tokens_details", "output_tokens_details")
    rec.update({
        "model_version": body.get("model"),
        "input_tokens": _first(usage, ("prompt_tokens", "input_tokens")),
        "output_tokens": _first(usage, ("completion_tokens", "output_tokens")),
        "cached_input_tokens": in_details.get("cached_tokens"),
        "reasoning_tokens": out_details.get("reasoning_tokens"),
        "start_time": _first(body, ("created", "created_at")),
    })
    # The model asked for, when the request is unknown, is best named by the one that answered.
    rec["model"] = rec.get("model") or body.get("model")
    if "choices" in body or isinstance(body.get("output"), list):
        rec.update({k: v for k, v in completion_fields(body).items() if v is not None})
    rec["metadata"].update({k: body[k] for k in ("id", "system_fingerprint", "service_tier")
                            if body.get(k) is not None})
    if "id" in rec["metadata"]:
        rec["metadata"]["response_id"] = rec["metadata"].pop("id")


def _set_error(rec: dict[str, Any], error: Any, fallback: str | None) -> None:
    if isinstance(error, dict):
        rec["error_type"] = error.get("code") or error.get("type") or fallback
        rec["error_message"] = error.get("message") or json.dumps(error)
    else:
        rec["error_type"] = fallback
        rec["error_message"] = str(error) if error else fallback
    said = f"{rec.get('error_type') or ''} {rec.get('error_message') or ''}"
    rec["status"] = "timeout" if _TIMEOUT.search(said) else "error"


def _ids(kind: str, key: Any) -> dict[str, str]:
    h = hashlib.sha256(f"{kind}|{key}".encode()).hexdigest()
    return {"trace_id": h[:32], "span_id": h[32:48]}


# -- files -------------------------------------------------------------------------------------
def _batch_requests(path: Path) -> dict[str, dict[str, Any]]:
    """custom_id → input line. Unreadable input lines are skipped: their outputs still import,
    only without the messages."""
    if not path.is_file():
        raise ImportFileError(f"{path}: no such batch input file")
    out: dict[str, dict[str, Any]] = {}
    for lines in _json_lines(path):
        for _line, obj, _raw, reason in lines:
            if reason is None and obj.get("custom_id") is not None:
                out[str(obj["custom_id"])] = obj
    return out


def _json_lines(path: Path) -> Iterator[list[tuple[int, Any, str, str | None]]]:
    """Chunks of (line number, parsed object, raw line, reason it is unusable or None)."""
    batch: list[tuple[int, Any, str, str | None]] = []
    size = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for i, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            batch.append(_parse(i, text.rstrip("\r\n")))
            size += len(text)
            if len(batch) >= CHUNK_LINES or size >= CHUNK_BYTES:
                yield batch
                batch, size = [], 0
    if batch:
        yield batch


def _parse(line: int, text: str) -> tuple[int, Any, str, str | None]:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        return line, None, text, f"not valid JSON: {exc.msg} (column {exc.colno})"
    return line, obj, text, None if isinstance(obj, dict) else "not a JSON object"


def _first(d: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if d.get(k) is not None and d.get(k) != "":
            return d[k]
    return None


def _dict(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    for k in keys:
        if isinstance(d.get(k), dict):
            return d[k]
    return {}
