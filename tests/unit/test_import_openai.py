"""OpenAI log import: Batch API output joined with its input file, request/response pairs, and
detection when the first line is broken."""

from __future__ import annotations

import json
from pathlib import Path

from goldenloop.ingest import ImportOptions, import_file
from goldenloop.ingest.detect import detect_format

CREATED = 1_736_932_400  # 2025-01-15 09:13:20 UTC


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def spans(store, order: str = "start_time") -> list[dict]:
    cur = store.cursor().execute(f"SELECT * FROM spans ORDER BY {order}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def completion(cid: str, model: str, message: dict, finish: str, usage: dict) -> dict:
    return {"id": cid, "object": "chat.completion", "created": CREATED, "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": usage, "system_fingerprint": "fp_50cad350e4", "service_tier": "default"}


def batch_input_rows() -> list[dict]:
    def req(cid: str, messages: list, **params) -> dict:
        return {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": "gpt-4o-mini", "messages": messages, **params}}
    return [
        req("request-1", [{"role": "system", "content": "You are a helpful assistant."},
                          {"role": "user", "content": "Hello world!"}], max_tokens=1000,
            user="user-17"),
        req("request-2", [{"role": "user", "content": [{"type": "text", "text": "Weather in"},
                                                       {"type": "text", "text": "Paris?"}]}],
            tools=[{"type": "function", "function": {"name": "get_weather"}}]),
        req("request-3", [{"role": "user", "content": "x" * 10}]),
    ]


def batch_output_rows() -> list:
    usage = {"prompt_tokens": 2048, "completion_tokens": 12, "total_tokens": 2060,
             "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
             "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}}
    call = {"id": "call_abc", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'}}
    return [
        {"id": "batch_req_001", "custom_id": "request-1", "error": None,
         "response": {"status_code": 200, "request_id": "req_001", "body": completion(
             "chatcmpl-001", "gpt-4o-mini-2024-07-18",
             {"role": "assistant", "content": "Hello! How can I help?", "refusal": None},
             "stop", usage)}},
        {"id": "batch_req_002", "custom_id": "request-2", "error": None,
         "response": {"status_code": 200, "request_id": "req_002", "body": completion(
             "chatcmpl-002", "gpt-4o-mini-2024-07-18",
             {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls",
             {"prompt_tokens": 50, "completion_tokens": 17, "total_tokens": 67})}},
        '{"id": "batch_req_003", "custom_id": ',
        {"id": "batch_req_004", "custom_id": "request-3", "error": None,
         "response": {"status_code": 400, "request_id": "req_004", "body": {"error": {
             "message": "This model's maximum context length is 128000 tokens.",
             "type": "invalid_request_error", "param": "messages",
             "code": "context_length_exceeded"}}}},
        {"id": "batch_req_005", "custom_id": "request-9", "response": None,
         "error": {"code": "batch_expired",
                   "message": "This request could not be executed before the completion window expired."}},
    ]


def test_batch_output_joined_with_input(store, tmp_path: Path):
    inp = write_jsonl(tmp_path / "batch_input.jsonl", batch_input_rows())
    out = write_jsonl(tmp_path / "batch_output.jsonl", batch_output_rows())

    result = import_file(store, out, ImportOptions(batch_input=inp))
    assert result.format == "openai-batch"
    assert (result.rows_read, result.imported, result.quarantined) == (5, 4, 1)
    assert result.bad_rows[0][:2] == (3, "<line>") and "not valid JSON" in result.bad_rows[0][2]

    ok, tools, too_long, expired = spans(store, "metadata->>'custom_id'")
    assert (ok["model"], ok["model_version"], ok["provider"], ok["kind"]) == (
        "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai", "llm")
    assert (ok["input_tokens"], ok["output_tokens"], ok["cached_input_tokens"],
            ok["reasoning_tokens"]) == (2048, 12, 1024, 0)
    assert (ok["output"], ok["finish_reason"], ok["status"]) == ("Hello! How can I help?", "stop", "ok")
    assert (ok["system_prompt"], ok["last_user_message"]) == ("You are a helpful assistant.",
                                                             "Hello world!")
    assert str(ok["start_time"]) == "2025-01-15 09:13:20"
    assert ok["cost_usd"] is not None
    meta = json.loads(ok["metadata"])
    assert (meta["custom_id"], meta["request_id"], meta["response_id"]) == (
        "request-1", "req_001", "chatcmpl-001")
    assert meta["request"] == {"max_tokens": 1000, "user": "user-17"}
    assert ok["user_id"] == "user-17"  # OpenAI's end-user parameter

    assert json.loads(tools["messages"]) == [{"role": "user", "content": "Weather in\nParis?"}]
    assert json.loads(tools["tool_calls"]) == [{"id": "call_abc", "type": "function", "function": {
        "name": "get_weather", "arguments": '{"location":"Paris"}'}}]
    assert (tools["finish_reason"], tools["status"], tools["output"]) == ("tool_calls", "ok", None)

    assert (too_long["status"], too_long["error_type"]) == ("error", "context_length_exceeded")
    assert too_long["error_message"].startswith("This model's maximum context length")
    assert too_long["last_user_message"] == "x" * 10
    # No completion, so no time of its own: the batch's first completion time stands in.
    assert (expired["status"], expired["error_type"]) == ("error", "batch_expired")
    assert expired["start_time"] == ok["start_time"] and expired["messages"] is None
    assert json.loads(expired["metadata"])["start_time_from"] == "batch"

    again = import_file(store, out, ImportOptions(batch_input=inp))
    assert (again.imported, again.duplicates, again.quarantined) == (0, 4, 1)
    assert again.rows_read == again.imported + again.duplicates + again.quarantined


def test_batch_output_without_input_names_the_model_that_answered(store, tmp_path: Path):
    out = write_jsonl(tmp_path / "batch_output.jsonl", batch_output_rows()[:2])
    assert import_file(store, out).imported == 2
    first = spans(store, "metadata->>'custom_id'")[0]
    assert (first["model"], first["model_version"]) == ("gpt-4o-mini-2024-07-18",) * 2
    assert first["messages"] is None and first["output"] == "Hello! How can I help?"


def test_request_response_pairs(store, tmp_path: Path):
    req = {"model": "gpt-4o", "temperature": 0.2,
           "messages": [{"role": "developer", "content": "Answer in French."},
                        {"role": "user", "content": "Capital of Italy?"}]}
    answer = completion("chatcmpl-p1", "gpt-4o-2024-08-06",
                        {"role": "assistant", "content": "Rome."}, "stop",
                        {"prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22,
                         "completion_tokens_details": {"reasoning_tokens": 0}})
    rows = [
        {"request": req, "response": answer, "start_time": "2025-01-15T09:00:00Z",
         "latency_ms": 840, "session_id": "s-1", "user_id": "u-1", "tags": ["eval"]},
        {"request": {**req, "model": "gpt-4o-mini"}, "response": {**completion(
            "chatcmpl-p2", "gpt-4o-mini-2024-07-18", {"role": "assistant", "content": "Roma."},
            "length", {"prompt_tokens": 20, "completion_tokens": 1, "total_tokens": 21})}},
        {"request": req, "response": {"error": {"message": "Request timed out.", "type": "timeout",
                                                "code": None}},
         "timestamp": CREATED + 60},
        {"request": req},
    ]
    path = write_jsonl(tmp_path / "pairs.jsonl", rows)

    result = import_file(store, path)
    assert result.format == "openai-pairs"
    assert (result.rows_read, result.imported, result.quarantined) == (4, 3, 1)
    assert result.bad_rows[0][:2] == (4, "<line>") and "no response" in result.bad_rows[0][2]

    first, second, failed = spans(store)
    assert (first["model"], first["model_version"], first["output"]) == (
        "gpt-4o", "gpt-4o-2024-08-06", "Rome.")
    assert (str(first["start_time"]), first["latency_ms"]) == ("2025-01-15 09:00:00", 840)
    assert str(first["end_time"]) == "2025-01-15 09:00:00.840000"
    assert (first["system_prompt"], first["last_user_message"]) == ("Answer in French.",
                                                                   "Capital of Italy?")
    assert (first["session_id"], first["user_id"], list(first["tags"])) == ("s-1", "u-1", ["eval"])
    assert json.loads(first["metadata"])["request"] == {"temperature": 0.2}
    # Without times of its own, a pair starts when the completion was created.
    assert str(second["start_time"]) == "2025-01-15 09:13:20"
    assert (second["model"], second["finish_reason"]) == ("gpt-4o-mini", "length")
    assert (failed["status"], failed["error_type"], failed["error_message"]) == (
        "timeout", "timeout", "Request timed out.")
    assert str(failed["start_time"]) == "2025-01-15 09:14:20"

    again = import_file(store, path)
    assert (again.imported, again.duplicates, again.quarantined) == (0, 3, 1)
    assert len({(s["trace_id"], s["span_id"]) for s in spans(store)}) == 3


def test_a_broken_first_line_does_not_hide_a_batch_output(store, tmp_path: Path):
    out = write_jsonl(tmp_path / "batch_output.jsonl",
                      ['{"id": "batch_req_000", "custom_id": ', *batch_output_rows()[:2]])
    assert detect_format(out) == "openai-batch"
    result = import_file(store, out)
    assert (result.format, result.imported, result.quarantined) == ("openai-batch", 2, 1)
    # "request" and "response" name too many things to tell pairs from text alone.
    pairs = write_jsonl(tmp_path / "pairs.jsonl", ['{"request": ', {"request": {}, "response": "hi"}])
    assert detect_format(pairs) == "jsonl"
