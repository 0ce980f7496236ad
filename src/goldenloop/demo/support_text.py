"""The texts of support-bot turns, built for whole arrays of turns: order facts, what the
user writes, what is retrieved, what the bot answers, and the chat messages sent to the model.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from goldenloop.demo import texts_answers as A
from goldenloop.demo import texts_support as S
from goldenloop.demo.pools import Pool
from goldenloop.demo.render import (
    cat,
    choose,
    day_label,
    decimal2,
    json_const,
    json_str,
    money,
    padded,
    pick,
    render,
    where,
)

# Turn kinds: the first message of a session, then follow-ups.
FIRST, ASK, THANKS, FRUSTRATED, HUMAN = range(5)
N_INTENTS = len(S.INTENTS)
OUT_OF_SCOPE = S.INTENTS.index("out_of_scope")
REFUSAL_VARIANT = len(A.VARIANTS)  # pseudo-variant: a wrongful refusal

FIRST_POOL = Pool.of([S.FIRST[i] for i in S.INTENTS])
FOLLOW_POOL = Pool.of([S.FOLLOW[i] for i in S.INTENTS])
BODY_POOL = Pool.of([A.BODIES[i][v] for i in S.INTENTS for v in A.VARIANTS] + [A.REFUSALS])
OPENER_POOL = Pool.of([A.OPENERS[t] for t in A.TONES])
CLOSER_POOL = Pool.of([A.CLOSERS[t] for t in A.TONES])
MOOD_POOL = Pool.of([S.MOOD_PREFIX[m] for m in S.MOODS])

ALL_DOCS = [d for i in S.INTENTS for d in S.DOCS[i]] + S.GENERIC_DOCS
_first_doc = np.cumsum([0] + [len(S.DOCS[i]) for i in S.INTENTS])
DOC_START = _first_doc[:-1]  # first article of each intent in ALL_DOCS
DOC_COUNT = np.array([len(S.DOCS[i]) for i in S.INTENTS])
GENERIC_START = int(_first_doc[-1])
DOC_PREFIX = [f'{{"id": {json_const(d)}, "title": {json_const(t)}, "score": '
              for d, t, _ in ALL_DOCS]
DOC_SUFFIX = [f', "content": {json_const(c)}}}' for _, _, c in ALL_DOCS]
DOC_LINE_JSON = [json_const(f"\n[{d}] {t}: {c}")[1:-1] for d, t, c in ALL_DOCS]
K_DOCS = 4


def order_facts(rng: np.random.Generator, n_sessions: int, session_start_us: np.ndarray
                ) -> dict[str, pa.Array]:
    """Per-session facts about the customer's order (the tool's lookup result)."""
    days = rng.integers(1, 15, n_sessions)
    status = np.where(days <= 1, 0, np.where(days <= 4, 1, np.where(days <= 6, 2, 3)))
    status = np.where(rng.random(n_sessions) < 0.25, rng.integers(0, 4, n_sessions), status)
    carrier = rng.integers(0, len(S.CARRIERS), n_sessions)
    eta_days = np.where(status == 3, -rng.integers(0, 3, n_sessions), rng.integers(1, 5, n_sessions))
    eta_us = session_start_us + eta_days * 86_400_000_000
    prefixes = [S.TRACK_PREFIX[c] for c in S.CARRIERS]
    return {
        "order_id": cat("#", padded(rng.integers(1_000_000, 9_999_999, n_sessions), 7)),
        "item": choose(rng, S.ITEMS, n_sessions),
        "days": padded(days, 1),
        "amount": money(np.round(rng.lognormal(np.log(45), 0.7, n_sessions), 2) + 4.99),
        "promo": choose(rng, S.PROMOS, n_sessions),
        "last4": padded(rng.integers(0, 10_000, n_sessions), 4),
        "status": pick(S.ORDER_STATUSES, status),
        "wrong_status": pick(S.ORDER_STATUSES, (status + rng.integers(1, 4, n_sessions)) % 4),
        "carrier": pick(S.CARRIERS, carrier),
        "tracking": cat(pick(prefixes, carrier), padded(rng.integers(0, 10**10, n_sessions), 10)),
        "eta": day_label(eta_us),
    }


def user_texts(rng: np.random.Generator, intent: np.ndarray, kind: np.ndarray,
               mood: np.ndarray, rude: np.ndarray, slots: dict[str, pa.Array]) -> pa.Array:
    n = len(intent)
    first = render(FIRST_POOL.templates, FIRST_POOL.draw(rng, intent), slots)
    follow = render(FOLLOW_POOL.templates, FOLLOW_POOL.draw(rng, intent), slots)
    thanks = choose(rng, S.THANKS_USER, n)
    frustrated = choose(rng, S.FRUSTRATED_USER, n)
    human = choose(rng, S.HUMAN_USER, n)
    body = where(kind == FIRST, first, where(kind == ASK, follow, where(
        kind == THANKS, thanks, where(kind == FRUSTRATED, frustrated, human))))
    # Mood shows in the opening message; later only frustration shows, and a rude user
    # swears at any point (or just insults the bot).
    later_mood = (mood == 2) & (rng.random(n) < 0.3)
    shown = rude | (kind == FIRST) | later_mood
    prefix = render(MOOD_POOL.templates, MOOD_POOL.draw(rng, np.where(rude, 3, mood)))
    prefix = where(shown, prefix, "")
    text = cat(prefix, body)
    insult = rude & (kind != FIRST) & ((kind == THANKS) | (rng.random(n) < 0.45))
    return where(insult, choose(rng, S.RUDE_FOLLOW, n), text)


def answer_variant(q: np.ndarray) -> np.ndarray:
    """Quality 5, 4, 3, 1-2 -> good, short, partial, wrong."""
    return np.select([q >= 5, q == 4, q == 3], [0, 1, 2], 3)


def answers(rng: np.random.Generator, intent: np.ndarray, kind: np.ndarray, q: np.ndarray,
            refused: np.ndarray, tone: np.ndarray, new_version: np.ndarray, rude: np.ndarray,
            first_turn: np.ndarray, slots: dict[str, pa.Array]) -> pa.Array:
    n = len(intent)
    group = np.where(refused, N_INTENTS * len(A.VARIANTS),
                     intent * len(A.VARIANTS) + answer_variant(q))
    body = render(BODY_POOL.templates, BODY_POOL.draw(rng, group), slots)
    body = where(kind == THANKS, choose(rng, A.THANKS_REPLIES, n), body)
    body = where(kind == HUMAN, choose(rng, A.HANDOFF_REPLIES, n), body)
    lead = where(kind == FRUSTRATED, choose(rng, A.APOLOGIES, n), "")
    lead = where(rude & (rng.random(n) < 0.8), choose(rng, A.DEESCALATE, n), lead)
    # An on-brand answer greets once per session; other tones show in every answer.
    on_brand = tone == A.TONES.index("on-brand")
    short_reply = np.isin(kind, (THANKS, HUMAN))
    opener = where((on_brand & ~first_turn) | short_reply, "",
                   render(OPENER_POOL.templates, OPENER_POOL.draw(rng, tone)))
    closer = where(on_brand & short_reply, "",
                   render(CLOSER_POOL.templates, CLOSER_POOL.draw(rng, tone)))
    # The new snapshot elaborates: one extra sentence usually, two sometimes.
    k = len(A.ELABORATIONS)
    i1 = rng.integers(0, k, n)
    i2 = (i1 + rng.integers(1, k, n)) % k
    e1 = where(new_version & (rng.random(n) < 0.75), pick(A.ELABORATIONS, i1), "")
    e2 = where(new_version & (rng.random(n) < 0.2), pick(A.ELABORATIONS, i2), "")
    return cat(opener, lead, body, e1, e2, closer)


def retrieve(rng: np.random.Generator, intent: np.ndarray, hit: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Article indices (rows x K_DOCS, best first) and their scores.

    A hit ranks the intent's own articles first; a miss ranks generic or unrelated articles
    first and may leave the relevant one out.
    """
    n = len(intent)
    own_start, own_count = DOC_START[intent], DOC_COUNT[intent]
    # Three distinct articles of other intents, as increasing offsets past the intent's own.
    outside = GENERIC_START - own_count
    half = (outside - 1) // 2
    o1 = rng.integers(0, outside)
    o2 = o1 + rng.integers(1, half + 1, n)
    o3 = o2 + rng.integers(1, half + 1, n)
    other = [(own_start + own_count + o % outside) % GENERIC_START for o in (o1, o2, o3)]
    rel_a = own_start + rng.integers(0, own_count)
    rel_b = np.where(own_count > 1, own_start + (rel_a - own_start + 1) % own_count, other[2])
    generic = GENERIC_START + rng.integers(0, len(S.GENERIC_DOCS), n)
    keep_rel = rng.random(n) < 0.5
    hit_rows = np.stack([rel_a, rel_b, other[0], other[1]], axis=1)
    miss_rows = np.stack([generic, other[0], np.where(keep_rel, rel_a, other[2]), other[1]],
                         axis=1)
    docs = np.where(hit[:, None], hit_rows, miss_rows)
    top = np.where(hit, rng.uniform(0.78, 0.93, n), rng.uniform(0.52, 0.7, n))
    steps = rng.uniform(0.01, 0.09, (n, K_DOCS - 1))
    scores = np.concatenate([top[:, None], top[:, None] - np.cumsum(steps, axis=1)], axis=1)
    return docs, np.clip(scores, 0.05, 0.99)


def retrieved_json(docs: np.ndarray, scores: np.ndarray) -> pa.Array:
    parts: list = ["["]
    for k in range(docs.shape[1]):
        if k:
            parts.append(", ")
        parts += [pick(DOC_PREFIX, docs[:, k]), decimal2(scores[:, k]), pick(DOC_SUFFIX, docs[:, k])]
    parts.append("]")
    return cat(*parts)


def context_json(docs: np.ndarray, tool_used: np.ndarray, slots: dict[str, pa.Array]
                 ) -> pa.Array:
    """The second system message as a JSON string: the top articles and the order lookup.

    Built from pre-escaped pieces (the slots hold no characters JSON escapes)."""
    parts: list = ['"Help-center articles:']
    for k in range(3):
        parts.append(pick(DOC_LINE_JSON, docs[:, k]))
    lookup = cat("\\nOrder lookup: order ", slots["order_id"], ", status ", slots["status"],
                 ", carrier ", slots["carrier"], ", tracking ", slots["tracking"],
                 ", estimated delivery ", slots["eta"], ".")
    parts += [where(tool_used, lookup, ""), '"']
    return cat(*parts)


def tool_json(call_ids: pa.Array, slots: dict[str, pa.Array]) -> pa.Array:
    """An OpenAI-style tool call with its result."""
    order = pc.utf8_slice_codeunits(slots["order_id"], 1)
    return cat(
        '[{"id": "call_', call_ids, '", "type": "function", "function": {"name": "lookup_order", '
        '"arguments": "{\\"order_id\\": \\"', order, '\\"}"}, "result": {"order_id": "', order,
        '", "status": "', slots["status"], '", "carrier": "', slots["carrier"],
        '", "tracking_number": "', slots["tracking"], '", "estimated_delivery": "', slots["eta"],
        '"}}]',
    )


def messages_json(system_json: pa.Array, context_json: pa.Array, user: pa.Array,
                  answer: pa.Array, answered: np.ndarray, turn_index: np.ndarray) -> pa.Array:
    """OpenAI chat messages of each turn: system prompt, context, the earlier turns of the
    session (rows are sessions in order, so turn j's previous turn is the row before), and
    the user's message."""
    user_msg = cat('{"role": "user", "content": ', json_str(user), "}")
    asst_msg = cat(', {"role": "assistant", "content": ', json_str(pc.fill_null(answer, "")), "}")
    pair = cat(user_msg, where(answered, asst_msg, ""), ", ")
    pair_np = pair.to_numpy(zero_copy_only=False)
    hist = np.full(len(user), "", dtype=object)
    for j in range(1, int(turn_index.max(initial=0)) + 1):
        rows = np.flatnonzero(turn_index == j)
        hist[rows] = hist[rows - 1] + pair_np[rows - 1]
    return cat('[{"role": "system", "content": ', system_json,
               '}, {"role": "system", "content": ', context_json, "}, ",
               pa.array(hist, pa.string()), user_msg, "]")
