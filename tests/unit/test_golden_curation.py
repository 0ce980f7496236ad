"""Golden sets fit for retraining: conditions on several criteria, evidence filters, rows
excluded and restored with a reason, de-duplication and a split by session, on real DuckDB
files. Each selection is checked against the same rules written again in plain Python."""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
from collections import Counter
from datetime import datetime, timedelta

import pandas as pd
import pytest
from review_support import opts, synthetic_spans, write_roles

from goldenloop import golden as G
from goldenloop import review
from goldenloop.golden import exclusions
from goldenloop.golden.curation import Condition, gold_accuracy
from goldenloop.golden.filters import FilterError, GoldenError
from goldenloop.review import sql as review_sql
from goldenloop.sampling import create_hand_queue

T0 = datetime(2026, 3, 1)
WHO = ("ana", "ben", "chloe")
TONES = ("on-brand", "too formal", "too casual")


def _row(key: int, who: str, criterion: str, t: datetime, **kw) -> dict:
    return {"target_type": "span", "target_id": str(key), "span_key": key,
            "criterion": criterion, "source": "human", "author_kind": "reviewer",
            "author_id": who, "rubric_name": "default", "rubric_version": "v1",
            "created_at": t, **kw}


def _history(store, n: int, seed: int) -> dict:
    """Random grades of correctness, tone and safety on ``n`` spans whose inputs repeat
    (in other case and spacing) and whose sessions hold three spans; the facts in Python."""
    synthetic_spans(store, n, seed=seed)
    rnd = random.Random(seed)
    keys = [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]
    facts, rows = {}, []

    def write(cur):
        for i, k in enumerate(keys):
            j = i % (n // 3)   # inputs repeat, with other case and white space
            text = (f"where is my order {j}? ", f"Where is my  order {j}?",
                    f"Where is\tmy order {j}?", f"where is\r\nmy order {j}?")[i % 4]
            cur.execute("UPDATE spans SET last_user_message = ?, session_id = ? WHERE span_key = ?",
                        [text, f"sess-{i // 3}", k])
            f = facts[k] = {"input": text, "session": f"sess-{i // 3}", "i": i,
                            "correct": {}, "tone": {}, "flag": {}}
            t = T0 + timedelta(minutes=i)
            for who in rnd.sample(WHO, rnd.choice([1, 2, 2, 3])):
                v = rnd.choice([3, 4, 5, 5])
                f["correct"][who] = v
                rows.append(_row(k, who, "correctness", t, value_number=float(v)))
                if rnd.random() < 0.9:
                    labels = sorted(rnd.sample(TONES, rnd.choice([1, 1, 2])))
                    f["tone"][who] = labels
                    rows.append(_row(k, who, "tone", t, value_labels=labels))
                if rnd.random() < 0.9:
                    f["flag"][who] = rnd.random() < 0.15
                    rows.append(_row(k, who, "safety", t, value_label="safe", value_number=3.0,
                                     flagged=f["flag"][who]))
        review_sql.insert_human_grades(cur, rows)

    store.write(write)
    return facts


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text).strip()).lower()


def _reference(facts: dict, min_agreeing: int = 0, dedupe: bool = False):
    """{row_key: kept} and the left-out counts, in the library's order of steps."""
    reasons, kept = Counter(), {}
    for k, f in facts.items():
        keys = {w: "correct" if v >= 4 else "incorrect" for w, v in f["correct"].items()}
        votes = Counter(keys.values())
        major = [x for x, m in votes.items() if 2 * m > len(keys)]
        if not major:
            reasons["reviewers disagree"] += 1
            continue
        if major[0] == "incorrect":
            reasons["no acceptable expected output"] += 1
            continue
        tone_ok = [not ({"too casual"} & set(v)) for v in f["tone"].values()]
        if not tone_ok:
            reasons["tone: not graded"] += 1
            continue
        if not sum(tone_ok) * 2 > len(tone_ok):
            reasons["tone: condition not met"] += 1
            continue
        if any(f["flag"].values()):   # no safety grade: nothing flagged, it passes
            reasons["safety: condition not met"] += 1
            continue
        agreeing = sum(1 for x in keys.values() if x == major[0])
        if agreeing < min_agreeing:
            reasons["too few agreeing reviewers"] += 1
            continue
        kept[f"span:{k}"] = (agreeing, len(keys), f["i"], _norm(f["input"]))
    if dedupe:
        best = {}
        for rk, (agree, n, i, norm) in kept.items():
            if norm not in best or (agree, n, i) > kept[best[norm]][:3]:
                best[norm] = rk
        merged = set(kept) - set(best.values())
        reasons["duplicate input"] = len(merged) if merged else 0
        if not merged:
            del reasons["duplicate input"]
        kept = {rk: v for rk, v in kept.items() if rk not in merged}
    return set(kept), dict(reasons)


CONDITIONS = (Condition.parse("tone!=too casual"), Condition.parse("safety:not-flagged"))


@pytest.mark.parametrize(("min_agreeing", "dedupe"), [(0, False), (2, False), (0, True), (2, True)])
@pytest.mark.slow
def test_conditions_evidence_and_dedupe_match_an_independent_computation(store, min_agreeing,
                                                                          dedupe):
    facts = _history(store, 150, seed=min_agreeing * 10 + dedupe)
    kept, reasons = _reference(facts, min_agreeing, dedupe)
    f = G.GoldenFilter(correct_at=4, conditions=CONDITIONS, min_agreeing=min_agreeing,
                       dedupe=dedupe)
    p = G.preview(store, f, limit=1000)
    assert p.counts["left_out"] == reasons
    assert p.counts["included"] == len(kept)
    b = G.build(store, "curated", f, "lead")
    assert set(G.rows(store, b.version)["row_key"]) == kept
    if dedupe:
        assert b.version.counts["duplicates_merged"] == reasons.get("duplicate input", 0) > 0


def test_conditions_parse_and_refuse_nonsense():
    assert Condition.parse("correctness>=4") == Condition("correctness", min_value=4)
    assert Condition.parse("correctness=5") == Condition("correctness", min_value=5, max_value=5)
    assert Condition.parse("tone=on-brand|too formal").labels == ("on-brand", "too formal")
    assert Condition.parse("tone != too casual").without == ("too casual",)
    for bad in ("tone", "correctness>=high", ":not-flagged"):
        with pytest.raises(FilterError):
            Condition.parse(bad)
    with pytest.raises(FilterError, match="add up"):
        G.GoldenFilter(split=(0.5, 0.2, 0.2))
    f = G.GoldenFilter(conditions=CONDITIONS, split=(80, 10, 10), split_seed=3, dedupe=True)
    assert G.GoldenFilter.from_dict(json.loads(json.dumps(f.to_dict()))) == f
    assert f.split == (0.8, 0.1, 0.1)


@pytest.mark.slow
def test_split_by_session_is_deterministic_and_carried_by_every_format(store, tmp_path):
    facts = _history(store, 240, seed=5)
    f = G.GoldenFilter(correct_at=4, split=(0.6, 0.2, 0.2), split_seed=42)
    v = G.build(store, "split", f, "lead").version
    rows = G.rows(store, v)
    # A session's rows sit in one part, the one md5("<seed>:<session>") chooses.
    by_session = rows.groupby("session_id")["split"].nunique()
    assert (by_session == 1).all() and len(by_session) > 20

    def part(session: str) -> str:
        u = int(hashlib.md5(f"42:{session}".encode()).hexdigest()[:8], 16) / 2**32
        return "train" if u < 0.6 else "validation" if u < 0.8 else "test"

    assert rows.apply(lambda r: part(r["session_id"]) == r["split"], axis=1).all()
    assert set(rows["split"]) == {"train", "validation", "test"}
    assert v.counts["split"]["seed"] == 42
    assert sum(v.counts["split"]["rows"].values()) == v.rows
    # Built again: the same version; another seed: another split, so another version.
    assert not G.build(store, "split", f, "lead").created
    other = G.build(store, "split", G.GoldenFilter(correct_at=4, split=(0.6, 0.2, 0.2),
                                                   split_seed=43), "lead")
    assert other.created and not G.rows(store, other.version)["split"].equals(rows["split"])
    done = G.export(store, "split", tmp_path, "lead", version=v.version,
                    formats=["jsonl", "csv", "parquet", "openai_chat"])
    for fmt, read in (("jsonl", lambda p: pd.read_json(p, lines=True)), ("csv", pd.read_csv),
                      ("parquet", pd.read_parquet)):
        got = read(done.files[fmt]).set_index("row_key")["split"]
        assert got.to_dict() == rows.set_index("row_key")["split"].to_dict(), fmt
    for name in ("train", "validation", "test"):
        lines = (done.folder / f"openai_chat.{name}.jsonl").read_text().splitlines()
        assert len(lines) == (rows["split"] == name).sum()
    card = done.card.read_text()
    assert "seed 42" in card and "split by session" in card
    assert len(facts) == 240


@pytest.mark.slow
def test_exports_write_only_the_formats_asked(store, tmp_path):
    _history(store, 30, seed=2)
    G.build(store, "only", G.GoldenFilter(correct_at=4), "lead")
    done = G.export(store, "only", tmp_path, "lead", formats=["jsonl"])
    assert sorted(p.name for p in done.folder.iterdir()) == ["README.md", "golden.jsonl"]


@pytest.mark.slow
def test_exclude_and_restore_a_row_with_a_reason(store):
    _history(store, 60, seed=7)
    f = G.GoldenFilter(correct_at=4)
    v1 = G.build(store, "ex", f, "lead").version
    gone = G.rows(store, v1)["row_key"].iloc[0]
    exclusions.exclude(store, "ex", gone, "leaks a customer's address", "lead")
    with pytest.raises(GoldenError, match="already excluded"):
        exclusions.exclude(store, "ex", gone, "again", "lead")
    with pytest.raises(GoldenError, match="reason"):
        exclusions.exclude(store, "ex", "span:1", "  ", "lead")
    v2 = G.build(store, "ex", f, "lead").version
    assert gone not in set(G.rows(store, v2)["row_key"]) and v2.rows == v1.rows - 1
    assert v2.counts["left_out"]["excluded by a curator"] == 1
    assert v2.counts["exclusions"][0]["row_key"] == gone
    assert v2.counts["exclusions"][0]["reason"] == "leaks a customer's address"
    assert gone in set(G.rows(store, v1)["row_key"])  # the earlier version is unchanged
    assert exclusions.excluded(store, "ex")["row_key"].tolist() == [gone]
    exclusions.restore(store, "ex", gone, "address removed from the answer", "lead")
    assert exclusions.excluded(store, "ex").empty
    v3 = G.build(store, "ex", f, "lead")
    assert v3.version.content_hash == v1.content_hash
    assert [a for a in exclusions.history(store, "ex")["action"]] == ["exclude", "restore"]
    write_roles(store, "leads: [lead]\nreviewers: [ana]\n")
    with pytest.raises(Exception, match="may not"):
        exclusions.exclude(store, "ex", gone, "no", "ana")


def test_reviewer_accuracy_on_gold_items_filters_rows(store):
    synthetic_spans(store, 12, seed=9)
    keys = [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]
    q = create_hand_queue(store, opts("gold"), span_keys=keys[:2]).queue_id
    gold = review.add_gold(store, q, "span", keys[10], {"correctness": 5, "tone": ["on-brand"],
                                                         "conciseness": "concise",
                                                         "safety": "safe"}, "lead")
    rows = [_row(keys[10], "ana", "correctness", T0, value_number=5.0, queue_id=q,
                 queue_item_id=gold),
            _row(keys[10], "ben", "correctness", T0, value_number=2.0, queue_id=q,
                 queue_item_id=gold)]
    for k in keys[:6]:   # ana alone on three, ben alone on three
        rows.append(_row(k, "ana" if k in keys[:3] else "ben", "correctness", T0,
                         value_number=5.0))
    store.write(lambda cur: review_sql.insert_human_grades(cur, rows))
    acc = gold_accuracy(store).set_index("reviewer")["accuracy"]
    assert acc["ana"] == 1.0 and acc["ben"] == 0.0
    p = G.preview(store, G.GoldenFilter(correct_at=4, min_gold_accuracy=0.8), limit=100)
    shown = set(p.rows["row_key"])
    assert {f"span:{k}" for k in keys[:3]} <= shown
    assert not shown & {f"span:{k}" for k in keys[3:6]}
    assert p.counts["left_out"]["too few agreeing reviewers accurate on gold items"] >= 3
