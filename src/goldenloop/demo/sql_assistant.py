"""sql-assistant: text-to-SQL over a small shop schema. Each question is a single-turn trace
of one ``llm`` span; an analyst's questions in one sitting share a session. Part of the
traffic is routed to gpt-4o-mini, which writes wrong queries more often.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from goldenloop.demo import spanbuild as B
from goldenloop.demo import texts_sql as Q
from goldenloop.demo.incidents import MINI, MODEL_VERSIONS, NEW_4O, OLD_4O, Plan
from goldenloop.demo.pools import Pool
from goldenloop.demo.render import cat, choose, hex_ids, json_str, num, padded, pick, render, where
from goldenloop.demo.traffic import Turns

APP = "sql-assistant"
N_Q = len(Q.QUESTIONS)
# Questions, then destructive requests; each with variants good, partial, wrong.
QUESTION_POOL = [q for q, *_ in Q.QUESTIONS] + [d for d, _ in Q.DESTRUCTIVE]
SQL_POOL = Pool.of(
    [[g] for _, g, _, _ in Q.QUESTIONS] + [[p] for _, _, p, _ in Q.QUESTIONS]
    + [[w] for *_, w in Q.QUESTIONS] + [Q.REFUSALS] + [[s for _, s in Q.DESTRUCTIVE]]
)
_HARD = np.where(np.arange(N_Q) >= N_Q - 8, -0.35, 0.0)  # joins, subqueries, percentages
_CUTS = np.array([-0.8, -0.2, 0.35, 0.85])
_V = {v: MODEL_VERSIONS.index(v) for v in MODEL_VERSIONS}


def _slots(rng: np.random.Generator, n: int, year: np.ndarray) -> dict[str, pa.Array]:
    month = rng.integers(1, 13, n)
    return {
        "n": num(rng.choice([3, 5, 10, 20], n)),
        "country": choose(rng, Q.COUNTRIES, n),
        "category": choose(rng, Q.CATEGORIES, n),
        "year": num(year - rng.choice([0, 1], n, p=[0.7, 0.3])),
        "mm": padded(month, 2),
        "month_name": pick(Q.MONTHS, month - 1),
        "days": num(rng.choice([7, 14, 30, 90], n)),
        "status": choose(rng, Q.STATUSES, n),
        "min_total": num(rng.choice([100, 250, 500, 1000], n)),
    }


def build(seed: int, plan: Plan, t: Turns, day: int) -> tuple[pa.Table, B.Truth]:
    rng = np.random.default_rng([seed, day, 2, 22])
    n = t.n
    n_sessions = int(t.session.max()) + 1
    mini = (rng.random(n_sessions) < 0.6)[t.session]  # routed per session by an A/B split
    new = ~mini & (rng.random(n) < plan.new_version_share(t.start_us))
    version = np.select([mini, new], [_V[MINI], _V[NEW_4O]], _V[OLD_4O])

    destructive = rng.random(n) < 0.03
    question = np.where(destructive, N_Q + rng.integers(0, len(Q.DESTRUCTIVE), n),
                        rng.integers(0, N_Q, n))
    rude = rng.random(n) < 0.012
    z = (rng.normal(0, 1, n) + np.where(mini, 0.55, 1.15) + _HARD[np.minimum(question, N_Q - 1)]
         - np.where(rude, 0.2, 0.0))
    q = 1 + np.searchsorted(_CUTS, z)
    # A destructive request is refused (correct) or, rarely, complied with (the worst answer).
    comply = destructive & (rng.random(n) < np.where(mini, 0.15, 0.05))
    q = np.where(destructive, np.where(comply, 1, 5), q)
    variant = np.select([q >= 4, q == 3], [0, 1], 2)
    group = np.where(destructive, np.where(comply, 3 * N_Q + 1, 3 * N_Q),
                     variant * N_Q + question)
    year = (t.start_us.astype("datetime64[us]").astype("datetime64[Y]").astype(np.int64) + 1970)
    slots = _slots(rng, n, year)
    sql = render(SQL_POOL.templates, SQL_POOL.draw(rng, group), slots)
    # The new snapshot wraps the query in Markdown and chats about it: more tokens, and a
    # format that breaks the app's "only SQL" contract.
    wrapped = cat(choose(rng, Q.CASUAL_OPENERS, n), sql,
                  choose(rng, Q.CASUAL_CLOSERS, n))
    answer = where(new & ~(destructive & ~comply), wrapped, sql)
    question_txt = render(QUESTION_POOL, question, slots)
    user = cat(where(rude, choose(rng, Q.RUDE_PREFIX, n), ""), question_txt)

    prompt_v = np.where(t.start_us >= plan.sql_prompt_us, 1, 0)
    system = pick([Q.SYSTEM_PROMPTS["v3"], Q.SYSTEM_PROMPTS["v4"]], prompt_v)
    messages = cat('[{"role": "system", "content": ', json_str(system),
                   '}, {"role": "user", "content": ', json_str(user), "}]")

    burst = plan.inside("error_burst", t.start_us) & mini
    status, err = B.outcome(rng, n, np.where(burst, 0.34, 0.007), np.full(n, 0.002), 0.002,
                            rate_limited=burst)
    out_tok = B.tokens_of(answer, 3.6, rng)
    in_tok = B.tokens_of(messages, 3.9, rng)
    base = np.where(mini, 280.0, 420.0)
    tps = rng.lognormal(np.log(np.where(mini, 105, np.where(new, 66, 58))), 0.2)
    lat = (base + out_tok / tps * 1000) * rng.lognormal(0, 0.25, n) * B.tail(rng, n)
    lat = np.select([status == B.TIMEOUT, status == B.ERROR, status == B.EMPTY],
                    [B.TIMEOUT_MS + rng.uniform(0, 250, n),
                     rng.lognormal(np.log(np.where(burst, 120, 300)), 0.6, n), base], lat)
    start = t.start_us + rng.integers(2_000, 20_000, n)
    end = start + (lat * 1000).astype(np.int64)
    ok = status == B.OK
    billed = np.isin(status, (B.OK, B.EMPTY))
    model = np.where(mini, "gpt-4o-mini", "gpt-4o")
    table = B.table(n, {
        "trace_id": t.trace_id, "span_id": hex_ids(rng, n), "session_id": t.session_id,
        "turn_index": B.ints(t.turn_index), "user_id": t.user_id, "app": APP,
        "environment": "production", "release": pick(["0.9.2", "0.9.3"], prompt_v),
        "kind": "llm", "name": pa.array(np.char.add("chat ", model).astype(object), pa.string()),
        "provider": "openai", "model": pa.array(model.astype(object), pa.string()),
        "model_version": pick(list(MODEL_VERSIONS), version),
        "prompt_name": "text-to-sql", "prompt_version": pick(["v3", "v4"], prompt_v),
        "start_time": B.times(start), "end_time": B.times(end),
        "input_tokens": B.ints(in_tok, billed),
        "output_tokens": B.ints(np.where(status == B.EMPTY, 0, out_tok), billed),
        "cached_input_tokens": B.ints(np.zeros(n), billed),
        **B.error_columns(status, err),
        "finish_reason": where(ok | (status == B.EMPTY), "stop", pa.scalar(None, pa.string())),
        "system_prompt": system, "messages": messages, "last_user_message": user,
        "output": where(ok, answer, pa.scalar(None, pa.string())),
        "metadata": '{"database": "shop", "dialect": "duckdb"}',
    })
    truth = B.Truth(
        trace_id=t.trace_id, span_id=table["span_id"].combine_chunks(), session_id=t.session_id,
        user_id=t.user_id, app=np.full(n, 2, np.int8), version=version.astype(np.int8),
        start_us=start, end_us=end, status=status.astype(np.int8), quality=q.astype(np.int8),
        tone=np.where(new, 2, 0).astype(np.int8), mood=np.where(rude, 3, 0).astype(np.int8),
        is_last=t.is_last,
    )
    return table, truth
