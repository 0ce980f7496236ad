"""Which rubric versions meet: grades under two versions of one rubric are compared when the
criterion's scale is the same in both (instructions and descriptions may differ), and never
when the scale changed."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from openai_loopback import judged_text, openai_server, verdict
from review_support import demo_store, demo_template  # noqa: F401  (fixtures)

from goldenloop import judge, rubric
from goldenloop.agreement import criterion_agreement
from goldenloop.agreement import criterion_report as page_data
from goldenloop.agreement import sql as q
from goldenloop.agreement.gate import default_rule
from goldenloop.ingest.loader import import_table
from goldenloop.store.grades import insert_criteria, insert_grades

T0 = datetime(2026, 2, 1)
SPANS = ("s1", "s2", "s3", "s4")


def _criteria(store, version: str, *, created_h: int, value_type: str = "ordinal",
              lo: float | None = 1.0, hi: float | None = 5.0, labels=None,
              instructions: str = "Is it right?") -> None:
    store.write(insert_criteria, pa.table({
        "rubric_name": ["r"], "rubric_version": [version], "name": ["quality"],
        "value_type": [value_type], "min_value": pa.array([lo], pa.float64()),
        "max_value": pa.array([hi], pa.float64()),
        "labels": pa.array([labels], pa.list_(pa.string())),
        "instructions": [instructions],
        "created_at": pa.array([T0 + timedelta(hours=created_h)], pa.timestamp("us"))}))


def _grades(store, keys: dict, version: str, source: str, author: str, values: list) -> None:
    n = len(values)
    cols = {"target_type": ["span"] * n, "span_key": [keys[s] for s in SPANS[:n]],
            "criterion": ["quality"] * n, "value_number": [float(v) for v in values],
            "source": [source] * n, "author_id": [author] * n,
            "author_kind": ["reviewer" if source == "human" else "judge"] * n,
            "rubric_name": ["r"] * n, "rubric_version": [version] * n,
            "created_at": pa.array([T0 + timedelta(days=1)] * n, pa.timestamp("us"))}
    if source == "judge":
        cols |= {"judge_name": ["jj"] * n, "judge_version": [f"jj-{version}"] * n}
    store.write(insert_grades, pa.table(cols))


@pytest.fixture
def spans(store) -> dict:
    n = len(SPANS)
    import_table(store, pa.table({
        "trace_id": [f"t{i}" for i in range(n)], "span_id": list(SPANS), "kind": ["llm"] * n,
        "start_time": pa.array([T0] * n, pa.timestamp("us")),
        "end_time": pa.array([T0 + timedelta(seconds=1)] * n, pa.timestamp("us")),
        "status": ["ok"] * n}), source="test", origin="test")
    return dict(store.rows("SELECT span_id, span_key FROM spans"))


@pytest.mark.slow
def test_new_version_with_the_same_scale_pairs_with_grades_of_the_old(store, spans):
    _criteria(store, "old", created_h=0)
    _criteria(store, "new", created_h=5, instructions="Reworded: is the answer correct?")
    _grades(store, spans, "old", "human", "ana", [1, 2, 4, 5])
    _grades(store, spans, "new", "judge", "jj", [1, 3, 4, 4])
    pairs = q.judge_human_pairs(store, "quality", rubric_name="r")
    assert len(pairs) == 4
    assert set(pairs["rubric_version"]) == {"new"} and set(pairs["human_rubric_version"]) == {"old"}
    res = criterion_agreement(store, "quality", n_resamples=20)
    each = res.judges[res.judges.comparison == "each human"].set_index("statistic")
    # Independent count: the judge matches ana on spans 1 and 3.
    h, j = np.array([1, 2, 4, 5]), np.array([1, 3, 4, 4])
    assert each.loc["percent_agreement", "value"] == pytest.approx((h == j).mean())
    assert each.loc["percent_agreement", "n"] == 4
    # The criterion is offered once, across both versions.
    crit = page_data.criteria(store)
    assert len(crit) == 1 and crit.loc[0, "rubric_version"] is None
    assert list(crit.loc[0, "rubric_versions"]) == ["new", "old"]
    page = page_data.agreement_page(store, page_data.PageQuery(
        page_data.PageFilter("quality", "r", None),
        default_rule("ordinal"), n_resamples=20))
    assert page.n_pairs == 4
    # A frame may spell the missing version as NaN: it still means "no version filter".
    assert page_data.choices(store, "quality", "r", float("nan")).judges == [("jj", "jj-new")]
    # Naming a version keeps both sides to it: neither version alone has both kinds.
    for version in ("old", "new"):
        assert q.judge_human_pairs(store, "quality", rubric_name="r",
                                   rubric_version=version).empty


@pytest.mark.parametrize("change", [
    {"lo": 1.0, "hi": 3.0},                                              # other levels
    {"value_type": "nominal", "lo": None, "hi": None, "labels": ["1", "2", "3", "4", "5"]},
    {"labels": ["1", "2", "3", "5", "4"]},                               # other label order
])
@pytest.mark.slow
def test_a_changed_scale_does_not_pair(store, spans, change):
    _criteria(store, "old", created_h=0)
    _criteria(store, "new", created_h=5, **change)
    _grades(store, spans, "old", "human", "ana", [1, 2, 3, 3])
    _grades(store, spans, "new", "judge", "jj", [1, 2, 3, 3])
    assert q.judge_human_pairs(store, "quality", rubric_name="r").empty
    # Without a version, only grades under the current (new) scale count.
    live = q.live_grades(store, "quality", rubric_name="r")
    assert set(live["rubric_version"]) == {"new"} and set(live["side"]) == {"judge"}
    # The old version is still there by name, its grades compared only among themselves.
    assert set(q.live_grades(store, "quality", rubric_name="r", rubric_version="old")
               ["author_id"]) == {"ana"}
    assert page_data.criteria(store).empty


@pytest.mark.slow
def test_graded_criteria_offers_an_old_scale_by_its_version(store, spans):
    _criteria(store, "old", created_h=0)
    _criteria(store, "new", created_h=5, lo=0.0, hi=10.0)
    _grades(store, spans, "old", "human", "ana", [1, 2, 3, 3])
    _grades(store, spans, "old", "judge", "jj", [1, 2, 3, 4])
    _grades(store, spans, "new", "human", "ben", [7, 8])
    crit = page_data.criteria(store)
    assert crit[["rubric_version", "human_grades", "judge_grades"]].values.tolist() == \
        [["old", 4, 4]]
    res = criterion_agreement(store, "quality", rubric_name="r", rubric_version="old",
                              n_resamples=20)
    each = res.judges[res.judges.comparison == "each human"].set_index("statistic")
    assert each.loc["percent_agreement", "value"] == pytest.approx(0.75)


@pytest.mark.slow
def test_packaged_judge_run_today_pairs_with_demo_reviewers(demo_store, monkeypatch):  # noqa: F811
    store = demo_store
    graded = store.df("""SELECT DISTINCT span_key FROM grades
                         WHERE source = 'human' AND criterion = 'correctness'
                           AND rubric_version = 'demo-1' AND span_key IS NOT NULL
                         ORDER BY span_key LIMIT 40""")
    keys = [int(k) for k in graded["span_key"]]
    assert len(keys) == 40

    def script(body):
        return verdict(reason="scripted", score=1 + len(judged_text(body, "output") or "") % 5)

    with openai_server(script) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        j = judge.get(store, "correctness")
        r = judge.run(store, j, judge.from_spans(store, keys), judge.RunOptions(
            retry=judge.Retry(max_attempts=3, base_s=0.01, cap_s=0.05), concurrency=4))
    assert (r.judged, r.failed) == (40, 0)
    # Agreement reads the run's rubric version's scale from ``criteria``: a run does not
    # store it today, creating a queue or editing a rubric does (rubric.sync). A grade under
    # a version the store does not define meets only grades of its own version.
    rubric.sync(store)
    assert j.rubric.version != "demo-1"  # the packaged rubric's content hash
    res = criterion_agreement(store, "correctness", rubric_name="default", n_resamples=20)
    mine = res.pairs[(res.pairs.judge_name == "correctness")
                     & (res.pairs.judge_version == j.version)]
    assert set(mine["rubric_version"]) == {j.rubric.version}
    assert set(mine["human_rubric_version"]) == {"demo-1"}
    assert set(mine["span_key"]) == set(keys)
    row = res.judges[(res.judges.judge_version == j.version)
                     & (res.judges.comparison == "each human")
                     & (res.judges.statistic == "percent_agreement")].iloc[0]
    assert row["n"] == len(mine) >= 40
    # The demo's own judge still pairs with the same reviewers.
    assert (res.pairs.judge_name == "demo-judge").any()
