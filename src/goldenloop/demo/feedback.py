"""End users' thumbs and comments on support-bot answers: given on a share of turns, more
often on a session's last turn, and more negative when the answer was wrong, failed, or
took a tone users dislike."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from goldenloop.demo import spanbuild as B
from goldenloop.demo.render import pick, where

UP = ["Super helpful, thanks!", "Quick and clear.", "Solved my problem.", "Great bot!",
      "Thanks, that was exactly what I needed.", "Easier than calling."]
DOWN = {
    "failed": ["It just errored out.", "No answer at all.", "Kept loading and then nothing."],
    "wrong": ["Wrong information.", "That's not the refund policy on your website.",
              "It made up an answer.", "Said my order was delivered, it wasn't.",
              "Didn't answer my question.", "Contradicts what the order page says."],
    "tone": ["Way too chatty.", "Too many exclamation marks, just answer the question.",
             "Felt fake and over the top.", "Rude reply."],
    "other": ["Not helpful at all.", "I had to ask for a human anyway.", "Meh."],
}
_MOOD = np.array([0.0, 0.6, -0.6, -1.2])  # neutral, positive, negative, rude
_TONE = np.array([0.0, -0.2, -0.35, -2.0])  # on-brand, too formal, too casual, rude


def feedback_table(seed: int, truth: B.Truth, end_us: int) -> pa.Table:
    rng = np.random.default_rng([seed, 77])
    sup = np.flatnonzero(truth.app == 1)
    n = len(sup)
    ok = truth.status[sup] == B.OK
    q = truth.quality[sup].astype(np.float64)
    p_give = np.where(ok, 0.08 + 0.1 * truth.is_last[sup], 0.15)
    give = rng.random(n) < p_give
    logit = 1.3 * (q - 3) + _MOOD[truth.mood[sup]] + _TONE[truth.tone[sup]] + 0.4
    p_up = np.where(ok, 1 / (1 + np.exp(-logit)), 0.05)
    up = rng.random(n) < p_up
    created = truth.end_us[sup] + (rng.lognormal(np.log(15), 1.0, n) * 1e6).astype(np.int64)
    keep = give & (created < end_us)
    rows = sup[keep]
    idx = pa.array(rows)
    up, q, ok, created = up[keep], q[keep], ok[keep], created[keep]
    tone = truth.tone[rows]
    k = len(rows)
    reason = np.select([~ok, q <= 3, tone >= 2], [0, 1, 2], 3)
    down_pools = [DOWN[r] for r in ("failed", "wrong", "tone", "other")]
    flat = [c for p in down_pools for c in p]
    base = np.cumsum([0] + [len(p) for p in down_pools])[:-1]
    counts = np.array([len(p) for p in down_pools])
    down_txt = pick(flat, base[reason] + (rng.random(k) * counts[reason]).astype(np.int64))
    up_txt = pick(UP, rng.integers(0, len(UP), k))
    has_comment = rng.random(k) < np.where(up, 0.2, 0.45)
    comment = where(has_comment, where(up, up_txt, down_txt), pa.scalar(None, pa.string()))
    return pa.table({
        "trace_id": truth.trace_id.take(idx),
        "span_id": truth.span_id.take(idx),
        "session_id": truth.session_id.take(idx),
        "user_id": truth.user_id.take(idx),
        "kind": pa.repeat(pa.scalar("thumbs"), k),
        "value": pa.array(up.astype(np.float64)),
        "comment": comment,
        "created_at": B.times(created),
        "source": pa.repeat(pa.scalar("demo"), k),
    })
