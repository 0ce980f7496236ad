"""Scoring runs: the offline signals of every LLM span that lacks them (or whose scorer
versions changed), in batches that each commit on their own, then — when configured — the
moderation endpoint. ``score_job`` is the worker's "score" job.

Batches commit separately so a long run shows progress, can be cancelled, and leaves what it
finished; a run that stops early is simply continued by the next one (nothing is scored
twice: rows are updated in place or inserted after an anti-join).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from goldenloop.scorers import length, offensive, refusal, sentiment
from goldenloop.scorers import moderation as mod
from goldenloop.store import Store
from goldenloop.store import signals as signal_sql

Progress = Callable[[float, str], None]
OFFLINE = (offensive, sentiment, refusal, length)
BATCH_SPANS = 20_000  # spans per commit: bounded memory, a progress step every second or so
MODERATION_GROUP = 256  # spans per moderation commit


def versions() -> dict[str, str]:
    """The running offline scorers' versions, as stored in ``signals.scorer_versions``."""
    return {m.NAME: m.VERSION for m in OFFLINE}


def compute(table: pa.Table) -> pa.Table:
    """Offline signals of (span_key, last_user_message, output) rows, one row each."""
    user, out = table["last_user_message"], table["output"]
    chars, words = length.score(out)
    return pa.table({
        "span_key": table["span_key"],
        "user_offensive": offensive.score(user),
        "output_offensive": offensive.score(out),
        "user_sentiment": sentiment.score(user),
        "output_sentiment": sentiment.score(out),
        "output_chars": chars,
        "output_words": words,
        "refusal": refusal.score(out),
    })


@dataclass
class ScoreResult:
    spans: int = 0  # LLM spans scored in this run
    inserted: int = 0
    updated: int = 0  # rows scored again (a scorer version changed, or --rescore)
    texts: int = 0  # non-empty user messages and outputs among them
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        if not self.spans:
            return "signals up to date: no LLM span needed scoring"
        # A rate over a few texts is mostly the models' one-second load: say it only at scale.
        rate = f" ({self.texts / self.seconds:,.0f} texts/s)" if self.texts >= 10_000 else ""
        return (f"scored {self.spans:,} LLM spans ({self.inserted:,} new, {self.updated:,} "
                f"again): {self.texts:,} texts in {self.seconds:.1f} s{rate}")


def score_spans(store: Store, *, rescore: bool = False, batch_spans: int = BATCH_SPANS,
                progress: Progress | None = None, spans: Any = None) -> ScoreResult:
    """Offline signals for LLM spans without a current row (all LLM spans with ``rescore``),
    in the span store ``spans`` (the database file itself when None or DuckDB)."""
    note = progress or (lambda _f, _m: None)
    if spans is not None and spans.dialect == "clickhouse":
        return _score_clickhouse(spans, rescore, batch_spans, note)
    t0 = time.perf_counter()
    current = versions()
    result = ScoreResult()
    with _reader(store) as cur:
        keys = signal_sql.pending_keys(cur, current, rescore)
        note(0.0, f"{len(keys):,} LLM spans to score")
        for start in range(0, len(keys), batch_spans):
            batch = signal_sql.texts_for(cur, keys.slice(start, batch_spans))
            signals = compute(batch)
            inserted, updated = store.write(signal_sql.write_offline, signals, current)
            result.spans += batch.num_rows
            result.inserted += inserted
            result.updated += updated
            result.texts += _count_texts(batch)
            note(result.spans / len(keys), f"{result.spans:,} of {len(keys):,} LLM spans scored")
    result.seconds = time.perf_counter() - t0
    return result


def _score_clickhouse(spans: Any, rescore: bool, batch_spans: int,
                      note: Progress) -> ScoreResult:
    """``score_spans`` on a ClickHouse span store (its SQL: ``spanstore.clickhouse_signals``)."""
    from goldenloop.spanstore import clickhouse_signals as ch

    t0 = time.perf_counter()
    current = versions()
    result = ScoreResult()
    keys = ch.pending_keys(spans, current, rescore)
    note(0.0, f"{len(keys):,} LLM spans to score")
    for start in range(0, len(keys), batch_spans):
        batch = ch.texts_for(spans, keys.slice(start, batch_spans))
        inserted, updated = ch.write_offline(spans, compute(batch), current)
        result.spans += batch.num_rows
        result.inserted += inserted
        result.updated += updated
        result.texts += _count_texts(batch)
        note(result.spans / len(keys), f"{result.spans:,} of {len(keys):,} LLM spans scored")
    result.seconds = time.perf_counter() - t0
    return result


@contextmanager
def _reader(store: Store) -> Iterator:
    """A cursor of the run's own: Arrow reads need one with no half-read result on it, which
    the thread's shared cursor cannot promise."""
    cur = store.con.cursor()
    try:
        yield cur
    finally:
        cur.close()


def _count_texts(batch: pa.Table) -> int:
    return sum(batch.num_rows - batch[c].null_count for c in ("last_user_message", "output"))


@dataclass
class ModerationResult:
    spans: int = 0
    texts: int = 0
    flagged: int = 0  # texts the endpoint flagged
    version: str = ""

    @property
    def summary(self) -> str:
        return (f"moderated {self.spans:,} spans ({self.texts:,} texts, {self.flagged:,} "
                f"flagged) with {self.version}" if self.spans else "moderation up to date")


def moderate_spans(store: Store, config: mod.ModerationConfig,
                   progress: Progress | None = None, spans: Any = None) -> ModerationResult:
    """Moderation for scored LLM spans never moderated, newest first, up to the config's cap,
    in the span store ``spans`` (the database file itself when None or DuckDB)."""
    note = progress or (lambda _f, _m: None)
    if spans is not None and spans.dialect == "clickhouse":
        from goldenloop.spanstore import clickhouse_signals as ch

        pending = ch.moderation_pending(spans, config.max_spans_per_run)

        def write(rows: pa.Table, version: str) -> None:
            ch.write_moderation(spans, rows, version)
    else:
        with _reader(store) as cur:
            pending = signal_sql.moderation_pending(cur, config.max_spans_per_run)

        def write(rows: pa.Table, version: str) -> None:
            store.write(signal_sql.write_moderation, rows, version)
    result = ModerationResult()
    if pending.num_rows == 0:
        return result
    moderator = mod.Moderator(config)
    for start in range(0, pending.num_rows, MODERATION_GROUP):
        group = pending.slice(start, MODERATION_GROUP)
        rows, texts, flagged = _moderate_group(moderator, group)
        write(rows, moderator.version)
        result.spans += group.num_rows
        result.texts += texts
        result.flagged += flagged
        note(result.spans / pending.num_rows, f"{result.spans:,} of {pending.num_rows:,} "
                                              "spans moderated")
    result.version = moderator.version
    return result


def _moderate_group(moderator: mod.Moderator, group: pa.Table) -> tuple[pa.Table, int, int]:
    """Verdicts for the non-blank user messages and outputs of ``group``, as signal rows."""
    sides = {side: group[col].to_pylist() for side, col in
             (("user", "last_user_message"), ("output", "output"))}
    asked = [(side, i, t) for side, texts in sides.items() for i, t in enumerate(texts)
             if t and t.strip()]
    verdicts = dict(zip([(s, i) for s, i, _ in asked],
                        moderator.check([t for *_, t in asked]), strict=True))
    cols: dict[str, list] = {"span_key": group["span_key"].to_pylist()}
    for side in sides:
        vs = [verdicts.get((side, i)) for i in range(group.num_rows)]
        cols[f"{side}_moderation_flagged"] = [v.flagged if v else None for v in vs]
        cols[f"{side}_moderation_score"] = [v.max_score if v else None for v in vs]
    cols["moderation_categories"] = [
        mod.categories_json(verdicts.get(("user", i)), verdicts.get(("output", i)))
        for i in range(group.num_rows)]
    flagged = sum(v.flagged for v in verdicts.values())
    return pa.table(cols), len(asked), flagged


def score_job(store: Store, params: dict[str, Any], progress: Progress,
              spans: Any = None) -> dict[str, Any]:
    """The "score" job: offline signals, then moderation when configured. The offline pass
    commits first, so a broken moderation config or endpoint fails the job without holding
    back the offline signals. ``spans``: the span store (the database file when None)."""
    explicit = params.get("moderation_config")
    wanted = bool(explicit) or mod.default_config_path(store.path).is_file()
    share = 0.5 if wanted else 1.0

    def offline_note(frac: float, msg: str) -> None:
        progress(frac * share, msg)

    r = score_spans(store, rescore=bool(params.get("rescore")), progress=offline_note,
                    spans=spans)
    out: dict[str, Any] = {"spans": r.spans, "inserted": r.inserted, "updated": r.updated,
                           "texts": r.texts, "seconds": round(r.seconds, 2), "summary": r.summary}
    if wanted:
        config = mod.find_config(store.path, explicit)
        m = moderate_spans(store, config, lambda f, msg: progress(share + f * (1 - share), msg),
                           spans)
        out.update(moderated=m.spans, moderation_flagged=m.flagged,
                   summary=f"{r.summary}; {m.summary}")
    return out
