"""The SDK with real parts: the real ``openai`` client (sync and async, plain and streamed, an
error, a timeout) against a loopback OpenAI-compatible server, spans written as spool files
and imported by the owner's inbox into a real store, then read back."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from openai_loopback import REPLY, VERSION, openai_server

from goldenloop import sdk
from goldenloop.config import resolve_paths
from goldenloop.workers.inbox import pending_files, process_file

SYSTEM = "You are a helpful support agent."
QUESTION = "Where is my order?"
MESSAGES = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]


@pytest.fixture
def paths(store):
    p = resolve_paths(store.path).ensure()
    # Only flush() writes during a test: batches by time would make counts racy.
    sdk.configure(p.inbox, app="support-bot", environment="test", release="1.2.3",
                  batch_seconds=3600)
    return p


@pytest.fixture
def server():
    with openai_server() as s:
        yield s


def client(server, cls=openai.OpenAI, **kw):
    return sdk.wrap_openai(cls(base_url=server.base_url, api_key="sk-test", max_retries=0, **kw))


def import_inbox(store, paths) -> list[str]:
    sdk.flush()
    return [process_file(store, paths, p) for p in pending_files(paths.inbox)]


def spans(store, where: str = "TRUE") -> list[dict]:
    cur = store.cursor().execute(f"SELECT * FROM spans WHERE {where} ORDER BY start_time")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@pytest.mark.slow
def test_a_traced_app_call_becomes_parent_and_child_spans(store, paths, server):
    llm = client(server)

    @sdk.trace(kind="agent")
    def answer(question: str) -> str:
        messages = [*MESSAGES[:1], {"role": "user", "content": question}]
        r = llm.chat.completions.create(model="gpt-4o-mini", messages=messages, temperature=0.2)
        messages.append(r.choices[0].message)  # what chat loops do after the call
        return r.choices[0].message.content

    with sdk.session("conv-1", user_id="u-7"):
        assert answer(QUESTION) == REPLY
        answer("And the invoice?")
    assert import_inbox(store, paths) == ["done"]

    agent, llm_span = spans(store, "name = 'answer'")[0], spans(store, "kind = 'llm'")[0]
    assert agent["parent_span_id"] is None and agent["output"] == REPLY
    assert (llm_span["trace_id"], llm_span["parent_span_id"]) == (agent["trace_id"], agent["span_id"])
    assert (agent["session_id"], agent["user_id"], agent["turn_index"]) == ("conv-1", "u-7", 0)
    assert spans(store, "name = 'answer'")[1]["turn_index"] == 1
    assert (llm_span["app"], llm_span["environment"], llm_span["release"]) == \
        ("support-bot", "test", "1.2.3")
    assert (llm_span["model"], llm_span["model_version"], llm_span["provider"]) == \
        ("gpt-4o-mini", VERSION, "openai")
    assert json.loads(llm_span["messages"]) == MESSAGES  # as sent, not as appended to later
    assert (llm_span["system_prompt"], llm_span["last_user_message"]) == (SYSTEM, QUESTION)
    assert (llm_span["output"], llm_span["finish_reason"], llm_span["status"]) == (REPLY, "stop", "ok")
    assert (llm_span["input_tokens"], llm_span["output_tokens"], llm_span["cached_input_tokens"],
            llm_span["reasoning_tokens"]) == (42, 7, 32, 3)
    assert 0 < llm_span["latency_ms"] <= agent["latency_ms"]
    assert llm_span["source"] == "sdk" and llm_span["ttft_ms"] is None
    meta = json.loads(llm_span["metadata"])
    assert meta["request"] == {"temperature": 0.2} and meta["response_id"] == "chatcmpl-1"
    assert llm_span["cost_usd"] is not None  # priced from the table by the import


@pytest.mark.slow
def test_a_stream_is_recorded_when_it_ends_with_time_to_first_token(store, paths, server):
    llm = client(server)
    stream = llm.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True,
                                         stream_options={"include_usage": True})
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.strip() == REPLY
    import_inbox(store, paths)
    (s,) = spans(store)
    assert s["output"].strip() == REPLY and s["finish_reason"] == "stop"
    assert (s["input_tokens"], s["output_tokens"], s["cached_input_tokens"]) == (42, 7, 32)
    assert 0 < s["ttft_ms"] < s["latency_ms"]
    assert s["latency_ms"] >= 4 * 50  # the stub waits 50 ms between its chunks
    assert json.loads(s["metadata"])["stream"] is True


@pytest.mark.slow
def test_an_abandoned_stream_is_recorded_too(store, paths, server):
    llm = client(server)
    with llm.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True) as st:
        for chunk in st:
            if chunk.choices[0].delta.content:
                break  # the user closed the page after the first words
    dropped = llm.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    next(iter(dropped))
    del dropped  # never closed: recorded when collected
    import_inbox(store, paths)
    rows = spans(store)
    assert len(rows) == 2
    for s in rows:
        assert json.loads(s["metadata"])["stream_abandoned"] is True
        assert s["finish_reason"] is None and s["latency_ms"] > 0
    assert rows[0]["output"].strip() == REPLY.split(" ")[0] and rows[0]["ttft_ms"] > 0


@pytest.mark.slow
def test_errors_and_timeouts_are_recorded_and_raised_unchanged(store, paths, server):
    llm = client(server, timeout=0.5)

    @sdk.trace
    def ask(model: str) -> str:
        return llm.chat.completions.create(model=model, messages=MESSAGES).choices[0].message.content

    with pytest.raises(openai.RateLimitError):
        ask("rate-limited")
    with pytest.raises(openai.APITimeoutError):
        ask("slow")
    import_inbox(store, paths)
    limited = spans(store, "kind = 'llm' AND model = 'rate-limited'")[0]
    assert (limited["status"], limited["error_type"]) == ("error", "RateLimitError")
    assert "Rate limit reached" in limited["error_message"]
    assert json.loads(limited["metadata"])["http_status"] == 429
    slow = spans(store, "kind = 'llm' AND model = 'slow'")[0]
    assert (slow["status"], slow["error_type"]) == ("timeout", "APITimeoutError")
    assert 400 < slow["latency_ms"] < 2000
    # The traced functions around them failed too, with the same errors.
    outer = {r["error_type"]: r["status"] for r in spans(store, "name = 'ask'")}
    assert outer == {"RateLimitError": "error", "APITimeoutError": "timeout"}


@pytest.mark.slow
def test_async_client_and_functions_nest_across_tasks(store, paths, server):
    llm = client(server, cls=openai.AsyncOpenAI)

    @sdk.trace(kind="tool")
    async def one(i: int) -> str:
        r = await llm.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        return f"{i}: {r.choices[0].message.content}"

    @sdk.trace
    async def many() -> list[str]:
        stream = await llm.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES,
                                                   stream=True)
        async for _ in stream:
            pass
        return list(await asyncio.gather(one(1), one(2)))

    assert asyncio.run(many()) == [f"1: {REPLY}", f"2: {REPLY}"]
    import_inbox(store, paths)
    root = spans(store, "name = 'many'")[0]
    tools = spans(store, "kind = 'tool'")
    assert [t["parent_span_id"] for t in tools] == [root["span_id"]] * 2
    llms = spans(store, "kind = 'llm'")
    assert len(llms) == 3 and {s["trace_id"] for s in llms} == {root["trace_id"]}
    assert {s["parent_span_id"] for s in llms} == {root["span_id"]} | {t["span_id"] for t in tools}
    streamed = [s for s in llms if s["ttft_ms"] is not None]
    assert len(streamed) == 1 and streamed[0]["output"].strip() == REPLY


@pytest.mark.slow
def test_responses_api_calls_are_recorded(store, paths, server):
    llm = client(server)
    r = llm.responses.create(model="gpt-4o-mini", instructions=SYSTEM, input=QUESTION)
    assert r.output_text == REPLY
    import_inbox(store, paths)
    (s,) = spans(store)
    assert (s["system_prompt"], s["last_user_message"], s["output"]) == (SYSTEM, QUESTION, REPLY)
    assert (s["input_tokens"], s["output_tokens"], s["cached_input_tokens"],
            s["reasoning_tokens"]) == (20, 6, 4, 2)
    assert (s["model_version"], s["finish_reason"]) == (VERSION, "stop")


@pytest.mark.slow
def test_feedback_reaches_the_feedback_table_linked_to_its_span(store, paths, server):
    llm = client(server)
    llm.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    answered = sdk.last_span()
    sdk.feedback(answered, False, "wrong parcel", user_id="u-7")
    sdk.feedback(answered.trace_id, 4)
    assert import_inbox(store, paths) == ["done", "done"]  # spans first, then feedback
    rows = store.rows("SELECT f.kind, f.value, f.comment, f.user_id, f.span_key = s.span_key "
                      "FROM feedback f LEFT JOIN spans s USING (span_key) ORDER BY kind")
    assert rows == [("rating", 4.0, None, None, None), ("thumbs", 0.0, "wrong parcel", "u-7", True)]
    assert store.scalar("SELECT format FROM import_log WHERE format = 'feedback'") == "feedback"
