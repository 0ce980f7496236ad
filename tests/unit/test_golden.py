"""Building golden datasets: sources of truth, expected outputs, filters, provenance, versions
and diffs, on real DuckDB files. The selection rules are checked against an independent
Python computation over random grades."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

import pyarrow as pa
import pytest
from review_support import FULL, opts, synthetic_spans, write_roles

from goldenloop import golden as G
from goldenloop import review
from goldenloop.access.roles import PermissionDenied
from goldenloop.golden.filters import FilterError
from goldenloop.review import sql as review_sql
from goldenloop.sampling import Uniform, create_hand_queue, create_queue, make_frame
from goldenloop.store import grades as grade_sql

T0 = datetime(2026, 2, 1)
REVIEWERS = ("ana", "ben", "chloe", "dev")


def _human_row(key: int, who: str, value: float | None, t: datetime, **kw) -> dict:
    return {"target_type": "span", "target_id": str(key), "span_key": key,
            "criterion": "correctness", "value_number": value, "source": "human",
            "author_kind": "reviewer", "author_id": who, "rubric_name": "default",
            "rubric_version": "v1", "created_at": t, **kw}


def _human(cur, key: int, who: str, value: float | None, t: datetime, **kw) -> int:
    return review_sql.insert_human_grades(cur, [_human_row(key, who, value, t, **kw)])[0]


def _judges(cur, grades: list[tuple[int, float, datetime]], version: str = "j1") -> None:
    n = len(grades)
    grade_sql.insert_grades(cur, pa.table({
        "target_type": ["span"] * n, "target_id": [str(k) for k, _, _ in grades],
        "span_key": [k for k, _, _ in grades], "criterion": ["correctness"] * n,
        "value_number": [float(v) for _, v, _ in grades], "source": ["judge"] * n,
        "author_kind": ["judge"] * n, "author_id": ["judge-a"] * n,
        "judge_name": ["judge-a"] * n, "judge_model": ["m"] * n, "judge_version": [version] * n,
        "rubric_name": ["default"] * n, "rubric_version": ["v1"] * n,
        "created_at": [t for _, _, t in grades]}), skip_existing=False)


def _correct(cur, key: int, text: str, who: str, t: datetime) -> None:
    review_sql.insert_correction(cur, {"target_type": "span", "target_id": str(key),
                                       "span_key": key}, text, who, None, t)


def _random_history(store, n: int, seed: int):
    """Random grades on ``n`` spans, and the same facts kept in Python for the reference.
    Grades are written in two batches: first grades, then the edits that supersede them."""
    synthetic_spans(store, n, seed=seed)
    rnd = random.Random(seed)
    keys = [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]
    facts = {k: {"humans": {}, "adj": None, "judge": None, "correction": None} for k in keys}
    first, follow = [], []   # follow: (index into first, row) of edits, N/A and undos
    for key in keys:
        t = T0 + timedelta(minutes=key)
        for who in rnd.sample(REVIEWERS, rnd.choice([0, 1, 1, 2, 3])):
            first.append(_human_row(key, who, rnd.randint(1, 5), t))
            roll, later = rnd.random(), t + timedelta(seconds=5)
            if roll < 0.15:   # an edit: a later grade superseding the first
                follow.append((len(first) - 1, _human_row(key, who, rnd.randint(1, 5), later)))
            elif roll < 0.22:  # ends on "not applicable": the reviewer has no grade
                follow.append((len(first) - 1, _human_row(key, who, None, later,
                                                          not_applicable=True)))
            elif roll < 0.27:  # an undo: a retraction
                follow.append((len(first) - 1, _human_row(key, who, None, later,
                                                          retracted=True)))

    def write(cur):
        ids = review_sql.insert_human_grades(cur, first)
        rows2 = [{**r, "supersedes": ids[i]} for i, r in follow]
        ids2 = review_sql.insert_human_grades(cur, rows2)
        final = {i: (r, g) for i, (r, g) in enumerate(zip(first, ids, strict=True))}
        for (i, r), g in zip(follow, ids2, strict=True):
            final[i] = (r, g)
        for r, g in final.values():
            if r["value_number"] is not None:
                facts[r["span_key"]]["humans"][r["author_id"]] = (r["value_number"], g)
        adj, judged = [], []
        for key in keys:
            f, t = facts[key], T0 + timedelta(minutes=key)
            if f["humans"] and rnd.random() < 0.2:
                f["adj"] = rnd.randint(1, 5)
                adj.append(_human_row(key, "lead", f["adj"], t + timedelta(seconds=9),
                                      is_adjudication=True))
            if rnd.random() < 0.8:
                f["judge"] = rnd.randint(1, 5)
                judged.append((key, f["judge"], t + timedelta(seconds=2)))
            if rnd.random() < 0.2:
                f["correction"] = f"fixed answer {key}"
                _correct(cur, key, f["correction"], "ana", t + timedelta(seconds=7))
        review_sql.insert_human_grades(cur, adj)
        _judges(cur, judged)

    store.write(write)
    outputs = dict(store.rows("SELECT span_key, output FROM spans"))
    return facts, outputs


def _reference(facts, outputs, source: str, n_min: int = 2):
    """The selection rules written again in plain Python: {row_key: (label, expected)} and
    the left-out counts by reason."""
    kept, reasons = {}, Counter()
    for key, f in facts.items():
        humans = f["humans"]
        if not humans and f["adj"] is None:
            continue
        keys = {who: "correct" if v >= 4 else "incorrect" for who, (v, _) in humans.items()}
        votes = Counter(keys.values())
        majority = [k for k, n in votes.items() if 2 * n > len(humans)]
        if f["adj"] is not None:
            label = f["adj"]
        elif majority:
            values = Counter()
            last = {}
            for who, (v, gid) in humans.items():
                if keys[who] == majority[0]:
                    values[v] += 1
                    last[v] = max(last.get(v, 0), gid)
            label = max(values, key=lambda v: (values[v], last[v]))
        else:
            label = None
        vkey = None if label is None else ("correct" if label >= 4 else "incorrect")
        if source == "adjudicated" and f["adj"] is None:
            reason = "not adjudicated"
        elif source == "consensus" and len(humans) < n_min:
            reason = "too few reviewers"
        elif (source == "consensus" and len(votes) > 1) or label is None:
            reason = "reviewers disagree"
        elif source == "human_judge" and f["judge"] is None:
            reason = "no judge grade"
        elif source == "human_judge" and ("correct" if f["judge"] >= 4 else "incorrect") != vkey:
            reason = "judge disagrees"
        elif f["correction"]:
            reason, expected = None, f["correction"]
        elif label >= 4:
            reason, expected = None, outputs[key]
        else:
            reason = "no acceptable expected output"
        if reason:
            reasons[reason] += 1
        else:
            kept[f"span:{key}"] = (str(label), expected)
    return kept, dict(reasons)


@pytest.mark.parametrize("source", ["human", "human_judge", "adjudicated", "consensus"])
@pytest.mark.slow
def test_selection_matches_an_independent_computation(store, source):
    facts, outputs = _random_history(store, 300, seed=11)
    kept, reasons = _reference(facts, outputs, source)
    # The history's judge has no rubric to be rated under: count it ("any") to test selection.
    p = G.preview(store, G.GoldenFilter(source=source, correct_at=4, judges="any"), limit=1000)
    assert p.counts["included"] == len(kept)
    assert p.counts["left_out"] == reasons
    got = G.build(store, f"set-{source.replace('_', '-')}", G.GoldenFilter(
        source=source, correct_at=4, judges="any"), "lead")
    rows = G.rows(store, got.version)
    assert dict(zip(rows["row_key"], zip(rows["label"], rows["expected_output"], strict=True),
                    strict=True)) == kept
    assert got.version.counts["left_out"] == reasons
    assert sum(reasons.values()) + len(kept) == p.counts["considered"]
    assert (p.counts["left_out"].get("no acceptable expected output", 0)
            == reasons.get("no acceptable expected output", 0))


def test_expected_output_is_the_correction_else_a_correct_answer(store):
    synthetic_spans(store, 3, seed=1)
    k1, k2, k3 = [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]

    def write(cur):
        _human(cur, k1, "ana", 2, T0)
        _correct(cur, k1, "the right answer", "ana", T0)
        _human(cur, k2, "ana", 5, T0)
        _human(cur, k3, "ana", 1, T0)   # wrong and not corrected: left out, counted

    store.write(write)
    p = G.preview(store, G.GoldenFilter())
    assert p.filter.correct_at is None or p.filter.correct_at >= 1
    rows = G.rows(store, G.build(store, "x", G.GoldenFilter(correct_at=4), "lead").version)
    by_key = rows.set_index("row_key")
    assert by_key.loc[f"span:{k1}", "expected_output"] == "the right answer"
    assert by_key.loc[f"span:{k1}", "expected_source"] == "correction"
    assert by_key.loc[f"span:{k1}", "rejected_output"] == by_key.loc[f"span:{k1}", "output"]
    assert by_key.loc[f"span:{k2}", "expected_source"] == "graded_output"
    assert f"span:{k3}" not in by_key.index
    v = G.get_version(store, "x")
    assert v.counts["left_out"] == {"no acceptable expected output": 1}


@pytest.mark.slow
def test_review_flow_provenance_and_inclusion_probability(store):
    synthetic_spans(store, 200, seed=3)
    q = create_queue(store, opts("sampled", reviewers_per_item=2), make_frame(), Uniform(10), seed=5)
    graded = []
    for _ in range(3):
        a = review.next_item(store, q.queue_id, "ana")
        review.submit(store, a, {**FULL, "correctness": 5})
        b = review.next_item(store, q.queue_id, "ben")
        review.submit(store, b, {**FULL, "correctness": 4}, correction="Better: 42.")
        graded.append(a.span_key)
    got = G.build(store, "flow", G.GoldenFilter(queue_ids=(q.queue_id,)), "lead")
    rows = G.rows(store, got.version).set_index("span_key")
    assert sorted(rows.index) == sorted(graded)
    probs = dict(store.rows("SELECT span_key, inclusion_prob FROM queue_items "
                            "WHERE queue_id = ?", [q.queue_id]))
    for key in graded:
        r = rows.loc[key]
        assert r["inclusion_prob"] == pytest.approx(probs[key])
        assert list(r["reviewers"]) == ["ana", "ben"]
        assert r["agreement_level"] == "unanimous"        # 5 and 4 are both correct
        assert r["expected_output"] == "Better: 42." and r["corrected_by"] == "ben"
        assert r["trace_id"] and r["span_id"] and r["rubric_version"]
        assert r["queue_id"] == q.queue_id
    # Another queue filters them all out.
    assert G.preview(store, G.GoldenFilter(queue_ids=(q.queue_id + 99,))).counts["considered"] == 0


@pytest.mark.slow
def test_adjudication_settles_a_split(store):
    synthetic_spans(store, 200, seed=4)
    q = create_queue(store, opts("first", reviewers_per_item=2), make_frame(), Uniform(10), seed=2)
    a = review.next_item(store, q.queue_id, "ana")
    review.submit(store, a, {**FULL, "correctness": 5})
    b = review.next_item(store, q.queue_id, "ben")
    review.submit(store, b, {**FULL, "correctness": 1})
    f = G.GoldenFilter(queue_ids=(q.queue_id,))
    assert G.preview(store, f).counts["left_out"] == {"reviewers disagree": 1}
    adj = create_hand_queue(store, opts("settle", purpose="adjudication"), span_keys=[a.span_key])
    c = review.next_item(store, adj.queue_id, "cat")
    review.submit(store, c, {"correctness": 4})   # adjudication asks the disputed criterion only
    p = G.preview(store, G.GoldenFilter())
    assert p.counts["included"] == 1 and p.rows["agreement_level"].tolist() == ["adjudicated"]
    assert p.rows["label"].tolist() == ["4"]
    assert G.preview(store, G.GoldenFilter(source="adjudicated")).counts["included"] == 1


@pytest.mark.slow
def test_filters_by_app_model_time_tags_and_thresholds(store):
    _random_history(store, 120, seed=5)
    spans = store.df("SELECT span_key, app, model_version, start_time FROM spans")
    f = G.GoldenFilter(correct_at=4, apps=("a2",), model_versions=("m1",))
    rows = G.rows(store, G.build(store, "narrow", f, "lead").version)
    allowed = set(spans.query("app == 'a2' and model_version == 'm1'")["span_key"])
    assert rows["span_key"].isin(allowed).all() and len(rows) > 0
    mid = spans["start_time"].sort_values().iloc[60]
    early = G.preview(store, G.GoldenFilter(correct_at=4, end=mid.to_pydatetime()), limit=999)
    late = G.preview(store, G.GoldenFilter(correct_at=4, start=mid.to_pydatetime()), limit=999)
    whole = G.preview(store, G.GoldenFilter(correct_at=4), limit=999)
    assert early.counts["considered"] + late.counts["considered"] == whole.counts["considered"]
    top = G.preview(store, G.GoldenFilter(correct_at=4, min_value=5), limit=999)
    assert set(top.rows["label"]) <= {"5"}
    assert top.counts["left_out"].get("outside the grade thresholds", 0) > 0
    assert G.preview(store, G.GoldenFilter(tags=("nope",))).counts["considered"] == 0
    # Tags: any of them (the span filter's rule); a span without tags has none.
    store.write(lambda cur: cur.execute("UPDATE spans SET tags = ['vip'] WHERE span_key % 4 = 0"))
    vip = G.rows(store, G.build(store, "vip", G.GoldenFilter(correct_at=4, tags=("vip", "x")),
                                "lead").version)
    assert len(vip) > 0 and (vip["span_key"] % 4 == 0).all()


@pytest.mark.slow
def test_default_correct_rule_comes_from_the_rubric(demo_like_store):
    p = G.preview(demo_like_store, G.GoldenFilter())
    assert p.filter.correct_at == 4.0   # the upper quarter of the 1-5 scale
    assert set(p.label_balance["label"]) <= {"4", "5"}
    assert p.label_balance["rows"].sum() == p.counts["included"]


@pytest.fixture
def demo_like_store(store):
    from goldenloop.demo import grades as demo_grades

    synthetic_spans(store, 50, seed=2)
    keys = [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]
    with store.transaction() as cur:
        grade_sql.insert_criteria(cur, demo_grades.criteria_table(T0))
        for i, k in enumerate(keys):
            _human(cur, k, "ana", 1 + i % 5, T0)
    return store


@pytest.mark.slow
def test_versions_are_immutable_and_unchanged_data_makes_no_new_version(store):
    synthetic_spans(store, 20, seed=6)
    keys = [k for (k,) in store.rows("SELECT span_key FROM spans ORDER BY span_key")]
    store.write(lambda cur: [_human(cur, k, "ana", 5, T0) for k in keys])
    f = G.GoldenFilter(correct_at=4)
    v1 = G.build(store, "stable", f, "lead")
    again = G.build(store, "stable", f, "lead")
    assert v1.created and not again.created
    assert again.version.version == 1 and again.version.content_hash == v1.version.content_hash
    # Change one grade (a superseding edit), add a correction elsewhere, drop a third row.
    gid = store.scalar("SELECT grade_id FROM grades WHERE span_key = ?", [keys[0]])
    store.write(lambda cur: (_human(cur, keys[0], "ana", 4, T0 + timedelta(1), supersedes=gid),
                             _correct(cur, keys[1], "even better", "ben", T0 + timedelta(1)),
                             _human(cur, keys[2], "ben", 1, T0 + timedelta(1)),
                             _human(cur, keys[2], "chloe", 1, T0 + timedelta(1))))
    v2 = G.build(store, "stable", f, "lead")
    assert v2.created and v2.version.version == 2
    assert v2.version.content_hash != v1.version.content_hash
    d = G.diff(store, "stable", 1, 2)
    assert d.removed["row_key"].tolist() == [f"span:{keys[2]}"]
    assert d.added.empty
    changed = d.changed.set_index("row_key")
    assert set(changed.index) == {f"span:{keys[0]}", f"span:{keys[1]}"}
    assert "label" in changed.loc[f"span:{keys[0]}", "fields"]
    assert "expected_output" in changed.loc[f"span:{keys[1]}", "fields"]
    assert d.unchanged == 17
    # The old version still reads as it was.
    old = G.rows(store, G.get_version(store, "stable", 1))
    assert len(old) == 20 and set(old["label"]) == {"5"}
    assert store.scalar("SELECT count(*) FROM audit_log WHERE action = 'golden.version'") == 2


def test_only_leads_build_and_names_are_plain(store):
    synthetic_spans(store, 5, seed=7)
    write_roles(store, "leads: [ana]\nreviewers: [ben]\n")
    with pytest.raises(PermissionDenied):
        G.build(store, "x", G.GoldenFilter(), "ben")
    G.build(store, "x", G.GoldenFilter(), "ana")
    for bad in ("../up", "a/b", "", "Über"):
        with pytest.raises(FilterError):
            G.build(store, bad, G.GoldenFilter(), "ana")
    with pytest.raises(FilterError, match="source"):
        G.GoldenFilter(source="vibes")
    with pytest.raises(G.DatasetNotFound):
        G.get_version(store, "nothing")


def test_filter_round_trips_through_a_dict():
    f = G.GoldenFilter(source="consensus", min_reviewers=3, apps=("a",), queue_ids=(4,),
                       start=T0, end=T0 + timedelta(1), correct_labels=("on-brand",))
    assert G.GoldenFilter.from_dict(f.to_dict()) == f


def _grade(cur, target_type: str, target_id: str, criterion: str, **value) -> None:
    review_sql.insert_human_grades(cur, [{
        "target_type": target_type, "target_id": target_id, "criterion": criterion,
        "source": "human", "author_kind": "reviewer", "author_id": "ana",
        "rubric_name": "r", "rubric_version": "v1", "created_at": T0, **value}])


def test_sessions_items_and_comparisons_become_rows(store):
    t = [T0 + timedelta(minutes=i) for i in range(3)]
    from goldenloop.ingest.loader import import_table

    import_table(store, pa.table({   # one conversation: two LLM turns and a tool step last
        "trace_id": ["a", "b", "b"], "span_id": ["1", "1", "2"], "session_id": ["s1"] * 3,
        "kind": ["llm", "llm", "tool"], "app": ["bot"] * 3,
        "start_time": pa.array(t, pa.timestamp("us")),
        "end_time": pa.array([x + timedelta(seconds=1) for x in t], pa.timestamp("us")),
        "status": ["ok"] * 3, "last_user_message": ["hi", "and then?", None],
        "output": ["first answer", "last answer", "tool result"]}), source="t", origin="t")

    def write(cur):
        cur.execute("""INSERT INTO items VALUES ('it1', 'evalset', 'What is 2+2?', '4', '4',
                                                  NULL, ?)""", [T0])
        cur.execute("""INSERT INTO comparisons VALUES ('cmp1', 'Say hi', 'reference', NULL,
                       'hello there', 'reference', NULL, 'go away', 'BA', NULL, ?)""", [T0])
        cur.execute("""INSERT INTO comparisons VALUES ('cmp2', 'Say bye', 'reference', NULL,
                       'bye', 'reference', NULL, 'ciao', 'AB', NULL, ?)""", [T0])
        _grade(cur, "session", "s1", "correctness", value_number=5.0)
        _grade(cur, "item", "it1", "correctness", value_number=4.0)
        _grade(cur, "comparison", "cmp1", "preference", value_label="A better")
        _grade(cur, "comparison", "cmp2", "preference", value_label="tie")

    store.write(write)
    rows = G.rows(store, G.build(store, "mixed", G.GoldenFilter(correct_at=4), "lead").version)
    by_key = rows.set_index("row_key")
    assert by_key.loc["session:s1", "expected_output"] == "last answer"   # the last LLM turn
    assert by_key.loc["session:s1", "input"] == "and then?"
    assert by_key.loc["item:it1", ["input", "expected_output"]].tolist() == ["What is 2+2?", "4"]
    pref = G.build(store, "prefs", G.GoldenFilter(criterion="preference"), "lead")
    prow = G.rows(store, pref.version).set_index("row_key")
    assert list(prow.index) == ["comparison:cmp1"]                      # a tie gives no row
    assert prow.loc["comparison:cmp1", ["expected_output", "rejected_output"]].tolist() == [
        "hello there", "go away"]
    assert pref.counts["left_out"] == {"no acceptable expected output": 1}
