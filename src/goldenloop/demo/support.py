"""support-bot: each turn is a trace of an ``agent`` root span, a ``retrieval`` span, an
order-lookup ``tool`` span when the question is about an order, and the ``llm`` span.

Everything is computed for a whole day of turns at once; loops run over turn positions
within sessions (at most 12), never over spans.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from goldenloop.demo import spanbuild as B
from goldenloop.demo import support_text as T
from goldenloop.demo import texts_answers as A
from goldenloop.demo import texts_support as S
from goldenloop.demo.incidents import MODEL_VERSIONS, NEW_4O, OLD_4O, Plan
from goldenloop.demo.pools import categorical
from goldenloop.demo.render import cat, hex_ids, json_const, list_array, pick, where
from goldenloop.demo.traffic import Turns

APP = "support-bot"
_TONE_P = np.array([A.TONE_WEIGHTS[OLD_4O], A.TONE_WEIGHTS[NEW_4O]])
_DIFFICULTY = np.array([S.DIFFICULTY.get(i, 0.0) for i in S.INTENTS])
_USES_TOOL = np.array([i in S.USES_TOOL for i in S.INTENTS])
_CUTS = np.array([-0.8, -0.2, 0.35, 0.85])  # latent quality -> correctness 1..5
_SYSTEM = [S.SYSTEM_PROMPTS["v7"], S.SYSTEM_PROMPTS["v8"]]
_SYSTEM_JSON = [json_const(p) for p in _SYSTEM]


def _kinds(rng: np.random.Generator, turn: np.ndarray, raw_q: np.ndarray, status: np.ndarray,
           is_last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What each follow-up turn is, given how the previous answer went; and final quality."""
    kind = np.full(len(turn), T.FIRST)
    q = raw_q.copy()
    for j in range(1, int(turn.max(initial=0)) + 1):
        rows = np.flatnonzero(turn == j)
        prev = rows - 1
        bad = (q[prev] <= 2) | (status[prev] != B.OK)
        # ask, thanks, frustrated, human
        p = np.where(bad[:, None], [0.25, 0.05, 0.42, 0.28], [0.58, 0.26, 0.09, 0.07])
        p = np.where(is_last[rows, None] & ~bad[:, None], [0.35, 0.55, 0.05, 0.05], p)
        kind[rows] = 1 + categorical(rng, p)
        q[rows] = np.where(np.isin(kind[rows], (T.THANKS, T.HUMAN)), 5, q[rows])
    return kind, q


def build(seed: int, plan: Plan, t: Turns, day: int) -> tuple[pa.Table, B.Truth]:
    """The spans of one day's support-bot turns, and the truth about their LLM calls."""
    rng = np.random.default_rng([seed, day, 1, 22])
    c = _conversation(rng, plan, t)
    c.update(_call(rng, plan, t, c))
    return _tables(rng, t, c), B.Truth(
        trace_id=t.trace_id, span_id=c["llm_id"], session_id=t.session_id, user_id=t.user_id,
        app=np.full(t.n, 1, np.int8), version=c["version"].astype(np.int8),
        start_us=c["l_start"], end_us=c["l_end"], status=c["status"].astype(np.int8),
        quality=c["q"].astype(np.int8), tone=c["tone"].astype(np.int8),
        mood=np.where(c["rude"], 3, c["mood"]).astype(np.int8), is_last=t.is_last,
    )


def _conversation(rng: np.random.Generator, plan: Plan, t: Turns) -> dict:
    """Who asks what, when each span starts, which model and retriever serve the turn, how
    good the answer is, and the texts."""
    n = t.n
    n_sessions = int(t.session.max()) + 1
    first_rows = np.flatnonzero(t.turn_index == 0)
    s_start = np.zeros(n_sessions, np.int64)
    s_start[t.session[first_rows]] = t.start_us[first_rows]
    sess = pa.array(t.session)

    # Intent and mood per session; rude turns rise in the offensive window.
    weights = np.array(S.INTENT_WEIGHTS) / sum(S.INTENT_WEIGHTS)
    intent = rng.choice(len(S.INTENTS), n_sessions, p=weights)[t.session]
    mood = rng.choice(3, n_sessions, p=S.MOOD_WEIGHTS)[t.session]
    rude = rng.random(n) < np.where(plan.inside("offensive_rise", t.start_us), 0.17, 0.018)
    facts = {k: v.take(sess) for k, v in T.order_facts(rng, n_sessions, s_start).items()}
    channel = pick(["web", "ios", "android"], rng.choice(3, n_sessions, p=[0.55, 0.25, 0.2]))

    # Span timing: agent root, retrieval, an optional order lookup, then the LLM call.
    t0 = t.start_us
    r_start = t0 + rng.integers(3_000, 15_000, n)
    r_end = r_start + (np.clip(rng.lognormal(np.log(95), 0.45, n), 20, 2_000) * 1000).astype(
        np.int64)
    tool_used = _USES_TOOL[intent] & (rng.random(n) < 0.85)
    k_start = r_end + rng.integers(1_000, 5_000, n)
    k_end = k_start + (np.clip(rng.lognormal(np.log(170), 0.6, n), 30, 3_000) * 1000).astype(
        np.int64)
    l_start = np.where(tool_used, k_end, r_end) + rng.integers(2_000, 8_000, n)

    # Which snapshot answers, which retriever runs, and how good the answer is.
    new = rng.random(n) < plan.new_version_share(l_start)
    v2 = t0 >= plan.retrieval_us
    hit = rng.random(n) < np.where(v2, 0.5, 0.92)
    z = (rng.normal(0, 1, n) + 1.1 + _DIFFICULTY[intent] - np.where(hit, 0.0, 1.6)
         - np.where(v2, 0.15, 0.0) - np.where(new, 0.08, 0.0) - np.where(rude, 0.2, 0.0)
         - 0.03 * t.turn_index)
    p_timeout = np.where(plan.inside("timeout_storm", l_start), 0.4, 0.003)
    status, err = B.outcome(rng, n, np.full(n, 0.006), p_timeout, 0.004)
    too_long = (t.turn_index >= 9) & (status == B.OK) & (rng.random(n) < 0.04)
    status = np.where(too_long, B.ERROR, status)
    err = np.where(too_long, B.CONTEXT_LENGTH, err)
    kind, q = _kinds(rng, t.turn_index, 1 + np.searchsorted(_CUTS, z), status, t.is_last)
    refused = ((intent != T.OUT_OF_SCOPE) & np.isin(kind, (T.FIRST, T.ASK, T.FRUSTRATED))
               & (rng.random(n) < 0.012))
    q = np.where(refused, 1, q)
    tone = categorical(rng, _TONE_P[new.astype(int)])
    tone = np.where(rude & (rng.random(n) < 0.03), A.TONES.index("rude"), tone)

    docs, scores = T.retrieve(rng, intent, hit)
    return dict(
        intent=intent, mood=mood, rude=rude, facts=facts, channel=channel.take(sess),
        r_start=r_start, r_end=r_end, tool_used=tool_used, k_start=k_start, k_end=k_end,
        l_start=l_start, new=new, v2=v2, status=status, err=err, q=q, tone=tone,
        version=np.where(new, MODEL_VERSIONS.index(NEW_4O), MODEL_VERSIONS.index(OLD_4O)),
        prompt_v=np.where(t0 >= plan.support_prompt_us, 1, 0),
        user=T.user_texts(rng, intent, kind, np.where(rude, 3, mood), rude, facts),
        answer=T.answers(rng, intent, kind, q, refused, tone, new, rude, t.turn_index == 0,
                         facts),
        docs=docs, scores=scores, context=T.context_json(docs, tool_used, facts),
    )


def _call(rng: np.random.Generator, plan: Plan, t: Turns, c: dict) -> dict:
    """Latency, outcome and tokens of the LLM call; calls over the client timeout time out."""
    n, status, new = t.n, c["status"], c["new"]
    out_tok = B.tokens_of(c["answer"], 4.1, rng)
    spike = plan.inside("latency_spike", c["l_start"])
    slow = np.where(spike, rng.uniform(4.5, 8.0, n), 1.0) * B.tail(rng, n)
    ttft = rng.lognormal(np.log(np.where(new, 430, 480)), 0.35) * slow
    tps = rng.lognormal(np.log(np.where(new, 66, 58)), 0.18) / slow
    lat = ttft + np.where(status == B.EMPTY, 5.0, out_tok / tps * 1000)
    status = np.where((lat > B.TIMEOUT_MS) & (status != B.ERROR), B.TIMEOUT, status)
    lat = np.select([status == B.TIMEOUT, status == B.ERROR],
                    [B.TIMEOUT_MS + rng.uniform(0, 250, n), rng.lognormal(np.log(300), 0.6, n)],
                    lat)
    ok = status == B.OK
    l_end = c["l_start"] + (lat * 1000).astype(np.int64)
    output = where(ok, c["answer"], pa.scalar(None, pa.string()))
    messages = T.messages_json(pick(_SYSTEM_JSON, c["prompt_v"]), c["context"], c["user"],
                               output, ok, t.turn_index)
    in_tok = B.tokens_of(messages, 3.9, rng)
    return dict(
        status=status, ok=ok, ttft=np.minimum(ttft, lat), l_end=l_end,
        a_end=l_end + rng.integers(5_000, 40_000, n), output=output, messages=messages,
        in_tok=in_tok, out_tok=np.where(status == B.EMPTY, 0, out_tok),
        cached=B.cached_tokens(rng, in_tok, t.turn_index > 0),
        billed=np.isin(status, (B.OK, B.EMPTY)), llm_id=hex_ids(rng, n),
    )


def _tables(rng: np.random.Generator, t: Turns, c: dict) -> pa.Table:
    """The agent, retrieval, tool and llm span rows of every turn."""
    n, status = t.n, c["status"]
    agent_id, retrieval_id, tool_id = (hex_ids(rng, n) for _ in range(3))
    common = dict(trace_id=t.trace_id, session_id=t.session_id, turn_index=B.ints(t.turn_index),
                  user_id=t.user_id, app=APP, environment="production",
                  release=pick(["1.14.0", "1.14.1", "1.15.0"],
                               np.where(c["v2"], 2, c["prompt_v"])),
                  source="demo")
    intent_txt = pick(list(S.INTENTS), c["intent"])
    agent_status = np.where(status == B.EMPTY, B.OK, status)  # the turn itself completed
    agent = B.table(n, {
        **common, "span_id": agent_id, "kind": "agent", "name": "support_turn",
        "start_time": B.times(t.start_us), "end_time": B.times(c["a_end"]),
        **B.error_columns(agent_status, c["err"]), "tags": list_array([intent_txt]),
        "metadata": cat('{"intent": "', intent_txt, '", "channel": "', c["channel"], '"}'),
    })
    retrieval = B.table(n, {
        **common, "span_id": retrieval_id, "parent_span_id": agent_id, "kind": "retrieval",
        "name": "kb_search", "start_time": B.times(c["r_start"]),
        "end_time": B.times(c["r_end"]), "status": "ok",
        "retrieved_context": T.retrieved_json(c["docs"], c["scores"]),
        "metadata": cat('{"retriever": "', where(c["v2"], "hybrid-v2", "bm25-v1"),
                        '", "top_k": 4}'),
    })
    tk = np.flatnonzero(c["tool_used"])
    tki = pa.array(tk)
    tool = B.table(len(tk), {
        **{k: (v.take(tki) if isinstance(v, pa.Array) else v) for k, v in common.items()},
        "span_id": tool_id.take(tki), "parent_span_id": agent_id.take(tki), "kind": "tool",
        "name": "lookup_order", "start_time": B.times(c["k_start"][tk]),
        "end_time": B.times(c["k_end"][tk]), "status": "ok",
        "tool_calls": T.tool_json(hex_ids(rng, len(tk)),
                                  {k: v.take(tki) for k, v in c["facts"].items()}),
    })
    billed = c["billed"]
    llm = B.table(n, {
        **common, "span_id": c["llm_id"], "parent_span_id": agent_id, "kind": "llm",
        "name": "chat gpt-4o", "provider": "openai", "model": "gpt-4o",
        "model_version": pick(list(MODEL_VERSIONS), c["version"]),
        "prompt_name": "support-system", "prompt_version": pick(["v7", "v8"], c["prompt_v"]),
        "start_time": B.times(c["l_start"]), "end_time": B.times(c["l_end"]),
        "ttft_ms": B.floats(c["ttft"], billed), "input_tokens": B.ints(c["in_tok"], billed),
        "output_tokens": B.ints(c["out_tok"], billed),
        "cached_input_tokens": B.ints(c["cached"], billed), **B.error_columns(status, c["err"]),
        "finish_reason": where(status == B.OK, "stop", where(
            status == B.EMPTY, where(rng.random(n) < 0.5, "content_filter", "stop"),
            pa.scalar(None, pa.string()))),
        "system_prompt": pick(_SYSTEM, c["prompt_v"]), "messages": c["messages"],
        "last_user_message": c["user"], "output": c["output"], "tags": list_array([intent_txt]),
        "metadata": cat('{"intent": "', intent_txt, '", "stream": true}'),
    })
    return pa.concat_tables([agent, retrieval, tool, llm])
