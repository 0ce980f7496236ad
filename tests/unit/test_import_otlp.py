"""OTLP JSON import: the shared real span in both attribute conventions, JSON Lines exports,
quarantine of broken lines and spans, errors, re-import, and detection of files whose first
record does not parse."""

from __future__ import annotations

import json
from pathlib import Path

from otlp_support import COMPARED, T0, otlp_span, request, spans

from goldenloop.ingest import import_file
from goldenloop.ingest.detect import detect_format
from goldenloop.ingest.otel_attributes import span_fields


def test_both_conventions_import_to_the_same_span(store, shared_data: Path, tmp_path: Path):
    traces = shared_data / "traces"
    conventions = {
        "genai": json.loads((traces / "otel_genai_client_span_tool_calls.json").read_text()),
        "openinference": json.loads((traces / "openinference_client_span_tool_calls.json").read_text()),
    }
    rows = {}
    for i, (label, attrs) in enumerate(conventions.items()):
        path = tmp_path / f"{label}.json"
        span = otlp_span(attrs, trace=f"{i + 1:032x}", span=f"{i + 1:016x}")
        path.write_text(json.dumps(request(span), indent=2))  # one pretty-printed document
        result = import_file(store, path)
        assert (result.format, result.imported, result.quarantined) == ("otlp", 1, 0)
        rows[label] = spans(store, f"trace_id = '{i + 1:032x}'")[0]

    genai, oi = rows["genai"], rows["openinference"]
    for field in COMPARED:
        assert genai[field] == oi[field], field
    assert json.loads(genai["messages"]) == json.loads(oi["messages"])

    assert (genai["model"], genai["model_version"]) == ("gpt-4", "gpt-4-0613")
    assert (genai["input_tokens"], genai["output_tokens"]) == (97, 52)
    assert (genai["provider"], genai["kind"], genai["finish_reason"]) == ("openai", "llm", "stop")
    assert genai["output"] == "The weather in Paris is currently rainy with a temperature of 57°F."
    assert genai["last_user_message"] == "Weather in Paris?"
    assert (genai["app"], genai["release"], genai["environment"]) == (
        "weather-bot", "1.4.2", "production")
    assert genai["status"] == "ok" and genai["latency_ms"] == 1500
    assert str(genai["start_time"]) == "2025-01-15 09:13:20"
    assert json.loads(genai["messages"]) == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Absolutely! Let me check the weather for you.",
         "tool_calls": [{"id": "1234", "type": "function",
                         "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'}}]},
        {"role": "tool", "content": "rainy, 57°F", "tool_call_id": "1234"},
    ]


def test_jsonl_export_quarantines_broken_lines_and_imports_the_rest(store, tmp_path: Path):
    root = otlp_span({"openinference.span.kind": "CHAIN", "input.value": "Weather in Paris?",
                      "output.value": "Rainy.", "session.id": "s-1"},
                     trace="a" * 32, span="1" * 16, name="agent", ms=3000)
    child = otlp_span({"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini-2024-07-18",
                       "llm.invocation_parameters": '{"model": "gpt-4o-mini"}',
                       "llm.input_messages.0.message.role": "user",
                       "llm.input_messages.0.message.content": "Weather in Paris?",
                       "llm.output_messages.0.message.role": "assistant",
                       "llm.output_messages.0.message.content": "Rainy.",
                       "llm.token_count.prompt": 12, "llm.token_count.completion": 3},
                      trace="a" * 32, span="2" * 16, parent="1" * 16, start=T0 + 10**8)
    other = otlp_span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                       "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text",'
                                                 '"content":"Hi"}],"finish_reason":"stop"}]'},
                      trace="b" * 32, span="3" * 16, start=T0 + 10**9)
    lines = [json.dumps(request(root, child)), '{"resourceSpans": [', "",
             json.dumps(request(other)), json.dumps({"hello": "world"})]
    path = tmp_path / "collector.jsonl"
    path.write_text("\n".join(lines) + "\n")

    result = import_file(store, path)
    assert result.format == "otlp"
    assert (result.imported, result.quarantined, result.duplicates) == (3, 2, 0)
    assert result.rows_read == result.imported + result.duplicates + result.quarantined
    assert [(row, field) for row, field, _ in result.bad_rows] == [(2, "<line>"), (5, "<line>")]
    assert "not valid JSON" in result.bad_rows[0][2]
    assert "no resourceSpans" in result.bad_rows[1][2]

    agent, llm, chat = spans(store)
    assert (agent["kind"], agent["session_id"], agent["last_user_message"]) == ("chain", "s-1",
                                                                             "Weather in Paris?")
    assert (llm["parent_span_id"], llm["trace_id"]) == ("1" * 16, "a" * 32)
    assert (llm["model"], llm["model_version"]) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
    assert (llm["input_tokens"], llm["output_tokens"], llm["output"]) == (12, 3, "Rainy.")
    assert llm["cost_usd"] is not None and llm["cost_usd"] > 0
    assert (chat["kind"], chat["model"], chat["output"], chat["finish_reason"]) == (
        "llm", "gpt-4o", "Hi", "stop")

    again = import_file(store, path)
    assert (again.imported, again.duplicates, again.quarantined) == (0, 3, 2)
    assert store.scalar("SELECT count(*) FROM spans") == 3


def test_a_pretty_printed_export_larger_than_the_detection_head_is_otlp(store, tmp_path: Path):
    answer = "Rain all week. " * 2_000  # long outputs: 40 spans make a file over 1 MiB
    many = [otlp_span({"gen_ai.request.model": "gpt-4o", "output": answer},
                      trace="f" * 32, span=f"{i + 1:016x}", start=T0 + i * 10**9)
            for i in range(40)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(request(*many), indent=2))
    assert path.stat().st_size > 1 << 20

    assert detect_format(path) == "otlp"
    result = import_file(store, path)
    assert (result.format, result.imported, result.quarantined) == ("otlp", 40, 0)
    assert store.scalar("SELECT count(*) FROM spans WHERE output = ?", [answer]) == 40


def test_a_broken_first_line_does_not_hide_an_otlp_export(store, tmp_path: Path):
    good = [otlp_span({"gen_ai.request.model": "gpt-4o", "output": f"answer {i}"},
                      trace="9" * 32, span=f"{i + 1:016x}", start=T0 + i * 10**9)
            for i in range(2)]
    path = tmp_path / "cut.jsonl"
    path.write_text("\n".join(['{"resourceSpans": [{"scopeSpans": [',
                               *(json.dumps(request(span)) for span in good)]) + "\n")

    assert detect_format(path) == "otlp"
    result = import_file(store, path)
    assert (result.format, result.imported, result.quarantined) == ("otlp", 2, 1)
    assert result.bad_rows[0][:2] == (1, "<line>") and "not valid JSON" in result.bad_rows[0][2]

def test_error_status_with_exception_event_and_timeouts(store, tmp_path: Path):
    exception = {"timeUnixNano": str(T0), "name": "exception", "attributes": [
        {"key": "exception.type", "value": {"stringValue": "openai.RateLimitError"}},
        {"key": "exception.message", "value": {"stringValue": "Rate limit reached for gpt-4o"}}]}
    failed = otlp_span({"gen_ai.request.model": "gpt-4o"}, trace="c" * 32, span="1" * 16,
                       status={"code": 2, "message": "rate limited"}, events=[exception])
    timed_out = otlp_span({"gen_ai.request.model": "gpt-4o", "error.type": "timeout"},
                          trace="c" * 32, span="2" * 16,
                          status={"code": "STATUS_CODE_ERROR", "message": "Request timed out."})
    recovered = otlp_span({"gen_ai.request.model": "gpt-4o", "output": "fine"}, trace="c" * 32,
                          span="3" * 16, status={"code": 1}, events=[exception])
    path = tmp_path / "errors.json"
    path.write_text(json.dumps(request(failed, timed_out, recovered)))

    result = import_file(store, path)
    assert (result.imported, result.quarantined) == (3, 0)
    by_id = {r["span_id"]: r for r in spans(store)}
    assert by_id["1" * 16]["status"] == "error"
    assert by_id["1" * 16]["error_type"] == "openai.RateLimitError"
    assert by_id["1" * 16]["error_message"] == "Rate limit reached for gpt-4o"
    assert by_id["2" * 16]["status"] == "timeout"
    assert by_id["2" * 16]["error_message"] == "Request timed out."
    # An exception the span recorded but recovered from is not the span's error.
    assert (by_id["3" * 16]["status"], by_id["3" * 16]["error_type"]) == ("ok", None)


def test_a_span_with_broken_fields_is_quarantined_with_its_raw_json(store, tmp_path: Path):
    good = otlp_span({"gen_ai.request.model": "gpt-4o", "output": "ok"}, trace="d" * 32,
                     span="1" * 16)
    bad_time = otlp_span({"gen_ai.request.model": "gpt-4o"}, trace="d" * 32, span="2" * 16)
    bad_time["startTimeUnixNano"] = "yesterday"
    bad_tokens = otlp_span({"gen_ai.request.model": "gpt-4o"}, trace="d" * 32, span="3" * 16)
    bad_tokens["attributes"].append({"key": "gen_ai.usage.input_tokens",
                                     "value": {"intValue": "many"}})
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(request(good, bad_time, bad_tokens)))

    result = import_file(store, path)
    assert (result.rows_read, result.imported, result.quarantined) == (3, 1, 2)
    rows = store.rows("SELECT row_number, field, reason, raw FROM quarantine ORDER BY row_number")
    assert [(r[0], r[1]) for r in rows] == [(2, "start_time"), (3, "input_tokens")]
    assert "yesterday" in rows[0][2] and "many" in rows[1][2]
    assert json.loads(rows[0][3])["spanId"] == "2" * 16  # the span as read, nothing lost


def test_snake_case_keys_and_base64_ids(store, tmp_path: Path):
    doc = {"resource_spans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"string_value": "svc"}}]},
        "scope_spans": [{"spans": [{
            "trace_id": "q83vEjRWeJCrze8SNFZ4kA==", "span_id": "EjRWeJCrze8=",
            "name": "chat", "start_time_unix_nano": T0, "end_time_unix_nano": T0 + 2_000_000,
            "attributes": [{"key": "gen_ai.request.model", "value": {"string_value": "gpt-4o"}},
                           {"key": "gen_ai.usage.input_tokens", "value": {"int_value": 5}},
                           {"key": "gen_ai.response.finish_reasons",
                            "value": {"array_value": {"values": [{"string_value": "length"}]}}}],
        }]}],
    }]}
    path = tmp_path / "snake.json"
    path.write_text(json.dumps(doc))
    assert import_file(store, path).imported == 1
    (row,) = spans(store)
    assert (row["trace_id"], row["span_id"]) == ("abcdef1234567890abcdef1234567890", "1234567890abcdef")
    assert (row["app"], row["input_tokens"], row["finish_reason"], row["latency_ms"]) == (
        "svc", 5, "length", 2.0)


def test_openinference_details_import(store, tmp_path: Path):
    attrs = {
        "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-2024-08-06",
        "llm.provider": "openai", "session.id": "conv-7", "user.id": "u-42",
        "tag.tags": ["beta", "eu"], "metadata": '{"tenant": "acme"}',
        "llm.prompt_template.template": "Answer: {q}", "llm.prompt_template.version": "v3",
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "Be brief.",
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.contents.0.message_content.type": "text",
        "llm.input_messages.1.message.contents.0.message_content.text": "Part one.",
        "llm.input_messages.1.message.contents.1.message_content.text": "Part two.",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_1",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "lookup",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"q": 1}',
        "llm.finish_reason": "tool_calls",
        "llm.token_count.prompt": 1200, "llm.token_count.completion": 300,
        "llm.token_count.prompt_details.cache_read": 1024,
        "llm.token_count.completion_details.reasoning": 128,
    }
    retriever = {"openinference.span.kind": "RETRIEVER", "input.value": "paris weather",
                 "retrieval.documents.0.document.id": "doc-1",
                 "retrieval.documents.0.document.content": "Paris is rainy.",
                 "retrieval.documents.0.document.score": 0.92,
                 "retrieval.documents.1.document.content": "Lyon is sunny."}
    path = tmp_path / "oi.json"
    path.write_text(json.dumps(request(
        otlp_span(attrs, trace="e" * 32, span="1" * 16),
        otlp_span(retriever, trace="e" * 32, span="2" * 16, start=T0 + 10**9, name="retrieve"))))
    assert import_file(store, path).imported == 2

    llm, ret = spans(store)
    assert (llm["session_id"], llm["user_id"], list(llm["tags"])) == ("conv-7", "u-42", ["beta", "eu"])
    assert (llm["model"], llm["model_version"]) == ("gpt-4o-2024-08-06", "gpt-4o-2024-08-06")
    assert (llm["cached_input_tokens"], llm["reasoning_tokens"]) == (1024, 128)
    assert (llm["system_prompt"], llm["last_user_message"]) == ("Be brief.", "Part one.\nPart two.")
    assert (llm["prompt_version"], llm["finish_reason"], llm["status"]) == ("v3", "tool_calls", "ok")
    assert json.loads(llm["tool_calls"]) == [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": 1}'}}]
    meta = json.loads(llm["metadata"])
    assert meta["tenant"] == "acme" and meta["prompt_template"]["template"] == "Answer: {q}"
    assert ret["kind"] == "retrieval"
    assert json.loads(ret["retrieved_context"]) == [
        {"id": "doc-1", "content": "Paris is rainy.", "score": 0.92}, {"content": "Lyon is sunny."}]


def test_genai_parts_system_instructions_and_output_tool_calls():
    fields = span_fields({
        "gen_ai.operation.name": "chat", "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4", "gen_ai.conversation.id": "thread-9",
        "gen_ai.system_instructions": [{"type": "text", "content": "You are terse."}],
        "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}],
        "gen_ai.output.messages": [{"role": "assistant", "finish_reason": "tool_call", "parts": [
            {"type": "tool_call", "id": "t1", "name": "search", "arguments": {"q": "é"}}]}],
        "gen_ai.usage.cache_read.input_tokens": 40, "gen_ai.usage.reasoning.output_tokens": 7,
        "gen_ai.response.time_to_first_chunk": 0.25, "gen_ai.agent.name": "helper",
    }, {"service.name": "svc", "deployment.environment": "staging"})
    assert fields["messages"] == [{"role": "system", "content": "You are terse."},
                                  {"role": "user", "content": "Hi"}]
    assert (fields["system_prompt"], fields["last_user_message"]) == ("You are terse.", "Hi")
    assert fields["tool_calls"] == [{"id": "t1", "type": "function",
                                     "function": {"name": "search", "arguments": '{"q":"é"}'}}]
    assert (fields["provider"], fields["session_id"], fields["environment"]) == (
        "anthropic", "thread-9", "staging")
    assert (fields["cached_input_tokens"], fields["reasoning_tokens"], fields["ttft_ms"]) == (
        40, 7, 250.0)
    assert fields["finish_reason"] == "tool_call" and "output" not in fields
    assert fields["metadata"]["attributes"] == {"gen_ai.agent.name": "helper"}


def test_tool_spans_in_both_conventions():
    genai = span_fields({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather",
                         "gen_ai.tool.call.id": "call_1",
                         "gen_ai.tool.call.arguments": {"location": "Paris"},
                         "gen_ai.tool.call.result": "rainy, 57°F"})
    oi = span_fields({"openinference.span.kind": "TOOL", "tool.name": "get_weather",
                      "tool.id": "call_1", "input.value": '{"location":"Paris"}',
                      "output.value": "rainy, 57°F"})
    assert genai == oi
    assert (genai["kind"], genai["output"]) == ("tool", "rainy, 57°F")
    assert genai["tool_calls"] == [{"id": "call_1", "type": "function", "result": "rainy, 57°F",
                                    "function": {"name": "get_weather",
                                                 "arguments": '{"location":"Paris"}'}}]
    assert "last_user_message" not in genai
