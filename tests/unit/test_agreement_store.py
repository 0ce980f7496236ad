"""Judge–human and human–human pairs built by SQL from grades on a real store: superseded
and re-graded grades, N/A and flagged grades, several reviewers and judge versions, span,
trace and session targets; then the demo history end to end."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from goldenloop import demo
from goldenloop.agreement import AgreementError, criterion_agreement, overview
from goldenloop.agreement import sql as q
from goldenloop.agreement.multi import mean_pairwise, reviewer_pairs
from goldenloop.ingest.loader import import_table
from goldenloop.store.grades import insert_criteria, insert_grades

T0 = datetime(2026, 3, 2, 9, 0)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def add_spans(store) -> dict[str, int]:
    spans = pa.table({
        "trace_id": ["t1", "t1", "t3", "t4"], "span_id": ["s1", "s2", "s3", "s4"],
        "session_id": ["A", "A", "B", "C"],
        "app": ["support-bot", "support-bot", "sql-assistant", "support-bot"],
        "model_version": ["m1", "m1", "m2", "m1"], "kind": ["llm"] * 4,
        "start_time": pa.array([at(0), at(1), at(2), at(3)], pa.timestamp("us")),
        "output": ["a", "b", "c", "d"],
    })
    import_table(store, spans, source="test", origin="test")
    return dict(store.rows("SELECT span_id, span_key FROM spans"))


def add_criteria(store) -> None:
    store.write(insert_criteria, pa.table({
        "rubric_name": ["r", "r", "r", "r"], "rubric_version": ["v1", "v1", "v1", "v2"],
        "name": ["quality", "summary", "safe", "quality"],
        "value_type": ["ordinal", "text", "boolean", "ordinal"],
        "min_value": [1.0, None, None, 1.0], "max_value": [5.0, None, None, 5.0],
    }))


def grade(key, value, source, author, hours, **extra) -> dict:
    row = {"target_type": "span", "span_key": key, "criterion": "quality",
           "value_number": float(value) if value is not None else None, "source": source,
           "author_kind": "reviewer" if source == "human" else "judge", "author_id": author,
           "rubric_name": "r", "rubric_version": "v1", "created_at": at(hours)}
    if source == "judge":
        row |= {"judge_name": "jj", "judge_version": extra.pop("version", "v1")}
    return row | extra


def insert(store, rows: list[dict]) -> list[int]:
    cols = sorted({k for r in rows for k in r})
    table = pa.table({c: [r.get(c) for r in rows] for c in cols})
    before = store.scalar("SELECT coalesce(max(grade_id), 0) FROM grades")
    store.write(insert_grades, table)
    return [g for (g,) in store.rows("SELECT grade_id FROM grades WHERE grade_id > ? "
                                     "ORDER BY grade_id", [before])]


@pytest.fixture
def graded(store):
    k = add_spans(store)
    add_criteria(store)
    s1, s2, s3, s4 = k["s1"], k["s2"], k["s3"], k["s4"]
    ids = insert(store, [
        grade(s1, 2, "human", "ana", 10),        # 0: edited below
        grade(s1, 3, "human", "ben", 10),        # re-graded later without supersedes
        grade(s1, 5, "human", "ben", 20),
        grade(s2, 3, "human", "ana", 10),
        grade(s2, 3, "human", "ben", 11),
        grade(s2, 1, "human", "dev", 10),        # 5: start of a chain of edits
        grade(s3, None, "human", "ana", 10, not_applicable=True),
        grade(s3, 5, "human", "ben", 10, flagged=True),
        grade(s4, 1, "human", "ana", 10),        # 8: ends as N/A below
        grade(s1, 4, "judge", "jj", 1), grade(s2, 2, "judge", "jj", 1),
        grade(s3, 5, "judge", "jj", 1), grade(s4, 1, "judge", "jj", 1),
        grade(s1, 3, "judge", "jj", 2, version="v2"),
        grade(s2, 5, "human", "lead", 30, is_adjudication=True),
        grade(s1, 1, "human", "ana", 12, rubric_version="v2"),   # another rubric version
        grade(None, 4, "human", "ana", 5, target_type="session", target_id="B"),
        grade(None, 4, "judge", "jj", 5, target_type="session", target_id="B"),
        grade(None, 2, "human", "ana", 5, target_type="trace", target_id="t3"),
        grade(None, 3, "judge", "jj", 5, target_type="trace", target_id="t3"),
        grade(s1, 1, "canary", "probe", 5),      # canary results are not agreement grades
    ])
    edits = insert(store, [
        grade(s1, 4, "human", "ana", 15, supersedes=ids[0]),
        grade(s2, 2, "human", "dev", 15, supersedes=ids[5]),
        grade(s4, None, "human", "ana", 15, supersedes=ids[8], not_applicable=True),
    ])
    insert(store, [grade(s2, 3, "human", "dev", 16, supersedes=edits[1])])
    eve = insert(store, [grade(s2, 4, "human", "eve", 10)])
    undo = insert(store, [grade(s2, None, "human", "eve", 12, supersedes=eve[0])])
    # insert_grades has no column for it yet: mark the undo as the review module will.
    store.write(lambda cur: cur.execute("UPDATE grades SET retracted = true WHERE grade_id = ?",
                                        undo))
    return store


def test_pairs_take_the_latest_live_grade_of_each_author(graded):
    p = q.judge_human_pairs(graded, "quality", rubric_name="r", rubric_version="v1")
    got = {(r.judge_version, r.item, r.reviewer): (r.human, r.judge) for r in p.itertuples()}
    k = dict(graded.rows("SELECT span_id, span_key FROM spans"))
    s1, s2 = f"span:{k['s1']}", f"span:{k['s2']}"
    assert got == {
        ("v1", s1, "ana"): (4.0, 4.0),           # the edit replaced 2
        ("v1", s1, "ben"): (5.0, 4.0),           # the later of two grades
        ("v1", s2, "ana"): (3.0, 2.0),
        ("v1", s2, "ben"): (3.0, 2.0),
        ("v1", s2, "dev"): (3.0, 2.0),           # end of a chain 1 -> 2 -> 3
        ("v1", "session:B", "ana"): (4.0, 4.0),
        ("v1", "trace:t3", "ana"): (2.0, 3.0),
        ("v2", s1, "ana"): (4.0, 3.0),
        ("v2", s1, "ben"): (5.0, 3.0),
    }  # s3: N/A and flagged; s4: the last word was N/A; eve: retracted; lead: adjudication;
    # canary results are not agreement grades


def test_pairs_carry_slicing_columns_and_sessions_as_clusters(graded):
    p = q.judge_human_pairs(graded, "quality", rubric_name="r", rubric_version="v1")
    by_item = p.drop_duplicates("item").set_index("item")
    k = dict(graded.rows("SELECT span_id, span_key FROM spans"))
    s1 = by_item.loc[f"span:{k['s1']}"]
    assert (s1.cluster, s1.app, s1.model_version, s1.start_time) == (
        "session:A", "support-bot", "m1", at(0))
    assert by_item.loc["trace:t3", "cluster"] == "session:B"  # via the trace's span
    assert by_item.loc["trace:t3", "model_version"] == "m2"
    assert by_item.loc["session:B", "cluster"] == "session:B"


@pytest.mark.slow
def test_adjudication_grades_only_when_asked(graded):
    plain = q.human_human_pairs(graded, "quality", rubric_name="r", rubric_version="v1")
    assert sorted(zip(plain.reviewer_a, plain.reviewer_b, strict=True)) == [
        ("ana", "ben"), ("ana", "ben"), ("ana", "dev"), ("ben", "dev")]
    withadj = q.human_human_pairs(graded, "quality", rubric_name="r", rubric_version="v1",
                                  adjudication=True)
    assert len(withadj) == len(plain) + 3  # lead paired with ana, ben and dev on s2


@pytest.mark.slow
def test_live_grades_of_one_scale_keep_each_authors_latest_across_versions(graded):
    # v1 and v2 define "quality" on the same 1-5 scale: ana's v2 grade (hour 12) and her
    # edited v1 grade (hour 15) are two grades of one target, and the latest counts.
    g = q.live_grades(graded, "quality")
    ana_s1 = g[(g.author_id == "ana") & (g.item.str.startswith("span:"))
               & (g.target_id == g.target_id.min())]
    assert ana_s1[["rubric_version", "value"]].values.tolist() == [["v1", 4.0]]
    # Naming a version keeps both sides to it.
    v2 = q.live_grades(graded, "quality", rubric_name="r", rubric_version="v2")
    assert v2[["author_id", "value"]].values.tolist() == [["ana", 1.0]]


@pytest.mark.slow
def test_criterion_agreement_on_hand_grades(graded):
    res = criterion_agreement(graded, "quality", rubric_name="r", rubric_version="v1",
                              n_resamples=50)
    assert set(res.judges["judge_version"]) == {"v1", "v2"}
    v1 = res.judges[(res.judges.judge_version == "v1") & (res.judges.comparison == "each human")]
    assert (v1["n"] == 7).all() and (v1["n_items"] == 4).all() and (v1["n_clusters"] == 2).all()
    pa_ = v1.set_index("statistic").loc["percent_agreement", "value"]
    assert pa_ == pytest.approx(2 / 7)
    assert res.confusion[("jj", "v1")].to_numpy().sum() == 7
    assert res.humans.set_index("statistic").loc["krippendorff_alpha", "n_items"] == 2


@pytest.mark.slow
def test_criterion_without_grades_gives_empty_frames(graded):
    res = criterion_agreement(graded, "safe", n_resamples=10)
    assert res.judges.empty and "statistic" in res.judges.columns
    assert res.humans["value"].isna().all() and res.confusion == {}
    assert res.slices("app").empty


@pytest.mark.slow
def test_criterion_errors_are_named(graded):
    graded.write(insert_criteria, pa.table({
        "rubric_name": ["other"], "rubric_version": ["1"], "name": ["quality"],
        "value_type": ["nominal"], "labels": [["good", "bad"]]}))
    with pytest.raises(AgreementError, match="several rubrics"):
        criterion_agreement(graded, "quality")
    with pytest.raises(AgreementError, match="free text"):
        criterion_agreement(graded, "summary")
    with pytest.raises(AgreementError, match="not defined"):
        criterion_agreement(graded, "kindness")


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from goldenloop.schema import open_store

    s = open_store(tmp_path_factory.mktemp("demo") / "goldenloop.duckdb")
    demo.generate(s, spans=5000)
    yield s
    s.close()


@pytest.mark.slow
def test_demo_correctness_agreement_is_high_but_imperfect(demo_store):
    res = criterion_agreement(demo_store, "correctness", n_resamples=500)
    each = res.judges[res.judges.comparison == "each human"].set_index("statistic")
    qwk = each.loc["weighted_kappa_quadratic"]
    assert 0.7 < qwk.value < 0.98 and qwk.ci_low < qwk.value < qwk.ci_high
    assert each.loc["percent_agreement", "value"] < 0.9  # imperfect: judge and humans err
    assert each.loc["krippendorff_alpha", "value"] > 0.6
    t = res.confusion[next(iter(res.confusion))].to_numpy()
    assert np.triu(t, 1).sum() > 2 * np.tril(t, -1).sum()  # the demo judge is lenient
    assert res.humans.set_index("statistic").loc["krippendorff_alpha", "n_items"] > 5
    assert (each["n"] == demo_store.scalar(
        "SELECT count(*) FROM grades WHERE source = 'human' AND criterion = 'correctness'")).all()


def test_demo_sql_and_pandas_reviewer_pairs_agree(demo_store):
    res = criterion_agreement(demo_store, "correctness", n_resamples=0)
    sql = q.human_human_pairs(demo_store, "correctness")
    sql = sql.assign(a=res.scale.encode(sql["a"]), b=res.scale.encode(sql["b"]))
    g = q.live_grades(demo_store, "correctness")
    g = g[g.side == "human"].rename(columns={"author_id": "reviewer"})
    mine = reviewer_pairs(g.assign(_v=res.scale.encode(g["value"])), cluster="cluster")
    a = mean_pairwise(res.scale, sql, min_shared=1, n_resamples=0)
    b = mean_pairwise(res.scale, mine, min_shared=1, n_resamples=0)
    assert len(sql) == len(mine) > 0
    assert a["value"][0] == pytest.approx(b["value"][0])


@pytest.mark.slow
def test_demo_overview_and_slices(demo_store):
    ov = overview(demo_store, n_resamples=100)
    assert set(ov["criterion"]) == {"correctness", "tone"}
    assert ov["judge_alpha"].between(0, 1).all()
    res = criterion_agreement(demo_store, "tone", n_resamples=100)
    by_app = res.slices("app")
    assert set(by_app["slice_value"]) == {"support-bot"}  # tone is graded on the chatbot only
    weekly = res.slices("time", window="7D", statistics=["cohen_kappa"])
    assert weekly["small"].any() and len(weekly) >= 4
